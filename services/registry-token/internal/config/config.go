// Package config holds the registry-token configuration: the keys of the
// reference in services/registry-token/README.md (a test keeps the two
// equal), their defaults, loading (defaults -> YAML -> REGISTRY_TOKEN_
// environment) and validation that reports every problem at once.
package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"time"

	"github.com/stellaops/authgate/pkg/dpop"
	"github.com/stellaops/authgate/pkg/httpx"
	"github.com/stellaops/authgate/pkg/konfig"
	"github.com/stellaops/authgate/pkg/plans"
	"github.com/stellaops/authgate/pkg/replaystore"
)

// EnvPrefix is the prefix of environment overrides, e.g.
// REGISTRY_TOKEN_SIGNING__LIFETIME=10m.
const EnvPrefix = "REGISTRY_TOKEN_"

// Defaults, named so that documentation and tests can refer to them.
const (
	DefaultAddr              = "0.0.0.0:8085"
	DefaultLogLevel          = "info"
	DefaultRequiredScope     = "registry.token.issue"
	DefaultAudience          = "registry"
	DefaultSigningIssuer     = "registry-token"
	DefaultKeyFile           = "configs/registry-signing-sample.pem"
	DefaultLifetime          = 5 * time.Minute
	DefaultDPoPMaxAge        = 60 * time.Second
	DefaultDPoPClockSkew     = 5 * time.Second
	DefaultClockSkew         = 30 * time.Second
	DefaultJWKSRefresh       = 10 * time.Minute
	DefaultJWKSMinRefresh    = 10 * time.Second
	DefaultJWKSMaxStale      = 24 * time.Hour
	DefaultTokenCacheSize    = 10000
	DefaultDefaultPlan       = "community"
	DefaultClientCertHeader  = "Client-Cert"
	MinNonceKeyLength        = 32
	SenderConstraintRequire  = "required"
	SenderConstraintOptional = "optional"
	ReplayBackendMemory      = replaystore.BackendMemory
	ReplayBackendRedis       = replaystore.BackendRedis
	// DefaultReplayCacheEntries bounds the memory replay cache: with the
	// default proof window (dpop.maxAge + dpop.clockSkew = 65 s, plus one
	// 8.75 s time bucket) one replica accepts about 28,000 proofs/s before
	// it refuses new ones, over twice the rate one replica serves on two
	// cores. An entry is 8 bytes in a table at most 3/4 full (at most
	// about 24 MiB at this default).
	DefaultReplayCacheEntries = 1 << 21
	// MaxReplayCacheEntries caps authority.replayCache.maxEntries (at most
	// about 21 bytes an entry: some 350 MB at the cap).
	MaxReplayCacheEntries = replaystore.MaxMemoryEntries

	// Bounds of signing.lifetime: a registry token lives long enough for
	// one push and not much longer.
	MinLifetime = 30 * time.Second
	MaxLifetime = time.Hour
	// Bounds of policy.timeout: one token request waits at most this long
	// for flex-auth.
	DefaultPolicyTimeout = 2 * time.Second
	MaxPolicyTimeout     = 30 * time.Second
	// DefaultReloadDebounce is reload.debounce; MaxReloadDebounce bounds it.
	DefaultReloadDebounce = 500 * time.Millisecond
	MaxReloadDebounce     = time.Minute
	// Bounds of the clock settings.
	MaxClockSkew = 5 * time.Minute
	MaxProofAge  = 10 * time.Minute
)

// DefaultDPoPAlgorithms are the proof algorithms accepted by default.
func DefaultDPoPAlgorithms() []string { return []string{"ES256", "EdDSA", "PS256", "RS256"} }

// Config is the whole service configuration.
type Config struct {
	Log             Log                     `koanf:"log" yaml:"log"`
	Server          Server                  `koanf:"server" yaml:"server"`
	Authority       Authority               `koanf:"authority" yaml:"authority"`
	Signing         Signing                 `koanf:"signing" yaml:"signing"`
	Registry        Registry                `koanf:"registry" yaml:"registry"`
	Plans           map[string][]plans.Rule `koanf:"plans" yaml:"plans"`
	DefaultPlan     string                  `koanf:"defaultPlan" yaml:"defaultPlan"`
	RevokedLicenses []string                `koanf:"revokedLicenses" yaml:"revokedLicenses"`
	Policy          Policy                  `koanf:"policy" yaml:"policy"`
	Reload          Reload                  `koanf:"reload" yaml:"reload"`
}

// Reload configures how the service notices a changed configuration.
// SIGHUP always reloads.
type Reload struct {
	// Watch also reloads when the configuration file, a signing key file,
	// a password file or policy.caFile changes (Kubernetes ConfigMap and
	// Secret volume updates included).
	Watch bool `koanf:"watch" yaml:"watch"`
	// Debounce is the quiet time after a change before the reload.
	Debounce time.Duration `koanf:"debounce" yaml:"debounce"`
}

// Policy configures the optional flex-auth check made after the plan
// check (POST {url}/v1/check per granted access). An empty URL disables it.
type Policy struct {
	URL string `koanf:"url" yaml:"url"`
	// Timeout bounds all the checks of one token request together.
	Timeout time.Duration `koanf:"timeout" yaml:"timeout"`
	// FailClosed denies issuance (503) when flex-auth is unreachable, slow
	// or answers nonsense. When false, such an outage keeps the plan's
	// grant (logged as a warning and counted); it never grants more.
	FailClosed bool `koanf:"failClosed" yaml:"failClosed"`
	// CAFile is a PEM bundle of the CA certificates flex-auth's server
	// certificate is verified against instead of the system roots (an
	// https url with a private CA). Empty: the system roots.
	CAFile string `koanf:"caFile" yaml:"caFile"`
	// CertFile and KeyFile are the client certificate and key (PEM)
	// presented to flex-auth over https, for a flex-auth that
	// authenticates its callers (auth.clientCertificates). Read again when
	// they change. Empty: no client certificate.
	CertFile string `koanf:"certFile" yaml:"certFile"`
	KeyFile  string `koanf:"keyFile" yaml:"keyFile"`
}

// Enabled reports whether the policy call is configured.
func (p Policy) Enabled() bool { return p.URL != "" }

// Log configures the zap logger.
type Log struct {
	Level string `koanf:"level" yaml:"level"`
}

// Server configures the HTTP listener.
type Server struct {
	Addr string `koanf:"addr" yaml:"addr"`
	// PublicURL is the externally visible base URL; DPoP htu is
	// PublicURL + request path, never derived from Host or X-Forwarded-*.
	PublicURL      string   `koanf:"publicUrl" yaml:"publicUrl"`
	TLS            TLS      `koanf:"tls" yaml:"tls"`
	TrustedProxies []string `koanf:"trustedProxies" yaml:"trustedProxies"`
	// ClientCertHeader is the header trusted proxies forward the client
	// certificate in: Client-Cert (RFC 9440), X-Forwarded-Client-Cert or
	// Ssl-Client-Cert.
	ClientCertHeader string `koanf:"clientCertHeader" yaml:"clientCertHeader"`
	// MaxConnectionAge: a connection older than this is closed after its
	// next answer, so clients handshake again (a rotated client CA takes
	// effect). 0: no limit. Read at start only.
	MaxConnectionAge time.Duration `koanf:"maxConnectionAge" yaml:"maxConnectionAge"`
}

// TLS enables HTTPS; ClientCAFile additionally requests client certificates
// (verified against it) for mTLS-bound tokens.
type TLS struct {
	CertFile     string `koanf:"certFile" yaml:"certFile"`
	KeyFile      string `koanf:"keyFile" yaml:"keyFile"`
	ClientCAFile string `koanf:"clientCaFile" yaml:"clientCaFile"`
}

// Enabled reports whether the listener serves TLS.
func (t TLS) Enabled() bool { return t.CertFile != "" || t.KeyFile != "" }

// Authority describes the OpTok issuer.
type Authority struct {
	Issuer               string `koanf:"issuer" yaml:"issuer"`
	MetadataURL          string `koanf:"metadataUrl" yaml:"metadataUrl"`
	RequireHTTPSMetadata bool   `koanf:"requireHttpsMetadata" yaml:"requireHttpsMetadata"`
	// CAFile is a PEM bundle of CA certificates trusted for discovery and
	// JWKS fetches in addition to the system roots (an Authority behind a
	// private CA). Read again when it changes.
	CAFile           string   `koanf:"caFile" yaml:"caFile"`
	Audiences        []string `koanf:"audiences" yaml:"audiences"`
	RequiredScopes   []string `koanf:"requiredScopes" yaml:"requiredScopes"`
	SenderConstraint string   `koanf:"senderConstraint" yaml:"senderConstraint"`
	// ClockSkew tolerated on OpTok exp/nbf/iat.
	ClockSkew time.Duration `koanf:"clockSkew" yaml:"clockSkew"`
	// MaxTokenLifetime, when positive, refuses OpToks whose exp - iat is
	// longer, and OpToks without iat. 0: no limit.
	MaxTokenLifetime time.Duration `koanf:"maxTokenLifetime" yaml:"maxTokenLifetime"`
	// RequireAccessTokenType refuses OpToks whose header typ is not
	// at+jwt or application/at+jwt (RFC 9068 §4).
	RequireAccessTokenType bool `koanf:"requireAccessTokenType" yaml:"requireAccessTokenType"`
	// JWKSRefreshInterval is how often the JWKS is re-fetched.
	JWKSRefreshInterval time.Duration `koanf:"jwksRefreshInterval" yaml:"jwksRefreshInterval"`
	// JWKSMaxStale: without a successful JWKS refresh for this long the
	// cached keys are dropped, OpToks are refused and /readyz answers 503.
	JWKSMaxStale time.Duration `koanf:"jwksMaxStale" yaml:"jwksMaxStale"`
	// TokenCacheSize bounds the cache of verified OpToks.
	TokenCacheSize int         `koanf:"tokenCacheSize" yaml:"tokenCacheSize"`
	DPoP           DPoP        `koanf:"dpop" yaml:"dpop"`
	ReplayCache    ReplayCache `koanf:"replayCache" yaml:"replayCache"`
}

// DPoP configures proof verification.
type DPoP struct {
	MaxAge     time.Duration `koanf:"maxAge" yaml:"maxAge"`
	ClockSkew  time.Duration `koanf:"clockSkew" yaml:"clockSkew"`
	Algorithms []string      `koanf:"algorithms" yaml:"algorithms"`
	// RequireNonce makes every proof carry a server nonce (DPoP-Nonce).
	// Nonces are also what lets fresh proofs through right after the
	// replay cache's epoch changes (a restart, a Redis flush or
	// failover): such proofs are answered 401 use_dpop_nonce once. They
	// are keyed by NonceKeyFile (one base64 key a line, the first issues,
	// all verify: rotation; shared by replicas through a Secret), or by
	// NonceKey (>= 32 bytes); with neither, by a random key of the
	// process, which only fits a single replica.
	RequireNonce bool   `koanf:"requireNonce" yaml:"requireNonce"`
	NonceKey     string `koanf:"nonceKey" yaml:"nonceKey"`
	NonceKeyFile string `koanf:"nonceKeyFile" yaml:"nonceKeyFile"`
}

// NonceKeys returns the keys of NonceKeyFile or NonceKey, or none (a
// random key is then made at start).
func (d DPoP) NonceKeys() ([][]byte, error) {
	if d.NonceKeyFile != "" {
		b, err := os.ReadFile(d.NonceKeyFile)
		if err != nil {
			return nil, fmt.Errorf("authority.dpop.nonceKeyFile: %w", err)
		}
		keys, err := dpop.ParseNonceKeys(b)
		if err != nil {
			return nil, fmt.Errorf("authority.dpop.nonceKeyFile %s: %w", d.NonceKeyFile, err)
		}
		return keys, nil
	}
	if d.NonceKey != "" {
		return [][]byte{[]byte(d.NonceKey)}, nil
	}
	return nil, nil
}

// ReplayCache selects where seen proof ids are kept: memory, or Redis
// (one server, Sentinel or Cluster), as in flex-auth.
type ReplayCache = replaystore.Config

// Signing configures the registry token signer: one key (KeyFile, the
// simple case) or a rotation set (Keys).
type Signing struct {
	Issuer          string        `koanf:"issuer" yaml:"issuer"`
	KeyFile         string        `koanf:"keyFile" yaml:"keyFile"`
	KeyPassword     string        `koanf:"keyPassword" yaml:"keyPassword"`
	KeyPasswordFile string        `koanf:"keyPasswordFile" yaml:"keyPasswordFile"`
	KeyID           string        `koanf:"keyId" yaml:"keyId"`
	Lifetime        time.Duration `koanf:"lifetime" yaml:"lifetime"`
	// Keys, when not empty, replaces KeyFile: exactly one active key signs,
	// next and retired keys are only published.
	Keys []SigningKey `koanf:"keys" yaml:"keys"`
}

// Registry describes the registry the tokens are for.
type Registry struct {
	Realm    string   `koanf:"realm" yaml:"realm"`
	Services []string `koanf:"services" yaml:"services"`
}

// Defaults returns the configuration used before the file and environment
// are applied.
func Defaults() Config {
	return Config{
		Log: Log{Level: DefaultLogLevel},
		Server: Server{Addr: DefaultAddr, TrustedProxies: []string{}, ClientCertHeader: DefaultClientCertHeader,
			MaxConnectionAge: httpx.DefaultMaxConnectionAge},
		Authority: Authority{
			RequireHTTPSMetadata: true,
			Audiences:            []string{DefaultAudience},
			RequiredScopes:       []string{DefaultRequiredScope},
			SenderConstraint:     SenderConstraintRequire,
			ClockSkew:            DefaultClockSkew,
			JWKSRefreshInterval:  DefaultJWKSRefresh,
			JWKSMaxStale:         DefaultJWKSMaxStale,
			TokenCacheSize:       DefaultTokenCacheSize,
			DPoP: DPoP{
				MaxAge:     DefaultDPoPMaxAge,
				ClockSkew:  DefaultDPoPClockSkew,
				Algorithms: DefaultDPoPAlgorithms(),
			},
			ReplayCache: replaystore.Defaults(),
		},
		Signing: Signing{
			Issuer:   DefaultSigningIssuer,
			KeyFile:  DefaultKeyFile,
			Lifetime: DefaultLifetime,
		},
		Registry:        Registry{Services: []string{}},
		DefaultPlan:     DefaultDefaultPlan,
		RevokedLicenses: []string{},
		Policy:          Policy{Timeout: DefaultPolicyTimeout, FailClosed: true},
		Reload:          Reload{Debounce: DefaultReloadDebounce},
	}
}

// Load reads file (empty: defaults and environment only) and the
// REGISTRY_TOKEN_ variables of environ, then validates. The error lists
// every unknown key, undecodable value and invalid setting.
func Load(file string, environ []string) (Config, error) {
	return load(konfig.Source{File: file, EnvPrefix: EnvPrefix, Environ: environ})
}

// LoadData is Load on YAML content instead of a file.
func LoadData(data []byte, environ []string) (Config, error) {
	return load(konfig.Source{Data: data, EnvPrefix: EnvPrefix, Environ: environ})
}

func load(src konfig.Source) (Config, error) {
	cfg := Config{}
	loadErr := konfig.Load(Defaults(), src, &cfg)
	if loadErr != nil && reflect.ValueOf(cfg).IsZero() {
		return cfg, loadErr // unreadable file or YAML: nothing to validate
	}
	cfg.Signing.normalize()
	// Validate even when loading reported problems (unknown keys, bad
	// values), so that an operator sees every problem at once.
	if err := errors.Join(loadErr, cfg.Validate()); err != nil {
		return cfg, err
	}
	return cfg, nil
}
