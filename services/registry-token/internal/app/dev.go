package app

import (
	"context"
	"flag"
	"fmt"
	"net"
	"time"

	"github.com/stellaops/authgate/services/registry-token/internal/devauthority"
	"github.com/stellaops/authgate/services/registry-token/internal/devstack"
)

const devUsage = `usage: registry-token dev <command> [flags]

DEVELOPMENT ONLY: a local stack on 127.0.0.1 with an Authority that mints
OpToks for anyone who asks. Never part of "serve" or a production config.

commands:
  up      start flex-auth, the development Authority, registry-token and an
          in-memory registry; Ctrl-C stops them
  token   ask the development Authority for an OpTok bound to a DPoP key
  demo    push, pull, a denied push, the seed's token request and the
          flex-auth smoke against a running stack
`

// runDev dispatches "registry-token dev <command>".
func runDev(ctx context.Context, args []string, env Env) error {
	if len(args) == 0 {
		fmt.Fprint(env.Stderr, devUsage)
		return fmt.Errorf("%w: dev needs a command", ErrUsage)
	}
	switch args[0] {
	case "up":
		return devUp(ctx, args[1:], env)
	case "token":
		return devToken(ctx, args[1:], env)
	case "demo":
		return devDemo(ctx, args[1:], env)
	case "help", "-h", "--help":
		fmt.Fprint(env.Stdout, devUsage)
		return nil
	}
	fmt.Fprint(env.Stderr, devUsage)
	return fmt.Errorf("%w: unknown dev command %q", ErrUsage, args[0])
}

func parseDevFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", ErrUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", ErrUsage, fs.Arg(0))
	}
	return nil
}

func devUp(ctx context.Context, args []string, env Env) error {
	fs := flag.NewFlagSet("dev up", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	ports := devstack.DefaultPorts()
	o := devstack.Options{Environ: env.Environ}
	fs.StringVar(&o.ConfigFile, "config", devstack.DefaultConfigFile, "registry-token development configuration")
	fs.StringVar(&o.RunDir, "run-dir", devstack.DefaultRunDir, "directory for the signing key, JWKS and flex-auth logs (git-ignored)")
	fs.StringVar(&o.FlexAuthBin, "flex-auth-bin", devstack.DefaultFlexAuthBin, `flex-auth executable ("" leaves flex-auth out)`)
	fs.StringVar(&o.FlexAuthRegistry, "flex-auth-registry", devstack.DefaultFlexAuthRegistry, "flex-auth registry snapshot")
	fs.StringVar(&o.FlexAuthPolicy, "flex-auth-policy", devstack.DefaultFlexAuthPolicy, "flex-auth policy package")
	fs.IntVar(&ports.FlexAuth, "flex-auth-port", ports.FlexAuth, "flex-auth port (0: any free port)")
	fs.IntVar(&ports.Authority, "authority-port", ports.Authority, "development Authority port (0: any free port)")
	fs.IntVar(&ports.Token, "port", ports.Token, "registry-token port (0: any free port)")
	fs.IntVar(&ports.Registry, "registry-port", ports.Registry, "registry port (0: any free port)")
	if err := parseDevFlags(fs, args); err != nil {
		return err
	}
	o.Ports = ports
	o.RunService = func(ctx context.Context, args, environ []string, listening func(net.Addr)) error {
		return Run(ctx, Env{Args: args, Environ: environ, Stdout: env.Stdout, Stderr: env.Stderr, Listening: listening})
	}
	s, err := devstack.Up(ctx, o)
	if err != nil {
		return err
	}
	s.PrintSummary(env.Stdout)
	waitErr := s.Wait(ctx)
	fmt.Fprintln(env.Stdout, "stopping the development stack")
	closeErr := s.Close()
	if waitErr != nil {
		return waitErr
	}
	return closeErr
}

func devToken(ctx context.Context, args []string, env Env) error {
	fs := flag.NewFlagSet("dev token", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	authority := fs.String("authority", "http://127.0.0.1:8081", "development Authority base URL")
	keyFile := fs.String("key", devstack.DefaultClientKey, "DPoP client key (JWK or PEM; created with mode 0600 when absent)")
	var tr devauthority.TokenRequest
	fs.StringVar(&tr.Plan, "plan", "", "stellaops:plan claim (empty: registry-token's defaultPlan applies)")
	fs.StringVar(&tr.License, "license", "", "stellaops:license claim")
	fs.StringVar(&tr.Subject, "sub", "", "subject (default dev-user)")
	fs.DurationVar(&tr.TTL, "ttl", 0, "lifetime, at most 1h (default 5m)")
	if err := parseDevFlags(fs, args); err != nil {
		return err
	}
	key, created, err := devstack.LoadOrCreateClientKey(*keyFile)
	if err != nil {
		return err
	}
	if created {
		fmt.Fprintf(env.Stderr, "created DPoP client key %s (mode 0600)\n", *keyFile)
	}
	client := devstack.HTTPClient(30 * time.Second)
	defer client.CloseIdleConnections()
	resp, err := devauthority.RequestToken(ctx, client, devstack.TokenEndpoint(*authority), key.Key, key.Alg, tr)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(env.Stdout, resp.AccessToken)
	return err
}

func devDemo(ctx context.Context, args []string, env Env) error {
	fs := flag.NewFlagSet("dev demo", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	o := devstack.DemoOptions{Out: env.Stdout}
	fs.StringVar(&o.Registry, "registry", "localhost:5000", "registry host:port")
	fs.StringVar(&o.Realm, "token-url", "http://localhost:8085/token", "registry-token's token endpoint (the realm)")
	fs.StringVar(&o.Service, "service", devstack.DefaultService, "registry service name")
	fs.StringVar(&o.Authority, "authority", "http://127.0.0.1:8081", "development Authority base URL")
	fs.StringVar(&o.FlexAuthURL, "flex-auth", "http://127.0.0.1:8080", "flex-auth base URL")
	fs.StringVar(&o.FlexAuthBin, "flex-auth-bin", devstack.DefaultFlexAuthBin, `flex-auth executable for the smoke ("" skips it)`)
	fs.StringVar(&o.Actor, "actor", devstack.DefaultActor, "actor of the flex-auth smoke")
	if err := parseDevFlags(fs, args); err != nil {
		return err
	}
	return devstack.Demo(ctx, o)
}
