package devstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/stellaops/authgate/services/registry-token/internal/config"
)

// Defaults of "registry-token-dev up", relative to the module root.
const (
	DefaultConfigFile       = "configs/registry-token.dev.yaml"
	DefaultRunDir           = ".run"
	DefaultFlexAuthBin      = "bin/flex-auth"
	DefaultFlexAuthRegistry = "configs/ops-warden/production_registry_snapshot.json"
	DefaultFlexAuthPolicy   = "configs/ops-warden/policy_package.md"
	DefaultService          = "registry.localhost"
	DefaultActor            = "agt-state-hub-bridge"
)

// Ports are the 127.0.0.1 ports of the stack; 0 picks a free port.
type Ports struct {
	FlexAuth, Authority, Token, Registry int
}

// ErrPortTaken is the error of Up when a port it is to listen on is in
// use.
var ErrPortTaken = errors.New("port taken")

// checkFree refuses ports (other than 0, any free port) that something
// already listens on, naming each with its component and flag: a
// flex-auth left over from an earlier run would else answer the new
// stack's readiness probe with the old process.
func (p Ports) checkFree(flexAuth bool) error {
	var errs []error
	for _, c := range []struct {
		port       int
		what, flag string
		used       bool
	}{
		{p.FlexAuth, "flex-auth", "--flex-auth-port", flexAuth},
		{p.Authority, "the development Authority", "--authority-port", true},
		{p.Token, "registry-token", "--port", true},
		{p.Registry, "the registry", "--registry-port", true},
	} {
		if c.port == 0 || !c.used {
			continue
		}
		ln, err := listen(c.port)
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: port %d for %s: 127.0.0.1:%d is in use (an earlier registry-token-dev up still running?): stop what listens there, or choose another port with %s (0: any free port)",
				ErrPortTaken, c.port, c.what, c.port, c.flag))
			continue
		}
		_ = ln.Close()
	}
	return errors.Join(errs...)
}

// DefaultPorts are the ports of "registry-token-dev up".
func DefaultPorts() Ports { return Ports{FlexAuth: 8080, Authority: 8081, Token: 8085, Registry: 5000} }

// ServiceRunner runs registry-token with command-line args and
// environment environ until ctx is done, calling listening once the
// server accepts connections ("registry-token serve" through app.Run).
type ServiceRunner func(ctx context.Context, args, environ []string, listening func(net.Addr)) error

// Options configures Up.
type Options struct {
	// ConfigFile is registry-token's dev configuration (DefaultConfigFile).
	// Up overrides its addresses, Authority and key file through
	// REGISTRY_TOKEN_ variables so that they match the chosen ports.
	ConfigFile string
	// RunDir receives the signing key (created 0600 when absent), the
	// registry's JWKS file and flex-auth's decision and process logs.
	RunDir string
	Ports  Ports
	// FlexAuthBin is the flex-auth executable; empty leaves flex-auth out.
	FlexAuthBin                      string
	FlexAuthRegistry, FlexAuthPolicy string
	// RunService runs registry-token (required).
	RunService ServiceRunner
	// Environ is passed to the service before Up's own variables.
	Environ []string
	// StartTimeout bounds the start of each component (default 30s).
	StartTimeout time.Duration
}

// Stack is the running development stack.
type Stack struct {
	FlexAuth  *Child // nil without Options.FlexAuthBin
	Authority *AuthorityServer
	Registry  *RegistryServer
	// TokenURL is registry-token's base URL, Realm its token endpoint.
	TokenURL, Realm string
	// Service is the registry service name (registry.services[0]).
	Service string
	// ConfigFile, SigningKey, JWKSFile, DecisionLog and FlexAuthLog are
	// the files in use.
	ConfigFile, SigningKey, JWKSFile, DecisionLog, FlexAuthLog string
	// KeyCreated reports that Up generated the signing key.
	KeyCreated bool

	issuer    string // signing.issuer, the registry's auth.token.issuer
	flexLog   *os.File
	svcCancel context.CancelFunc
	svcDone   chan error
}

// Up starts flex-auth, the development Authority, registry-token and the
// registry, in that order, each ready before the next. With a port of 0
// it picks free ports, and retries twice if another process takes one
// between the choice and the bind.
func Up(ctx context.Context, o Options) (*Stack, error) {
	if o.RunService == nil {
		return nil, errors.New("devstack: Options.RunService is required")
	}
	if o.ConfigFile == "" {
		o.ConfigFile = DefaultConfigFile
	}
	if o.RunDir == "" {
		o.RunDir = DefaultRunDir
	}
	if o.StartTimeout == 0 {
		o.StartTimeout = 30 * time.Second
	}
	if err := o.Ports.checkFree(o.FlexAuthBin != ""); err != nil {
		return nil, err
	}
	reserved := o.Ports.Token == 0 || (o.FlexAuthBin != "" && o.Ports.FlexAuth == 0)
	for attempt := 1; ; attempt++ {
		s, err := up(ctx, o)
		if err == nil || !reserved || attempt == 3 || ctx.Err() != nil {
			return s, err
		}
	}
}

func up(ctx context.Context, o Options) (_ *Stack, err error) {
	if err := os.MkdirAll(o.RunDir, 0o700); err != nil {
		return nil, err
	}
	s := &Stack{
		ConfigFile:  o.ConfigFile,
		SigningKey:  filepath.Join(o.RunDir, "registry-signing.pem"),
		JWKSFile:    filepath.Join(o.RunDir, "registry-token.jwks"),
		DecisionLog: filepath.Join(o.RunDir, "flex-auth-decisions.jsonl"),
		FlexAuthLog: filepath.Join(o.RunDir, "flex-auth.log"),
	}
	defer func() {
		if err != nil {
			_ = s.Close()
		}
	}()
	if s.KeyCreated, err = EnsureSigningKey(s.SigningKey); err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	if o.FlexAuthBin != "" {
		if err := s.startFlexAuth(ctx, o); err != nil {
			return nil, err
		}
	}
	ln, err := listen(o.Ports.Authority)
	if err != nil {
		return nil, fmt.Errorf("development Authority: %w", err)
	}
	if s.Authority, err = StartAuthority(ctx, ln); err != nil {
		return nil, err
	}
	if err := s.startService(ctx, o); err != nil {
		return nil, err
	}
	if err := s.writeJWKS(ctx); err != nil {
		return nil, err
	}
	if ln, err = listen(o.Ports.Registry); err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	s.Registry, err = StartRegistry(ctx, ln, RegistryOptions{
		Realm: s.Realm, Service: s.Service, Issuer: s.issuer, JWKSFile: s.JWKSFile,
	})
	return s, err
}

func (s *Stack) startFlexAuth(ctx context.Context, o Options) error {
	port, err := portOrFree(o.Ports.FlexAuth)
	if err != nil {
		return err
	}
	if s.flexLog, err = os.OpenFile(s.FlexAuthLog, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600); err != nil {
		return err
	}
	reg, pol := o.FlexAuthRegistry, o.FlexAuthPolicy
	if reg == "" {
		reg = DefaultFlexAuthRegistry
	}
	if pol == "" {
		pol = DefaultFlexAuthPolicy
	}
	s.FlexAuth, err = StartFlexAuth(ctx, FlexAuthOptions{
		Bin: o.FlexAuthBin, Addr: "127.0.0.1:" + strconv.Itoa(port),
		Registry: reg, Policy: pol, DecisionLog: s.DecisionLog, Output: s.flexLog,
	}, o.StartTimeout)
	if err != nil {
		return fmt.Errorf("%w (see %s)", err, s.FlexAuthLog)
	}
	return nil
}

// serviceEnv are the variables that point the dev config at this stack.
func (s *Stack) serviceEnv(o Options, port int) []string {
	s.TokenURL = "http://localhost:" + strconv.Itoa(port)
	s.Realm = s.TokenURL + "/token"
	return append(append([]string(nil), o.Environ...),
		config.EnvPrefix+"SERVER__ADDR=127.0.0.1:"+strconv.Itoa(port),
		config.EnvPrefix+"SERVER__PUBLICURL="+s.TokenURL,
		config.EnvPrefix+"REGISTRY__REALM="+s.Realm,
		config.EnvPrefix+"AUTHORITY__ISSUER="+s.Authority.Issuer(),
		config.EnvPrefix+"AUTHORITY__METADATAURL="+s.Authority.MetadataURL(),
		config.EnvPrefix+"AUTHORITY__REQUIREHTTPSMETADATA=false",
		config.EnvPrefix+"SIGNING__KEYFILE="+s.SigningKey,
	)
}

func (s *Stack) startService(ctx context.Context, o Options) error {
	port, err := portOrFree(o.Ports.Token)
	if err != nil {
		return err
	}
	environ := s.serviceEnv(o, port)
	cfg, err := config.Load(o.ConfigFile, environ)
	if err != nil {
		return fmt.Errorf("configuration %s:\n%w", o.ConfigFile, err)
	}
	s.Service, s.issuer = DefaultService, cfg.Signing.Issuer
	if len(cfg.Registry.Services) > 0 {
		s.Service = cfg.Registry.Services[0]
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	listening := make(chan net.Addr, 1)
	s.svcCancel, s.svcDone = cancel, make(chan error, 1)
	go func() {
		s.svcDone <- o.RunService(runCtx, []string{"serve", "--config", o.ConfigFile}, environ,
			func(a net.Addr) { listening <- a })
	}()
	deadline := time.NewTimer(o.StartTimeout)
	defer deadline.Stop()
	select {
	case <-listening:
	case err := <-s.svcDone:
		s.svcDone <- err
		return fmt.Errorf("registry-token exited: %w", err)
	case <-deadline.C:
		return errors.New("registry-token did not start listening in time")
	case <-ctx.Done():
		return ctx.Err()
	}
	return poll(ctx, s.TokenURL+"/readyz", deadline.C, s.svcDone, "registry-token")
}

// writeJWKS fetches registry-token's public keys for the registry.
func (s *Stack) writeJWKS(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.TokenURL+"/jwks.json", nil)
	if err != nil {
		return err
	}
	client := &http.Client{Transport: LoopbackTransport(nil), Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("registry-token /jwks.json: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		return fmt.Errorf("registry-token /jwks.json: status %d, %v", resp.StatusCode, err)
	}
	return os.WriteFile(s.JWKSFile, body, 0o644)
}

// Wait blocks until ctx is done (nil) or registry-token or flex-auth
// stops on its own (an error).
func (s *Stack) Wait(ctx context.Context) error {
	var flex chan error
	if s.FlexAuth != nil {
		flex = s.FlexAuth.done
	}
	select {
	case <-ctx.Done():
		return nil
	case err := <-s.svcDone:
		s.svcDone <- err
		return fmt.Errorf("registry-token stopped: %v", err)
	case err := <-flex:
		flex <- err
		return fmt.Errorf("flex-auth stopped: %v (see %s)", err, s.FlexAuthLog)
	}
}

// Close stops the registry, registry-token, the Authority and flex-auth,
// and returns the first error.
func (s *Stack) Close() error {
	var errs []error
	if s.Registry != nil {
		errs = append(errs, s.Registry.Close())
		s.Registry = nil
	}
	if s.svcCancel != nil {
		s.svcCancel()
		errs = append(errs, <-s.svcDone)
		s.svcCancel = nil
	}
	if s.Authority != nil {
		errs = append(errs, s.Authority.Close())
		s.Authority = nil
	}
	if s.FlexAuth != nil {
		errs = append(errs, s.FlexAuth.Close())
		s.FlexAuth = nil
	}
	if s.flexLog != nil {
		errs = append(errs, s.flexLog.Close())
		s.flexLog = nil
	}
	return errors.Join(errs...)
}

func listen(port int) (net.Listener, error) {
	return net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
}

// portOrFree returns port, or a loopback port that was free a moment ago.
func portOrFree(port int) (int, error) {
	if port != 0 {
		return port, nil
	}
	ln, err := listen(0)
	if err != nil {
		return 0, err
	}
	port = ln.Addr().(*net.TCPAddr).Port
	return port, ln.Close()
}
