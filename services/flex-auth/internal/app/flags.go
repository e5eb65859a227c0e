package app

import (
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/stellaops/authgate/services/flex-auth/internal/config"
)

// flags are the command-line overrides; only flags given are applied.
type flags struct {
	fs     *flag.FlagSet
	config string
	c      config.Config
}

func newFlags() *flags {
	f := &flags{fs: flag.NewFlagSet("serve", flag.ContinueOnError)}
	f.fs.StringVar(&f.config, "config", "", "YAML configuration file (env "+config.EnvConfigFile+")")
	f.fs.StringVar(&f.c.Server.Addr, "addr", config.DefaultAddr, "listen address")
	f.fs.StringVar(&f.c.Server.DebugAddr, "debug-addr", "", "serve net/http/pprof on this address (loopback only, e.g. 127.0.0.1:6060); off when empty")
	f.fs.BoolVar(&f.c.Server.DebugAllowRemote, "debug-allow-remote", false, "accept a --debug-addr that is not loopback (pprof is unauthenticated)")
	f.fs.StringVar(&f.c.Registry, "registry", "", "registry snapshot JSON file")
	f.fs.Var(&policyFlag{c: &f.c}, "policy", "policy package Markdown file, or a directory of them; repeat for several packages")
	f.fs.StringVar(&f.c.Data, "data", "", "entity data document (JSON or YAML) that authzen packages read")
	f.fs.StringVar(&f.c.DecisionLog.File, "log", "", "decision log file (JSON Lines)")
	f.fs.StringVar(&f.c.DecisionLog.Sync, "log-sync", string(config.DefaultSync), "decision log durability: always, batch or off")
	f.fs.BoolVar(&f.c.Reload.Watch, "watch", false, "reload when the registry or policy file changes")
	f.fs.StringVar(&f.c.LogLevel, "log-level", config.DefaultLogLevel, "process log level: debug, info, warn, error")
	return f
}

// apply copies the flags that were set onto c.
func (f *flags) apply(c *config.Config) {
	f.fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "addr":
			c.Server.Addr = f.c.Server.Addr
		case "debug-addr":
			c.Server.DebugAddr = f.c.Server.DebugAddr
		case "debug-allow-remote":
			c.Server.DebugAllowRemote = f.c.Server.DebugAllowRemote
		case "registry":
			c.Registry = f.c.Registry
		case "policy":
			c.Policy, c.Policies = f.c.Policy, f.c.Policies
		case "data":
			c.Data = f.c.Data
		case "log":
			c.DecisionLog.File = f.c.DecisionLog.File
		case "log-sync":
			c.DecisionLog.Sync = f.c.DecisionLog.Sync
		case "watch":
			c.Reload.Watch = f.c.Reload.Watch
		case "log-level":
			c.LogLevel = f.c.LogLevel
		}
	})
}

// LoadConfig parses the serve flags and loads the configuration (see
// config.Load) from the YAML file (--config or FLEX_AUTH_CONFIG), the
// FLEX_AUTH_ variables and the flags given. A usage problem is a
// *UsageError.
func LoadConfig(args, environ []string) (config.Config, error) {
	f := newFlags()
	f.fs.SetOutput(discard{})
	if err := f.fs.Parse(args); err != nil {
		return config.Config{}, &UsageError{Err: err}
	}
	if f.fs.NArg() > 0 {
		return config.Config{}, &UsageError{Err: fmt.Errorf("unexpected argument %q", f.fs.Arg(0))}
	}
	file := f.config
	if file == "" {
		file = lookup(environ, config.EnvConfigFile)
	}
	return config.Load(file, environ, f.apply)
}

// UsageError is a malformed command line.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Usage prints the flags.
func Usage(w interface{ Write([]byte) (int, error) }) {
	f := newFlags()
	f.fs.SetOutput(w)
	f.fs.PrintDefaults()
}

type discard struct{}

func (discard) Write(b []byte) (int, error) { return len(b), nil }

func lookup(environ []string, key string) string {
	v := ""
	for _, kv := range environ {
		if len(kv) > len(key) && kv[:len(key)] == key && kv[len(key)] == '=' {
			v = kv[len(key)+1:]
		}
	}
	return v
}

// policyFlag collects repeated --policy flags: the first is Policy, the
// others Policies.
type policyFlag struct{ c *config.Config }

func (p *policyFlag) String() string {
	if p == nil || p.c == nil {
		return ""
	}
	return strings.Join(append([]string{p.c.Policy}, p.c.Policies...), ",")
}

func (p *policyFlag) Set(v string) error {
	if v == "" {
		return errors.New("empty path")
	}
	if p.c.Policy == "" {
		p.c.Policy = v
		return nil
	}
	p.c.Policies = append(p.c.Policies, v)
	return nil
}
