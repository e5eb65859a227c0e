package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/stellaops/authgate/pkg/plans"
	"github.com/stellaops/authgate/services/registry-token/internal/app"
	"github.com/stellaops/authgate/services/registry-token/internal/devauthority"
	"github.com/stellaops/authgate/services/registry-token/internal/devstack"
)

// DefaultService is the registry service name of the documented sample.
const DefaultService = "registry.localhost"

// StackOptions configures StartStack.
type StackOptions struct {
	// Dir receives the config file and the signing key (e.g. t.TempDir()).
	Dir string
	// Service is the registry's service name (default DefaultService).
	Service string
	// Plans, DefaultPlan and RevokedLicenses go into the service config.
	Plans           map[string][]plans.Rule
	DefaultPlan     string
	RevokedLicenses []string
	// TLS, when set, serves registry-token over HTTPS and requests client
	// certificates signed by TLS.ClientCA (mTLS-bound OpToks).
	TLS *TLSMaterial
	// TrustedProxies is server.trustedProxies: peers whose Client-Cert
	// header (RFC 9440) is believed.
	TrustedProxies []string
	// Stderr receives the service's logs (default io.Discard).
	Stderr io.Writer
	// LogLevel is the service's log.level (default "warn").
	LogLevel string
	// StartTimeout bounds start-up and readiness (default 15s).
	StartTimeout time.Duration
	// Watch sets reload.watch: UpdateConfig then reloads the service.
	Watch bool
	// RedisURL, when set, makes registry-token keep DPoP replay state in
	// that Redis; empty: in memory.
	RedisURL string
	// ReplayCache, when set, is the whole authority.replayCache section.
	ReplayCache map[string]any
	// Runner runs registry-token with args until ctx is done. The default
	// is the real entry point in-process (app.Run); the load generator
	// passes one that runs it as a child process, so that the server's
	// memory can be measured on its own.
	Runner Runner
}

// Runner runs registry-token with the given command-line arguments until
// ctx is done. For "serve" it must call listening once the server accepts
// connections; other commands pass a nil listening.
type Runner func(ctx context.Context, args []string, stdout, stderr io.Writer, listening func(net.Addr)) error

// InProcess is the default Runner: app.Run in this process.
func InProcess(ctx context.Context, args []string, stdout, stderr io.Writer, listening func(net.Addr)) error {
	return app.Run(ctx, app.Env{Args: args, Stdout: stdout, Stderr: stderr, Listening: listening})
}

// Stack is a running development Authority plus registry-token.
type Stack struct {
	Authority *devauthority.Authority
	// AuthorityURL is the Authority's issuer/base URL.
	AuthorityURL string
	// PublicURL is registry-token's base URL ("http://localhost:<port>").
	PublicURL string
	// Realm is PublicURL + "/token".
	Realm string
	// Service is the registry service name in the config.
	Service string
	// ConfigFile is the generated config.
	ConfigFile string
	// JWKS is the output of "registry-token jwks" for the config, the
	// content of the registry's auth.token.jwks file.
	JWKS []byte
	// Addr is the service's listen address.
	Addr net.Addr

	// KeyFile is the generated signing key (signing.keyFile).
	KeyFile string

	cfg          ServiceConfig
	dir          string
	authoritySrv *devstack.AuthorityServer
	cancel       context.CancelFunc
	done         chan error
}

// StartStack starts the Authority and registry-token and waits until
// registry-token reports ready. Close stops both.
func StartStack(ctx context.Context, opts StackOptions) (_ *Stack, err error) {
	if opts.Dir == "" {
		return nil, errors.New("e2e: StackOptions.Dir is required")
	}
	if opts.Service == "" {
		opts.Service = DefaultService
	}
	if opts.Stderr == nil {
		opts.Stderr = io.Discard
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 15 * time.Second
	}
	if opts.Runner == nil {
		opts.Runner = InProcess
	}
	s := &Stack{Service: opts.Service}
	defer func() {
		if err != nil {
			_ = s.Close()
		}
	}()
	if err := s.startAuthority(ctx); err != nil {
		return nil, err
	}
	keyFile, err := writeSigningKey(opts.Dir)
	if err != nil {
		return nil, err
	}
	// Three attempts: the port is reserved by closing a listener, so another
	// process may take it before the service binds it.
	for attempt := 0; ; attempt++ {
		err = s.startService(ctx, opts, keyFile)
		if err == nil || attempt == 2 || !errors.Is(err, errBind) {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	var out, errOut bytes.Buffer
	if err := opts.Runner(ctx, []string{"jwks", "--config", s.ConfigFile}, &out, &errOut, nil); err != nil {
		return nil, fmt.Errorf("e2e: registry-token jwks: %w (%s)", err, errOut.String())
	}
	s.JWKS = out.Bytes()
	return s, nil
}

var errBind = errors.New("e2e: service did not bind its port")

// UpdateConfig rewrites the service's configuration file with change
// applied (in one rename). With StackOptions.Watch the service reloads it.
func (s *Stack) UpdateConfig(change func(*ServiceConfig)) error {
	change(&s.cfg)
	_, err := writeConfig(s.dir, s.cfg)
	return err
}

func (s *Stack) startAuthority(ctx context.Context) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("e2e: authority listener: %w", err)
	}
	if s.authoritySrv, err = devstack.StartAuthority(ctx, ln); err != nil {
		return err
	}
	s.Authority, s.AuthorityURL = s.authoritySrv.Authority, s.authoritySrv.URL
	return nil
}

func (s *Stack) startService(ctx context.Context, opts StackOptions, keyFile string) error {
	port, err := reservePort()
	if err != nil {
		return err
	}
	scheme := "http"
	cfg := ServiceConfig{
		MetadataURL:     s.Authority.MetadataURL(),
		Issuer:          s.Authority.Issuer(),
		Services:        []string{opts.Service},
		Plans:           opts.Plans,
		DefaultPlan:     opts.DefaultPlan,
		RevokedLicenses: opts.RevokedLicenses,
		KeyFile:         keyFile,
		LogLevel:        opts.LogLevel,
		Watch:           opts.Watch,
		TrustedProxies:  opts.TrustedProxies,
		RedisURL:        opts.RedisURL,
		ReplayCache:     opts.ReplayCache,
	}
	if opts.TLS != nil {
		scheme = "https"
		cfg.CertFile, cfg.TLSKeyFile, cfg.ClientCAFile = opts.TLS.ServerCertFile, opts.TLS.ServerKeyFile, opts.TLS.ClientCAFile
	}
	cfg.PublicURL = scheme + "://localhost:" + strconv.Itoa(port)
	file, err := writeConfig(opts.Dir, cfg)
	if err != nil {
		return err
	}
	s.ConfigFile, s.PublicURL, s.Realm = file, cfg.PublicURL, cfg.Realm()
	s.cfg, s.dir, s.KeyFile = cfg, opts.Dir, keyFile

	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	listening := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		args := []string{"serve", "--config", file, "--addr", "127.0.0.1:" + strconv.Itoa(port)}
		done <- opts.Runner(runCtx, args, opts.Stderr, opts.Stderr, func(a net.Addr) { listening <- a })
	}()
	timer := time.NewTimer(opts.StartTimeout)
	defer timer.Stop()
	s.cancel, s.done = cancel, done
	select {
	case a := <-listening:
		s.Addr = a
	case err := <-done:
		s.cancel, s.done = nil, nil
		cancel()
		if isAddrInUse(err) {
			return fmt.Errorf("%w: %v", errBind, err)
		}
		return fmt.Errorf("e2e: registry-token serve exited: %w", err)
	case <-timer.C:
		return errors.New("e2e: registry-token did not start listening in time")
	}
	return s.waitReady(ctx, opts, timer.C)
}

// waitReady polls /readyz until it answers 200.
func (s *Stack) waitReady(ctx context.Context, opts StackOptions, deadline <-chan time.Time) error {
	return devstack.Poll(ctx, s.HTTPClient(opts.TLS, nil), s.PublicURL+"/readyz", deadline, s.done, "e2e: registry-token")
}

// Close stops registry-token (waiting for app.Run to return) and the
// Authority. It returns app.Run's error, if any.
func (s *Stack) Close() error {
	var err error
	if s.cancel != nil {
		s.cancel()
		err = <-s.done
		s.cancel = nil
	}
	if s.authoritySrv != nil {
		_ = s.authoritySrv.Close()
		s.authoritySrv = nil
	}
	return err
}

// reservePort returns a loopback port that was free a moment ago.
func reservePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("e2e: reserve port: %w", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	return port, ln.Close()
}
