// Package app is the registry-token program: command-line parsing and the
// wiring of config, logger, meter, stores, domain services and the HTTP
// server.
package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/stellaops/authgate/pkg/subcmd"
	"github.com/stellaops/authgate/services/registry-token/internal/config"
	"github.com/stellaops/authgate/services/registry-token/internal/signing"
)

// ErrUsage wraps command-line mistakes (exit code 2).
var ErrUsage = errors.New("usage error")

// DefaultConfigFile is the --config default.
const DefaultConfigFile = "configs/registry-token.yaml"

// Env is the program's environment: arguments (without the program
// name), the process environment and the output streams.
type Env struct {
	Args           []string
	Environ        []string
	Stdout, Stderr io.Writer
	// Listening, when set, is called with the bound address once the
	// server accepts connections (tests use port 0).
	Listening func(addr net.Addr)
	// Signals, when set, replaces the process signals: SIGHUP reloads the
	// configuration. When nil, serve subscribes to SIGHUP.
	Signals <-chan os.Signal
}

// runFunc is a command: it gets the arguments after the command name.
type runFunc = func(ctx context.Context, env Env, args []string) error

// commands is the table of commands. Add new commands here.
func commands() subcmd.Table[runFunc] {
	return subcmd.Table[runFunc]{
		"serve": {
			Usage:   "[--config FILE] [--addr HOST:PORT] [--watch]",
			Summary: "run the token service; SIGHUP reloads the configuration",
			Run:     runServe,
		},
		"check-config": {
			Usage:   "[--config FILE]",
			Summary: "validate the configuration and print it with secrets redacted",
			Run:     checkConfig,
		},
		"jwks": {
			Usage:   "[--config FILE]",
			Summary: "print the public JWK Set of the signing keys: active, next and retired",
			Run:     printJWKS,
		},
	}
}

// Run runs one command. It returns nil on a clean shutdown after ctx is
// done; usage mistakes wrap ErrUsage.
func Run(ctx context.Context, env Env) error {
	if env.Stdout == nil {
		env.Stdout = io.Discard
	}
	if env.Stderr == nil {
		env.Stderr = io.Discard
	}
	table := commands()
	if len(env.Args) == 0 {
		table.PrintUsage(env.Stderr, "registry-token")
		return fmt.Errorf("%w: no command", ErrUsage)
	}
	if subcmd.IsHelp(env.Args[0]) {
		table.PrintUsage(env.Stdout, "registry-token")
		return nil
	}
	if cmd, args, ok := table.Find(env.Args); ok {
		return cmd.Run(ctx, env, args)
	}
	table.PrintUsage(env.Stderr, "registry-token")
	return fmt.Errorf("%w: unknown command %q", ErrUsage, env.Args[0])
}

func runServe(ctx context.Context, env Env, args []string) error {
	fs, file, addr := flags("serve", env.Stderr, true)
	watch := fs.Bool("watch", false, "also reload when the configuration, key or CA files change (reload.watch)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", ErrUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", ErrUsage, fs.Arg(0))
	}
	src := source{file: *file, environ: env.Environ, addr: *addr, watch: *watch}
	cfg, keys, err := src.load()
	if err != nil {
		return err
	}
	return serve(ctx, src, cfg, keys, env)
}

func flags(name string, stderr io.Writer, withAddr bool) (*flag.FlagSet, *string, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("config", DefaultConfigFile, "configuration file (YAML)")
	addr := new(string)
	if withAddr {
		fs.StringVar(addr, "addr", "", "listen address, overrides server.addr")
	}
	return fs, file, addr
}

func loadConfig(file string, environ []string) (config.Config, error) {
	cfg, err := config.Load(file, environ)
	if err != nil {
		return cfg, fmt.Errorf("configuration %s:\n%w", file, err)
	}
	return cfg, nil
}

// prepare loads the configuration and the signing keys before anything
// is started. The keys are loaded even when the configuration has
// problems (as long as it names key files), so that every problem of
// both is reported at once.
func prepare(file string, environ []string) (config.Config, *signing.Set, error) {
	cfg, cfgErr := loadConfig(file, environ)
	entries, keyErr := loadKeyEntries(cfg.Signing)
	if err := errors.Join(cfgErr, keyErr); err != nil {
		return cfg, nil, err
	}
	keys, err := signing.NewSet(entries)
	if err != nil {
		return cfg, nil, err
	}
	return cfg, keys, nil
}

func checkConfig(_ context.Context, env Env, args []string) error {
	fs, file, _ := flags("check-config", env.Stderr, false)
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", ErrUsage, err)
	}
	cfg, _, err := prepare(*file, env.Environ)
	if err != nil {
		return err
	}
	out, err := cfg.YAML()
	if err != nil {
		return err
	}
	_, err = env.Stdout.Write(out)
	return err
}

func printJWKS(_ context.Context, env Env, args []string) error {
	fs, file, _ := flags("jwks", env.Stderr, false)
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", ErrUsage, err)
	}
	_, keys, err := prepare(*file, env.Environ)
	if err != nil {
		return err
	}
	out, err := keys.PublicJWKS(time.Now())
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(env.Stdout, "%s\n", out)
	return err
}
