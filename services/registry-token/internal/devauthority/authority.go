package devauthority

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Paths served by the Authority handler, relative to the issuer URL.
const (
	DiscoveryPath = "/.well-known/openid-configuration"
	JWKSPath      = "/jwks.json"
	TokenPath     = "/token"
)

// Defaults for minted tokens.
const (
	DefaultTTL      = 5 * time.Minute
	DefaultScope    = "registry.token.issue"
	DefaultAudience = "registry"
)

// Claim names the registry-token service reads from an OpTok.
const (
	ClaimPlan    = "stellaops:plan"
	ClaimLicense = "stellaops:license"
)

// ProofVerifier checks the DPoP proof of a token request (RFC 9449 §4.3)
// sent to htu with method POST and returns the RFC 7638 thumbprint of the
// proof's public key, which the minted OpTok is bound to (cnf.jkt).
type ProofVerifier func(r *http.Request, htu string) (jkt string, err error)

// Options configures an Authority.
type Options struct {
	// Issuer is the Authority's base URL ("http://127.0.0.1:5001"); it is
	// the iss claim and the prefix of every URL in the discovery document.
	Issuer string
	// Audience is the default aud of minted tokens (default ["registry"]).
	Audience []string
	// Now is the clock (default time.Now).
	Now func() time.Time
	// VerifyProof checks DPoP proofs at the token endpoint; use
	// NewDPoPVerifier. Without it the token endpoint only mints mTLS-bound
	// tokens (for TLS client certificates) and answers DPoP requests with
	// 501.
	VerifyProof ProofVerifier
}

// Authority is a development OIDC issuer with in-memory ES256 keys. It is
// safe for concurrent use.
type Authority struct {
	issuer   string
	audience []string
	now      func() time.Time
	verify   ProofVerifier

	mu   sync.RWMutex
	keys []*signingKey // keys[len-1] signs; all are published
	jwks []byte        // cached JWK Set of keys
}

// New returns an Authority with one freshly generated signing key.
func New(opts Options) (*Authority, error) {
	u, err := url.Parse(opts.Issuer)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("devauthority: issuer %q is not an absolute http(s) URL", opts.Issuer)
	}
	a := &Authority{
		issuer:   strings.TrimSuffix(opts.Issuer, "/"),
		audience: opts.Audience,
		now:      opts.Now,
		verify:   opts.VerifyProof,
	}
	if len(a.audience) == 0 {
		a.audience = []string{DefaultAudience}
	}
	if a.now == nil {
		a.now = time.Now
	}
	if _, err := a.Rotate(false); err != nil {
		return nil, err
	}
	return a, nil
}

// Issuer returns the iss value of minted tokens.
func (a *Authority) Issuer() string { return a.issuer }

// MetadataURL returns the OIDC discovery URL to configure as
// authority.metadataUrl.
func (a *Authority) MetadataURL() string { return a.issuer + DiscoveryPath }

// TokenURL returns the token endpoint (the htu of token-request proofs).
func (a *Authority) TokenURL() string { return a.issuer + TokenPath }

// Rotate generates a new signing key, publishes it and signs with it from
// now on. With removeOld, every earlier key is unpublished, so tokens signed
// with them stop verifying once a relying party refreshes the JWKS. It
// returns the new key id.
func (a *Authority) Rotate(removeOld bool) (string, error) {
	k, err := newSigningKey()
	if err != nil {
		return "", err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	keys := []*signingKey{k}
	if !removeOld {
		keys = append(append([]*signingKey(nil), a.keys...), k)
	}
	doc, err := jwksJSON(keys)
	if err != nil {
		return "", fmt.Errorf("devauthority: encode jwks: %w", err)
	}
	a.keys, a.jwks = keys, doc
	return k.kid, nil
}

// KeyIDs returns the published key ids, the signing key last.
func (a *Authority) KeyIDs() []string {
	a.mu.RLock()
	defer a.mu.RUnlock()
	ids := make([]string, len(a.keys))
	for i, k := range a.keys {
		ids[i] = k.kid
	}
	return ids
}

// JWKS returns the published JWK Set document.
func (a *Authority) JWKS() []byte {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return append([]byte(nil), a.jwks...)
}

func (a *Authority) currentKey() *signingKey {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.keys[len(a.keys)-1]
}
