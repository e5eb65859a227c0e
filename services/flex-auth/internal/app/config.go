// Package app runs the flex-auth decision service: configuration, the
// decision log, the engine, the HTTP server, signals and shutdown.
package app

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/stellaops/authgate/pkg/jwks"
	"github.com/stellaops/authgate/pkg/konfig"
	"github.com/stellaops/authgate/services/flex-auth/internal/decisionlog"
)

// Defaults.
const (
	DefaultAddr          = "0.0.0.0:8080"
	DefaultSync          = decisionlog.SyncBatch
	DefaultDebounce      = 500 * time.Millisecond
	DefaultLogLevel      = "info"
	EnvPrefix            = "FLEX_AUTH_"
	EnvConfigFile        = "FLEX_AUTH_CONFIG"
	DefaultRequiredScope = "flex-auth.check"
	DefaultDPoPMaxAge    = 60 * time.Second
	DefaultDPoPClockSkew = 5 * time.Second
)

// Config is the flex-auth serve configuration (configs/flex-auth.yaml).
// Every key can be set by FLEX_AUTH_<SECTION>__<KEY>, and the common ones
// by flags.
type Config struct {
	Server   ServerConfig `koanf:"server"`
	Registry string       `koanf:"registry"`
	Policy   string       `koanf:"policy"`
	// Policies are more packages (files or directories) beside Policy.
	Policies []string `koanf:"policies"`
	// Data is the optional entity data document (JSON or YAML).
	Data        string            `koanf:"data"`
	DecisionLog DecisionLogConfig `koanf:"decisionLog"`
	Reload      ReloadConfig      `koanf:"reload"`
	LogLevel    string            `koanf:"logLevel"`
	Auth        AuthConfig        `koanf:"auth"`
}

// ServerConfig is the listener.
type ServerConfig struct {
	Addr string `koanf:"addr"`
	// DebugAddr, when set, serves net/http/pprof there (profiling for
	// operators; bind it to loopback only). Off when empty.
	DebugAddr string `koanf:"debugAddr"`
	// DebugAllowRemote acknowledges a DebugAddr that is not loopback:
	// pprof is unauthenticated, so anything else is refused without it.
	DebugAllowRemote bool `koanf:"debugAllowRemote"`
	// TLS, when certFile and keyFile are set, serves HTTPS; with
	// clientCaFile it verifies client certificates (for certificate-bound
	// caller tokens).
	TLS TLSConfig `koanf:"tls"`
}

// TLSConfig is the optional TLS of the listener.
type TLSConfig struct {
	CertFile     string `koanf:"certFile"`
	KeyFile      string `koanf:"keyFile"`
	ClientCAFile string `koanf:"clientCaFile"`
}

// Enabled reports whether the listener serves TLS.
func (t TLSConfig) Enabled() bool { return t.CertFile != "" || t.KeyFile != "" }

// validate checks that the files come together and can be read.
func (t TLSConfig) validate() []error {
	var errs []error
	if (t.CertFile == "") != (t.KeyFile == "") {
		errs = append(errs, errors.New("server.tls: certFile and keyFile must be set together"))
	}
	if t.ClientCAFile != "" && !t.Enabled() {
		errs = append(errs, errors.New("server.tls.clientCaFile: requires certFile and keyFile"))
	}
	for _, f := range []struct{ key, path string }{
		{"certFile", t.CertFile}, {"keyFile", t.KeyFile}, {"clientCaFile", t.ClientCAFile},
	} {
		if f.path == "" {
			continue
		}
		if err := readable(f.path); err != nil {
			errs = append(errs, fmt.Errorf("server.tls.%s: %w", f.key, err))
		}
	}
	return errs
}

// readable reports whether path is a regular file that can be opened.
func readable(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", path)
	}
	return nil
}

// DecisionLogConfig is the decision log.
type DecisionLogConfig struct {
	File string `koanf:"file"`
	Sync string `koanf:"sync"`
}

// ReloadConfig controls reloading on file changes (SIGHUP always reloads).
type ReloadConfig struct {
	Watch    bool          `koanf:"watch"`
	Debounce time.Duration `koanf:"debounce"`
}

func defaults() Config {
	return Config{
		Server:      ServerConfig{Addr: DefaultAddr},
		DecisionLog: DecisionLogConfig{Sync: string(DefaultSync)},
		Reload:      ReloadConfig{Debounce: DefaultDebounce},
		LogLevel:    DefaultLogLevel,
		Auth: AuthConfig{RequireHTTPSMetadata: true, RequiredScopes: []string{DefaultRequiredScope},
			DPoPMaxAge: DefaultDPoPMaxAge, DPoPClockSkew: DefaultDPoPClockSkew,
			JWKSRefreshInterval: jwks.DefaultRefreshInterval, JWKSMaxStale: jwks.DefaultMaxStale,
			ReplayCache: ReplayCacheConfig{Backend: ReplayBackendMemory}},
	}
}

// Validate reports every problem at once.
func (c *Config) Validate() error {
	var errs []error
	if c.Server.Addr == "" {
		errs = append(errs, errors.New("server.addr (--addr) is required"))
	}
	errs = append(errs, c.Server.TLS.validate()...)
	if err := checkDebugAddr(c.Server.DebugAddr, c.Server.DebugAllowRemote); err != nil {
		errs = append(errs, err)
	}
	if c.Registry == "" {
		errs = append(errs, errors.New("registry (--registry) is required"))
	}
	if c.Policy == "" {
		errs = append(errs, errors.New("policy (--policy) is required"))
	}
	if c.DecisionLog.File == "" {
		errs = append(errs, errors.New("decisionLog.file (--log) is required"))
	}
	if _, err := decisionlog.ParseSyncMode(c.DecisionLog.Sync); err != nil {
		errs = append(errs, fmt.Errorf("decisionLog.sync (--log-sync): %w", err))
	}
	if c.Reload.Debounce <= 0 {
		errs = append(errs, errors.New("reload.debounce must be positive"))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("logLevel %q: must be debug, info, warn or error", c.LogLevel))
	}
	if c.Auth.PublicURL != "" {
		if err := checkPublicURL(c.Auth.PublicURL); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Auth.Enabled() {
		errs = append(errs, c.Auth.validate(c.Server.TLS)...)
	}
	return errors.Join(errs...)
}

// flags are the command-line overrides; only flags given are applied.
type flags struct {
	fs     *flag.FlagSet
	config string
	c      Config
}

func newFlags() *flags {
	f := &flags{fs: flag.NewFlagSet("serve", flag.ContinueOnError)}
	f.fs.StringVar(&f.config, "config", "", "YAML configuration file (env "+EnvConfigFile+")")
	f.fs.StringVar(&f.c.Server.Addr, "addr", DefaultAddr, "listen address")
	f.fs.StringVar(&f.c.Server.DebugAddr, "debug-addr", "", "serve net/http/pprof on this address (loopback only, e.g. 127.0.0.1:6060); off when empty")
	f.fs.BoolVar(&f.c.Server.DebugAllowRemote, "debug-allow-remote", false, "accept a --debug-addr that is not loopback (pprof is unauthenticated)")
	f.fs.StringVar(&f.c.Registry, "registry", "", "registry snapshot JSON file")
	f.fs.Var(&policyFlag{c: &f.c}, "policy", "policy package Markdown file, or a directory of them; repeat for several packages")
	f.fs.StringVar(&f.c.Data, "data", "", "entity data document (JSON or YAML) that authzen packages read")
	f.fs.StringVar(&f.c.DecisionLog.File, "log", "", "decision log file (JSON Lines)")
	f.fs.StringVar(&f.c.DecisionLog.Sync, "log-sync", string(DefaultSync), "decision log durability: always, batch or off")
	f.fs.BoolVar(&f.c.Reload.Watch, "watch", false, "reload when the registry or policy file changes")
	f.fs.StringVar(&f.c.LogLevel, "log-level", DefaultLogLevel, "process log level: debug, info, warn, error")
	return f
}

// apply copies the flags that were set onto c.
func (f *flags) apply(c *Config) {
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

// LoadConfig builds the configuration: defaults, then the YAML file
// (--config or FLEX_AUTH_CONFIG), then FLEX_AUTH_ variables, then flags;
// then Validate. A usage problem is a *UsageError.
func LoadConfig(args, environ []string) (Config, error) {
	f := newFlags()
	f.fs.SetOutput(discard{})
	if err := f.fs.Parse(args); err != nil {
		return Config{}, &UsageError{Err: err}
	}
	if f.fs.NArg() > 0 {
		return Config{}, &UsageError{Err: fmt.Errorf("unexpected argument %q", f.fs.Arg(0))}
	}
	file := f.config
	if file == "" {
		file = lookup(environ, EnvConfigFile)
	}
	var cfg Config
	loadErr := konfig.Load(defaults(), konfig.Source{File: file, EnvPrefix: EnvPrefix, Environ: environ,
		IgnoreEnv: []string{EnvConfigFile}}, &cfg)
	f.apply(&cfg)
	if err := errors.Join(loadErr, cfg.Validate()); err != nil {
		return Config{}, err
	}
	return cfg, nil
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
type policyFlag struct{ c *Config }

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
