// Package config holds the flex-auth serve configuration
// (configs/flex-auth.yaml): the keys, their defaults, loading (defaults ->
// YAML -> FLEX_AUTH_ environment -> unknown keys refused -> command-line
// overrides) and validation that reports every problem at once.
package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/stellaops/authgate/pkg/httpx"
	"github.com/stellaops/authgate/pkg/jwks"
	"github.com/stellaops/authgate/pkg/konfig"
	"github.com/stellaops/authgate/pkg/replaystore"
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
	// DefaultLogMaxSize and DefaultLogMaxFiles bound the decision log on
	// disk to about 11 files of 64 MiB (704 MiB) with the free-space floor.
	DefaultLogMaxSize  = 64 << 20
	DefaultLogMaxFiles = 10
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
	Search      SearchConfig      `koanf:"search"`
	Limits      LimitsConfig      `koanf:"limits"`
}

// SearchConfig is the AuthZEN search.
type SearchConfig struct {
	// PageTokenKeyFile holds the key (at least 32 bytes, surrounding white
	// space ignored) that signs search page tokens; every replica behind
	// one Service needs the same. Empty: a random key of the process's
	// own (one replica).
	PageTokenKeyFile string `koanf:"pageTokenKeyFile"`
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
	// MaxConnectionAge: a connection older than this is closed after its
	// next answer, so clients handshake again (a rotated client CA takes
	// effect). 0: no limit. Read at start only.
	MaxConnectionAge time.Duration `koanf:"maxConnectionAge"`
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
	// MaxSize, MaxAge and MaxFiles rotate the file (0 turns the first two
	// off, and keeps every rotated file for the third).
	MaxSize  int64         `koanf:"maxSize"`
	MaxAge   time.Duration `koanf:"maxAge"`
	MaxFiles int           `koanf:"maxFiles"`
	// SigningKeyFile, when set, signs checkpoint, rotate and close
	// records (Ed25519 or P-256 PEM private key).
	SigningKeyFile     string        `koanf:"signingKeyFile"`
	CheckpointInterval time.Duration `koanf:"checkpointInterval"`
	// MinFreeBytes is the free space below which /readyz answers 503.
	MinFreeBytes int64 `koanf:"minFreeBytes"`
}

// ReloadConfig controls reloading on file changes (SIGHUP always reloads).
type ReloadConfig struct {
	Watch    bool          `koanf:"watch"`
	Debounce time.Duration `koanf:"debounce"`
}

// Defaults returns the configuration before the file, the environment
// and the flags are applied.
func Defaults() Config {
	return Config{
		Server: ServerConfig{Addr: DefaultAddr, MaxConnectionAge: httpx.DefaultMaxConnectionAge},
		DecisionLog: DecisionLogConfig{Sync: string(DefaultSync), MaxSize: DefaultLogMaxSize, MaxFiles: DefaultLogMaxFiles,
			CheckpointInterval: decisionlog.DefaultCheckpointInterval, MinFreeBytes: decisionlog.DefaultMinFreeBytes},
		Reload:   ReloadConfig{Debounce: DefaultDebounce},
		LogLevel: DefaultLogLevel,
		Limits:   defaultLimits(),
		Auth: AuthConfig{RequireHTTPSMetadata: true, RequiredScopes: []string{DefaultRequiredScope},
			DPoPMaxAge: DefaultDPoPMaxAge, DPoPClockSkew: DefaultDPoPClockSkew,
			JWKSRefreshInterval: jwks.DefaultRefreshInterval, JWKSMaxStale: jwks.DefaultMaxStale,
			ReplayCache: replaystore.Defaults()},
	}
}

// Validate reports every problem at once.
func (c *Config) Validate() error {
	var errs []error
	if c.Server.MaxConnectionAge < 0 {
		errs = append(errs, fmt.Errorf("server.maxConnectionAge: %s is negative (0 for no limit)", c.Server.MaxConnectionAge))
	}
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
	errs = append(errs, c.DecisionLog.validate()...)
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
	errs = append(errs, c.Limits.validate()...)
	if f := c.Search.PageTokenKeyFile; f != "" {
		if err := readable(f); err != nil {
			errs = append(errs, fmt.Errorf("search.pageTokenKeyFile: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Load reads file (empty: defaults and environment only) and the
// FLEX_AUTH_ variables of environ, applies override (the command-line
// flags; may be nil), then validates. The error lists every unknown key,
// undecodable value and invalid setting.
func Load(file string, environ []string, override func(*Config)) (Config, error) {
	var cfg Config
	loadErr := konfig.Load(Defaults(), konfig.Source{File: file, EnvPrefix: EnvPrefix, Environ: environ,
		IgnoreEnv: []string{EnvConfigFile}}, &cfg)
	if override != nil {
		override(&cfg)
	}
	if err := errors.Join(loadErr, cfg.Validate()); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// checkDebugAddr refuses a debug address that is not a loopback IP literal
// (in 127.0.0.0/8, or ::1) unless allowRemote acknowledges it: the pprof
// handlers are unauthenticated and expose the process internals (heap
// contents, command line). A host name, "localhost" included, is refused:
// what it resolves to is up to the resolver (/etc/hosts, DNS) at listen
// time, not to this check.
func checkDebugAddr(addr string, allowRemote bool) error {
	if addr == "" || allowRemote {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("server.debugAddr (--debug-addr) %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	if net.ParseIP(host) == nil && host != "" {
		return fmt.Errorf("server.debugAddr (--debug-addr) %q names a host: give a loopback IP address (127.0.0.1:PORT or [::1]:PORT), "+
			"or set server.debugAllowRemote (--debug-allow-remote) to accept whatever the name resolves to", addr)
	}
	return fmt.Errorf("server.debugAddr (--debug-addr) %q is not a loopback address: the pprof endpoints are unauthenticated; "+
		"bind 127.0.0.1 or [::1], or set server.debugAllowRemote (--debug-allow-remote) to accept the exposure", addr)
}

// validate checks the rotation, signing and disk-space keys.
func (d DecisionLogConfig) validate() []error {
	var errs []error
	if d.MaxSize < 0 || (d.MaxSize > 0 && d.MaxSize < 64<<10) {
		errs = append(errs, fmt.Errorf("decisionLog.maxSize: %d: must be 0 (no rotation by size) or at least 65536 bytes", d.MaxSize))
	}
	if d.MaxAge < 0 || (d.MaxAge > 0 && d.MaxAge < time.Minute) {
		errs = append(errs, fmt.Errorf("decisionLog.maxAge: %s: must be 0 (no rotation by age) or at least 1m", d.MaxAge))
	}
	if d.MaxFiles < 0 {
		errs = append(errs, fmt.Errorf("decisionLog.maxFiles: %d: must be 0 (keep every rotated file) or more", d.MaxFiles))
	}
	if d.CheckpointInterval < time.Second {
		errs = append(errs, fmt.Errorf("decisionLog.checkpointInterval: %s: must be at least 1s", d.CheckpointInterval))
	}
	if d.MinFreeBytes < 0 {
		errs = append(errs, fmt.Errorf("decisionLog.minFreeBytes: %d: must be 0 (no check) or more", d.MinFreeBytes))
	}
	if d.SigningKeyFile != "" {
		if _, err := decisionlog.LoadSigner(d.SigningKeyFile); err != nil {
			errs = append(errs, fmt.Errorf("decisionLog.signingKeyFile: %w", err))
		}
	}
	return errs
}
