package devauthority

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// Grant describes the OpTok to mint.
type Grant struct {
	Subject string
	// Plan and License become stellaops:plan and stellaops:license; empty
	// values leave the claim out.
	Plan    string
	License string
	// Scopes becomes the space-separated scope claim; nil or empty leaves it
	// out (a token without the required scope).
	Scopes []string
	// Audience becomes aud; empty means the Authority's default audience.
	Audience []string
	// TTL sets exp = iat + TTL; zero means DefaultTTL and a negative value
	// mints a token that has already expired.
	TTL time.Duration
	// JKT binds the token to a DPoP key (cnf.jkt, RFC 9449 §6).
	JKT string
	// CertThumbprint binds the token to a client certificate
	// (cnf.x5t#S256, RFC 8705 §3.1); see CertThumbprint.
	CertThumbprint string
}

// MintOption changes a token after its claims are built from a Grant, for
// negative tests.
type MintOption func(*mintRequest)

type mintRequest struct {
	claims  map[string]any
	headers map[string]any
	foreign bool // sign with a throwaway key that is never published
}

// WithClaim sets (or replaces) a claim.
func WithClaim(name string, value any) MintOption {
	return func(m *mintRequest) { m.claims[name] = value }
}

// WithoutClaim removes a claim (e.g. "exp", "cnf", "scope").
func WithoutClaim(name string) MintOption {
	return func(m *mintRequest) { delete(m.claims, name) }
}

// WithHeader sets a protected header (e.g. "typ", or a "kid" that does not
// exist).
func WithHeader(name string, value any) MintOption {
	return func(m *mintRequest) { m.headers[name] = value }
}

// WithUnpublishedKey signs with a fresh key that never appears in the JWKS,
// so the signature cannot be verified.
func WithUnpublishedKey() MintOption {
	return func(m *mintRequest) { m.foreign = true }
}

// MintDPoP mints an OpTok bound to the DPoP key with thumbprint jkt.
func (a *Authority) MintDPoP(sub, plan, license, jkt string, scopes, aud []string, ttl time.Duration, opts ...MintOption) (string, error) {
	return a.Mint(Grant{Subject: sub, Plan: plan, License: license, Scopes: scopes, Audience: aud, TTL: ttl, JKT: jkt}, opts...)
}

// MintMTLS mints an OpTok bound to the client certificate with SHA-256
// thumbprint certThumbprint (see CertThumbprint).
func (a *Authority) MintMTLS(sub, plan, license, certThumbprint string, scopes, aud []string, ttl time.Duration, opts ...MintOption) (string, error) {
	return a.Mint(Grant{Subject: sub, Plan: plan, License: license, Scopes: scopes, Audience: aud, TTL: ttl, CertThumbprint: certThumbprint}, opts...)
}

// Mint signs an OpTok for g with the current key. A Grant with neither JKT
// nor CertThumbprint yields an unbound (plain bearer) token.
func (a *Authority) Mint(g Grant, opts ...MintOption) (string, error) {
	now := a.now()
	ttl := g.TTL
	if ttl == 0 {
		ttl = DefaultTTL
	}
	aud := g.Audience
	if len(aud) == 0 {
		aud = a.audience
	}
	jti, err := randomID()
	if err != nil {
		return "", err
	}
	m := &mintRequest{
		claims: map[string]any{
			"iss": a.issuer,
			"sub": g.Subject,
			"aud": aud,
			"iat": now.Unix(),
			"nbf": now.Unix(),
			"exp": now.Add(ttl).Unix(),
			"jti": jti,
		},
		headers: map[string]any{"typ": "at+jwt"},
	}
	if g.Subject == "" {
		delete(m.claims, "sub")
	}
	if len(g.Scopes) > 0 {
		m.claims["scope"] = strings.Join(g.Scopes, " ")
	}
	if g.Plan != "" {
		m.claims[ClaimPlan] = g.Plan
	}
	if g.License != "" {
		m.claims[ClaimLicense] = g.License
	}
	cnf := map[string]string{}
	if g.JKT != "" {
		cnf["jkt"] = g.JKT
	}
	if g.CertThumbprint != "" {
		cnf["x5t#S256"] = g.CertThumbprint
	}
	if len(cnf) > 0 {
		m.claims["cnf"] = cnf
	}
	for _, o := range opts {
		o(m)
	}
	return a.sign(m)
}

func (a *Authority) sign(m *mintRequest) (string, error) {
	key := a.currentKey()
	if m.foreign {
		k, err := newSigningKey()
		if err != nil {
			return "", err
		}
		key = k
	}
	payload, err := json.Marshal(m.claims)
	if err != nil {
		return "", fmt.Errorf("devauthority: encode claims: %w", err)
	}
	hdr := jws.NewHeaders()
	for name, v := range m.headers {
		if err := hdr.Set(name, v); err != nil {
			return "", fmt.Errorf("devauthority: header %s: %w", name, err)
		}
	}
	if _, ok := m.headers["kid"]; !ok {
		if err := hdr.Set(jws.KeyIDKey, key.kid); err != nil {
			return "", fmt.Errorf("devauthority: header kid: %w", err)
		}
	}
	tok, err := jws.Sign(payload, jws.WithKey(jwa.ES256, key.raw, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		return "", fmt.Errorf("devauthority: sign: %w", err)
	}
	return string(tok), nil
}

// CertThumbprint returns the RFC 8705 x5t#S256 value of cert: the
// base64url SHA-256 of its DER encoding.
func CertThumbprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func randomID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("devauthority: random id: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}
