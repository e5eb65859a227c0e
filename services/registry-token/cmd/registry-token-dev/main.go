// Command registry-token-dev is the local development stack on 127.0.0.1:
// flex-auth, a development Authority, registry-token and an in-memory
// distribution registry, plus the client commands that drive them.
//
// DEVELOPMENT ONLY. The Authority mints OpToks for anyone who asks; none
// of this is part of the registry-token binary or its image.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/stellaops/authgate/pkg/subcmd"
	"github.com/stellaops/authgate/services/registry-token/internal/app"
	"github.com/stellaops/authgate/services/registry-token/internal/devauthority"
	"github.com/stellaops/authgate/services/registry-token/internal/devstack"
	"github.com/stellaops/authgate/services/registry-token/internal/dpopclient"
)

// devOnly follows the list of commands in the usage text.
const devOnly = `
DEVELOPMENT ONLY: a local stack on 127.0.0.1 with an Authority that mints
OpToks for anyone who asks. Never part of "registry-token serve" or a
production config.
`

// runFunc is a command: it gets the arguments after the command name.
type runFunc = func(ctx context.Context, args []string, env env) error

// commands is the table of commands.
func commands() subcmd.Table[runFunc] {
	return subcmd.Table[runFunc]{
		"up": {
			Usage:   "[--config FILE] [--run-dir DIR] [--flex-auth-bin FILE] [--port N] [--authority-port N] [--registry-port N] [--flex-auth-port N]",
			Summary: "start flex-auth, the development Authority, registry-token and an in-memory registry; Ctrl-C stops them",
			Run:     devUp,
		},
		"authority": {
			Usage:   "[--listen ADDR] [--issuer URL] [--tls-listen ADDR --tls-cert FILE --tls-key FILE [--client-ca FILE]]",
			Summary: "serve the development Authority alone (the issuer is the URL clients reach it at, e.g. in a test cluster); with --tls-listen also over https, minting certificate-bound OpToks for client certificates",
			Run:     devAuthority,
		},
		"token": {
			Usage:   "[--authority URL] [--key FILE] [--plan PLAN] [--license ID] [--sub SUBJECT] [--ttl DURATION]",
			Summary: "ask the development Authority for an OpTok bound to a DPoP key",
			Run:     devToken,
		},
		"demo": {
			Usage:   "[--registry HOST:PORT] [--token-url URL] [--authority URL] [--flex-auth URL] [--flex-auth-bin FILE]",
			Summary: "push, pull, a denied push, the sample token request and the flex-auth smoke against a running stack",
			Run:     devDemo,
		},
		"push": {
			Usage:   "--repository NAME [--tag TAG] [--plan PLAN] [--sub SUBJECT] [--registry HOST:PORT] [--token-url URL] [--authority URL] [--file FILE] [ARG...]",
			Summary: "push an image of one program (default: this one; ARGs its command) through registry-token with a DPoP-bound OpTok of PLAN; prints the reference by digest",
			Run:     devPush,
		},
	}
}

func usage(w io.Writer) {
	commands().PrintUsage(w, "registry-token-dev")
	fmt.Fprint(w, devOnly)
}

func main() {
	// SIGHUP (the terminal closed, an SSH session dropped) stops
	// everything, as Ctrl-C does: nobody is left to use the stack.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	err := run(ctx, os.Args[1:], env{Environ: os.Environ(), Stdout: os.Stdout, Stderr: os.Stderr})
	stop()
	switch {
	case err == nil:
	case errors.Is(err, app.ErrUsage):
		fmt.Fprintln(os.Stderr, "registry-token-dev:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "registry-token-dev:", err)
		os.Exit(1)
	}
}

// env is the command's environment: the process environment and the
// output streams.
type env struct {
	Environ        []string
	Stdout, Stderr io.Writer
}

// run dispatches "registry-token-dev <command>".
func run(ctx context.Context, args []string, env env) error {
	if len(args) == 0 {
		usage(env.Stderr)
		return fmt.Errorf("%w: no command", app.ErrUsage)
	}
	if subcmd.IsHelp(args[0]) {
		usage(env.Stdout)
		return nil
	}
	if cmd, rest, ok := commands().Find(args); ok {
		return cmd.Run(ctx, rest, env)
	}
	usage(env.Stderr)
	return fmt.Errorf("%w: unknown command %q", app.ErrUsage, args[0])
}

func parseDevFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", app.ErrUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", app.ErrUsage, fs.Arg(0))
	}
	return nil
}

func devUp(ctx context.Context, args []string, env env) error {
	fs := flag.NewFlagSet("up", flag.ContinueOnError)
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
		// No SIGHUP reload inside the stack: SIGHUP stops "up" (main).
		return app.Run(ctx, app.Env{Args: args, Environ: environ, Stdout: env.Stdout, Stderr: env.Stderr, Listening: listening,
			Signals: make(chan os.Signal)})
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

func devAuthority(ctx context.Context, args []string, env env) error {
	fs := flag.NewFlagSet("authority", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	listen := fs.String("listen", "127.0.0.1:8081", "address to serve http on")
	issuer := fs.String("issuer", "", "issuer and base URL clients use (default http://<listen address>)")
	tlsListen := fs.String("tls-listen", "", "also serve https on this address (with --tls-cert, --tls-key)")
	certFile := fs.String("tls-cert", "", "certificate of the https listener (PEM)")
	keyFile := fs.String("tls-key", "", "private key of --tls-cert (PEM)")
	clientCA := fs.String("client-ca", "", "CAs of TLS client certificates: a client presenting one to the https listener gets a certificate-bound (cnf.x5t#S256) OpTok")
	if err := parseDevFlags(fs, args); err != nil {
		return err
	}
	tlsConfig, err := authorityTLS(*tlsListen, *certFile, *keyFile, *clientCA)
	if err != nil {
		return fmt.Errorf("%w: %v", app.ErrUsage, err)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", *listen)
	if err != nil {
		return err
	}
	if *issuer == "" {
		*issuer = "http://" + ln.Addr().String()
	}
	a, err := devstack.StartAuthorityAt(ctx, ln, *issuer)
	if err != nil {
		return err
	}
	defer func() { _ = a.Close() }()
	fmt.Fprintf(env.Stdout, "development Authority %s listening on %s\n", a.URL, ln.Addr())
	if tlsConfig == nil {
		<-ctx.Done()
		return nil
	}
	tln, err := lc.Listen(ctx, "tcp", *tlsListen)
	if err != nil {
		return err
	}
	tln = tls.NewListener(tln, tlsConfig)
	srv := &http.Server{Handler: a.Authority, ReadHeaderTimeout: 5 * time.Second}
	go func() { <-ctx.Done(); _ = srv.Close() }()
	fmt.Fprintf(env.Stdout, "and on https://%s (certificate-bound OpToks for client certificates)\n", tln.Addr())
	if err := srv.Serve(tln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// authorityTLS is the https listener's configuration: nil without
// --tls-listen; client certificates are asked for (not required) when
// clientCA is set.
func authorityTLS(listen, certFile, keyFile, clientCA string) (*tls.Config, error) {
	if listen == "" {
		if certFile != "" || keyFile != "" || clientCA != "" {
			return nil, errors.New("--tls-cert, --tls-key and --client-ca need --tls-listen")
		}
		return nil, nil
	}
	if certFile == "" || keyFile == "" {
		return nil, errors.New("--tls-listen needs --tls-cert and --tls-key")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if clientCA != "" {
		data, err := os.ReadFile(clientCA)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(data) {
			return nil, fmt.Errorf("--client-ca %s: no PEM certificate", clientCA)
		}
		cfg.ClientCAs, cfg.ClientAuth = pool, tls.VerifyClientCertIfGiven
	}
	return cfg, nil
}

func devToken(ctx context.Context, args []string, env env) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	authority := fs.String("authority", "http://127.0.0.1:8081", "development Authority base URL")
	keyFile := fs.String("key", dpopclient.DefaultKeyFile, "DPoP client key (JWK or PEM; created with mode 0600 when absent)")
	var tr devauthority.TokenRequest
	fs.StringVar(&tr.Plan, "plan", "", "stellaops:plan claim (empty: registry-token's defaultPlan applies)")
	fs.StringVar(&tr.License, "license", "", "stellaops:license claim")
	fs.StringVar(&tr.Subject, "sub", "", "subject (default dev-user)")
	fs.DurationVar(&tr.TTL, "ttl", 0, "lifetime, at most 1h (default 5m)")
	if err := parseDevFlags(fs, args); err != nil {
		return err
	}
	key, created, err := dpopclient.LoadOrCreateKey(*keyFile)
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

func devDemo(ctx context.Context, args []string, env env) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
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

func devPush(ctx context.Context, args []string, env env) error {
	fs := flag.NewFlagSet("push", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	var o devstack.PushOptions
	fs.StringVar(&o.Registry, "registry", "localhost:5000", "registry host:port")
	fs.StringVar(&o.Realm, "token-url", "http://localhost:8085/token", "registry-token's token endpoint (the realm)")
	fs.StringVar(&o.Authority, "authority", "http://127.0.0.1:8081", "development Authority base URL")
	fs.StringVar(&o.Repository, "repository", "", "repository to push to (required)")
	fs.StringVar(&o.Tag, "tag", "latest", "tag")
	fs.StringVar(&o.Plan, "plan", "enterprise", "stellaops:plan claim of the OpTok")
	fs.StringVar(&o.Subject, "sub", "", "subject of the OpTok (default push-<plan>)")
	fs.StringVar(&o.File, "file", "", "program the image holds (default: this program)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", app.ErrUsage, err)
	}
	if o.Repository == "" {
		return fmt.Errorf("%w: --repository is required", app.ErrUsage)
	}
	o.Args = fs.Args()
	if o.File == "" {
		self, err := os.Executable()
		if err != nil {
			return err
		}
		o.File = self
	}
	ref, err := devstack.Push(ctx, o)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(env.Stdout, "pushed", ref)
	return err
}
