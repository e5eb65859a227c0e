package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/stellaops/authgate/pkg/plans"
	"go.uber.org/zap/zapcore"
)

// IsSupportedAlgorithm reports whether alg is an asymmetric JWS algorithm
// the service can verify (DPoP proofs and OpToks).
func IsSupportedAlgorithm(alg string) bool {
	switch alg {
	case "ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA", "Ed25519":
		return true
	}
	return false
}

// Validate checks every setting and returns all problems joined.
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if _, err := zapcore.ParseLevel(c.Log.Level); err != nil {
		add("log.level: %q is not one of debug, info, warn, error", c.Log.Level)
	}

	// server
	if _, _, err := net.SplitHostPort(c.Server.Addr); err != nil {
		add("server.addr: %q is not host:port", c.Server.Addr)
	}
	if c.Server.MaxConnectionAge < 0 {
		add("server.maxConnectionAge: %s is negative (0 for no limit)", c.Server.MaxConnectionAge)
	}
	if c.Server.PublicURL == "" {
		add("server.publicUrl: required (DPoP htu is publicUrl + request path)")
	} else if u, err := absURL(c.Server.PublicURL); err != nil {
		add("server.publicUrl: %v", err)
	} else if u.RawQuery != "" || u.Fragment != "" {
		add("server.publicUrl: %q must not carry a query or fragment", c.Server.PublicURL)
	}
	t := c.Server.TLS
	if (t.CertFile == "") != (t.KeyFile == "") {
		add("server.tls: certFile and keyFile must be set together")
	}
	if t.ClientCAFile != "" && !t.Enabled() {
		add("server.tls.clientCaFile: requires certFile and keyFile")
	}
	switch http.CanonicalHeaderKey(c.Server.ClientCertHeader) {
	case "Client-Cert", "X-Forwarded-Client-Cert", "Ssl-Client-Cert":
	default:
		add("server.clientCertHeader: %q is not Client-Cert, X-Forwarded-Client-Cert or Ssl-Client-Cert", c.Server.ClientCertHeader)
	}
	for i, p := range c.Server.TrustedProxies {
		if _, err := ParseCIDR(p); err != nil {
			add("server.trustedProxies[%d]: %q is not a CIDR or IP address", i, p)
		}
	}

	errs = append(errs, c.Authority.validate()...)
	errs = append(errs, c.Signing.validate()...)

	// registry
	if c.Registry.Realm == "" {
		add("registry.realm: required")
	} else if _, err := absURL(c.Registry.Realm); err != nil {
		add("registry.realm: %v", err)
	}
	for i, s := range c.Registry.Services {
		if strings.TrimSpace(s) == "" {
			add("registry.services[%d]: empty service name", i)
		}
	}

	// plans
	if len(c.Plans) == 0 {
		add("plans: at least one plan is required")
	}
	if _, err := plans.NewCatalog(c.Plans); err != nil {
		for _, e := range unjoin(err) {
			add("plans: %v", e)
		}
	}
	if c.DefaultPlan != "" {
		if _, ok := c.Plans[c.DefaultPlan]; !ok {
			add("defaultPlan: %q is not a plan in plans", c.DefaultPlan)
		}
	}
	for i, l := range c.RevokedLicenses {
		if strings.TrimSpace(l) == "" {
			add("revokedLicenses[%d]: empty licence id", i)
		}
	}
	errs = append(errs, c.Policy.validate()...)
	if c.Reload.Debounce < 0 || c.Reload.Debounce > MaxReloadDebounce {
		add("reload.debounce: %s is outside [0, %s]", c.Reload.Debounce, MaxReloadDebounce)
	}
	return errors.Join(errs...)
}

func (p *Policy) validate() []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if p.URL != "" {
		if u, err := absURL(p.URL); err != nil {
			add("policy.url: %q is not an absolute http(s) URL", Redact(p.URL))
		} else if u.RawQuery != "" || u.Fragment != "" {
			add("policy.url: %q must not carry a query or fragment", Redact(p.URL))
		}
	}
	if p.Timeout <= 0 || p.Timeout > MaxPolicyTimeout {
		add("policy.timeout: %s is outside (0, %s]", p.Timeout, MaxPolicyTimeout)
	}
	if p.CAFile != "" {
		if p.URL == "" {
			add("policy.caFile: requires policy.url")
		} else if u, err := url.Parse(p.URL); err == nil && u.Scheme != "https" {
			add("policy.caFile: requires an https:// policy.url (the url is %q)", Redact(p.URL))
		}
		if _, err := p.RootCAs(); err != nil {
			errs = append(errs, err)
		}
	}
	if p.CertFile != "" || p.KeyFile != "" {
		switch {
		case p.CertFile == "" || p.KeyFile == "":
			add("policy.certFile and policy.keyFile must be set together")
		case p.URL == "":
			add("policy.certFile: requires policy.url")
		default:
			if u, err := url.Parse(p.URL); err == nil && u.Scheme != "https" {
				add("policy.certFile: requires an https:// policy.url (the url is %q)", Redact(p.URL))
			}
			if _, err := tls.LoadX509KeyPair(p.CertFile, p.KeyFile); err != nil {
				add("policy.certFile/keyFile: %v", err)
			}
		}
	}
	return errs
}

// RootCAs reads CAFile into the pool flex-auth's certificate is verified
// against; nil (the system roots) when CAFile is empty. Errors name the
// key, as the other validation problems do.
func (p Policy) RootCAs() (*x509.CertPool, error) {
	if p.CAFile == "" {
		return nil, nil
	}
	pemBytes, err := os.ReadFile(p.CAFile)
	if err != nil {
		return nil, fmt.Errorf("policy.caFile: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		return nil, fmt.Errorf("policy.caFile: no PEM certificates in %s", p.CAFile)
	}
	return pool, nil
}

func (a *Authority) validate() []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if a.Issuer == "" {
		add("authority.issuer: required")
	} else if _, err := absURL(a.Issuer); err != nil {
		add("authority.issuer: %v", err)
	}
	if a.MetadataURL == "" {
		add("authority.metadataUrl: required")
	} else if u, err := absURL(a.MetadataURL); err != nil {
		add("authority.metadataUrl: %v", err)
	} else if a.RequireHTTPSMetadata && u.Scheme != "https" {
		add("authority.metadataUrl: %q is not https while requireHttpsMetadata is true", a.MetadataURL)
	}
	if len(a.Audiences) == 0 {
		add("authority.audiences: at least one audience is required")
	}
	for i, s := range a.Audiences {
		if strings.TrimSpace(s) == "" {
			add("authority.audiences[%d]: empty audience", i)
		}
	}
	for i, s := range a.RequiredScopes {
		if strings.TrimSpace(s) == "" || strings.ContainsRune(s, ' ') {
			add("authority.requiredScopes[%d]: %q is not a single scope", i, s)
		}
	}
	switch a.SenderConstraint {
	case SenderConstraintRequire, SenderConstraintOptional:
	default:
		add("authority.senderConstraint: %q is not required or optional", a.SenderConstraint)
	}
	if a.ClockSkew < 0 || a.ClockSkew > MaxClockSkew {
		add("authority.clockSkew: %s is outside [0, %s]", a.ClockSkew, MaxClockSkew)
	}
	if a.MaxTokenLifetime < 0 {
		add("authority.maxTokenLifetime: %s is negative (0 means no limit)", a.MaxTokenLifetime)
	}
	if a.JWKSRefreshInterval < DefaultJWKSMinRefresh {
		add("authority.jwksRefreshInterval: %s is shorter than %s", a.JWKSRefreshInterval, DefaultJWKSMinRefresh)
	}
	if a.JWKSMaxStale <= a.JWKSRefreshInterval {
		add("authority.jwksMaxStale: %s is not longer than authority.jwksRefreshInterval (%s)", a.JWKSMaxStale, a.JWKSRefreshInterval)
	}
	if a.TokenCacheSize < 0 {
		add("authority.tokenCacheSize: %d is negative", a.TokenCacheSize)
	}
	if a.DPoP.MaxAge <= 0 || a.DPoP.MaxAge > MaxProofAge {
		add("authority.dpop.maxAge: %s is outside (0, %s]", a.DPoP.MaxAge, MaxProofAge)
	}
	if a.DPoP.ClockSkew < 0 || a.DPoP.ClockSkew > MaxClockSkew {
		add("authority.dpop.clockSkew: %s is outside [0, %s]", a.DPoP.ClockSkew, MaxClockSkew)
	}
	if len(a.DPoP.Algorithms) == 0 {
		add("authority.dpop.algorithms: at least one algorithm is required")
	}
	for i, alg := range a.DPoP.Algorithms {
		if !IsSupportedAlgorithm(alg) {
			add("authority.dpop.algorithms[%d]: %q is not a supported asymmetric algorithm", i, alg)
		}
	}
	if a.DPoP.NonceKey != "" && len(a.DPoP.NonceKey) < MinNonceKeyLength {
		add("authority.dpop.nonceKey: shorter than %d bytes", MinNonceKeyLength)
	}
	if a.DPoP.NonceKey != "" && a.DPoP.NonceKeyFile != "" {
		add("authority.dpop.nonceKey and nonceKeyFile: set one, not both")
	} else if _, err := a.DPoP.NonceKeys(); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, a.ReplayCache.Validate("authority.replayCache")...)
	return errs
}

// absURL parses an absolute http(s) URL.
func absURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("%q is not a URL", s)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q is not an absolute http(s) URL", s)
	}
	return u, nil
}

// ParseCIDR accepts a CIDR or a single IP address.
func ParseCIDR(s string) (*net.IPNet, error) {
	if _, n, err := net.ParseCIDR(s); err == nil {
		return n, nil
	}
	ip := net.ParseIP(s)
	if ip == nil {
		return nil, fmt.Errorf("%q is not a CIDR", s)
	}
	bits := 128
	if v4 := ip.To4(); v4 != nil {
		ip, bits = v4, 32
	}
	return &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)}, nil
}

// unjoin splits an errors.Join result into its parts.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
