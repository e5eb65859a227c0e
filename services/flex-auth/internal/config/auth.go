package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/stellaops/authgate/pkg/dpop"
	"github.com/stellaops/authgate/pkg/replaystore"
)

// AuthConfig is the optional caller authentication of the decision
// endpoints. It is off while Issuer is empty.
type AuthConfig struct {
	Issuer               string `koanf:"issuer"`
	MetadataURL          string `koanf:"metadataUrl"`
	RequireHTTPSMetadata bool   `koanf:"requireHttpsMetadata"`
	// CAFile is a PEM bundle of CA certificates trusted for discovery and
	// JWKS fetches in addition to the system roots (an Authority behind a
	// private CA). Read again when it changes.
	CAFile         string        `koanf:"caFile"`
	Audiences      []string      `koanf:"audiences"`
	RequiredScopes []string      `koanf:"requiredScopes"`
	PublicURL      string        `koanf:"publicUrl"`
	DPoPMaxAge     time.Duration `koanf:"dpopMaxAge"`
	DPoPClockSkew  time.Duration `koanf:"dpopClockSkew"`
	// DPoPNonceKeyFile keys the server nonces that let fresh proofs
	// through right after a new replay epoch (one base64 key a line, the
	// first issues, all verify); shared by replicas. Empty: a random key
	// per process (one replica).
	DPoPNonceKeyFile string `koanf:"dpopNonceKeyFile"`
	// JWKSRefreshInterval and JWKSMaxStale: the Authority's keys are
	// fetched again this often, and dropped (callers refused with 503)
	// after this long without a successful fetch.
	JWKSRefreshInterval time.Duration `koanf:"jwksRefreshInterval"`
	JWKSMaxStale        time.Duration `koanf:"jwksMaxStale"`
	// ReplayCache holds the DPoP proofs seen: memory (one replica) or
	// Redis (one server, Sentinel or Cluster; shared by every replica).
	ReplayCache ReplayCacheConfig `koanf:"replayCache"`
	// ClientCertificates: subject DNs or SANs of client certificates
	// (verified against server.tls.clientCaFile) accepted without a token.
	ClientCertificates []string `koanf:"clientCertificates"`
}

// ReplayCacheConfig selects the DPoP replay cache, as in registry-token.
type ReplayCacheConfig = replaystore.Config

// The replay cache backends.
const (
	ReplayBackendMemory = replaystore.BackendMemory
	ReplayBackendRedis  = replaystore.BackendRedis
)

// NonceKeys reads auth.dpopNonceKeyFile (none when it is empty).
func (a AuthConfig) NonceKeys() ([][]byte, error) {
	if a.DPoPNonceKeyFile == "" {
		return nil, nil
	}
	b, err := os.ReadFile(a.DPoPNonceKeyFile)
	if err != nil {
		return nil, fmt.Errorf("auth.dpopNonceKeyFile: %w", err)
	}
	keys, err := dpop.ParseNonceKeys(b)
	if err != nil {
		return nil, fmt.Errorf("auth.dpopNonceKeyFile %s: %w", a.DPoPNonceKeyFile, err)
	}
	return keys, nil
}

// Enabled reports whether caller authentication is configured: tokens of
// an Authority (issuer), allowed client certificates, or both.
func (a AuthConfig) Enabled() bool { return a.Issuer != "" || len(a.ClientCertificates) > 0 }

// validate reports the problems of an enabled auth section.
func (a AuthConfig) validate(tls TLSConfig) []error {
	var errs []error
	if a.Issuer != "" {
		if a.MetadataURL == "" {
			errs = append(errs, errors.New("auth.metadataUrl is required when auth.issuer is set"))
		}
		if len(a.Audiences) == 0 {
			errs = append(errs, errors.New("auth.audiences is required when auth.issuer is set"))
		}
		if a.PublicURL == "" {
			errs = append(errs, errors.New("auth.publicUrl (the URL callers use, for DPoP htu) is required when auth.issuer is set"))
		}
		if a.JWKSRefreshInterval < time.Second {
			errs = append(errs, fmt.Errorf("auth.jwksRefreshInterval: %s is shorter than 1s", a.JWKSRefreshInterval))
		}
		if a.JWKSMaxStale <= a.JWKSRefreshInterval {
			errs = append(errs, fmt.Errorf("auth.jwksMaxStale: %s is not longer than auth.jwksRefreshInterval (%s)", a.JWKSMaxStale, a.JWKSRefreshInterval))
		}
	}
	errs = append(errs, a.ReplayCache.Validate("auth.replayCache")...)
	if _, err := a.NonceKeys(); err != nil {
		errs = append(errs, err)
	}
	if len(a.ClientCertificates) > 0 && tls.ClientCAFile == "" {
		errs = append(errs, errors.New("auth.clientCertificates requires server.tls.clientCaFile (the CA that verifies them)"))
	}
	for i, n := range a.ClientCertificates {
		switch {
		case strings.TrimSpace(n) == "":
			errs = append(errs, fmt.Errorf("auth.clientCertificates[%d] is empty", i))
		case strings.TrimSpace(n) != n:
			errs = append(errs, fmt.Errorf("auth.clientCertificates[%d] %q has leading or trailing spaces (entries are matched exactly)", i, n))
		}
	}
	return errs
}

// checkPublicURL reports whether raw can be auth.publicUrl: an absolute
// http(s) URL (http, as registry-token's server.publicUrl, for development
// and behind a proxy that ends TLS) with a host, maybe a base path, and no
// user information, query or fragment (the DPoP htu and the AuthZEN
// metadata endpoints are this URL + a path).
func checkPublicURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("auth.publicUrl: %q is not a URL", raw)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Hostname() == "" {
		return fmt.Errorf("auth.publicUrl: %q is not an absolute http(s) URL", raw)
	}
	if u.User != nil {
		return fmt.Errorf("auth.publicUrl: %q must not carry user information", raw)
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.ContainsAny(raw, "?#") {
		return fmt.Errorf("auth.publicUrl: %q must not carry a query or fragment", raw)
	}
	return nil
}
