package authority

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/stellaops/authgate/pkg/jwks"
)

// Validation errors. Each wraps nothing that came from the token, so the
// messages are safe to log; callers map them with errors.Is.
var (
	ErrNotReady          = jwks.ErrNotReady
	ErrMalformed         = jwks.ErrMalformed
	ErrAlgorithm         = jwks.ErrAlgorithm
	ErrUnknownKey        = jwks.ErrUnknownKey
	ErrSignature         = jwks.ErrSignature
	ErrIssuer            = errors.New("optok issuer mismatch")
	ErrAudience          = errors.New("optok audience mismatch")
	ErrExpired           = jwks.ErrExpired
	ErrNotYetValid       = jwks.ErrNotYetValid
	ErrInsufficientScope = errors.New("optok lacks a required scope")
	// ErrLifetime: exp - iat is longer than authority.maxTokenLifetime,
	// or iat is missing while that limit is set.
	ErrLifetime = errors.New("optok lifetime exceeds authority.maxTokenLifetime")
	// ErrTokenType: the JWS header typ is not at+jwt (RFC 9068) while
	// authority.requireAccessTokenType is set.
	ErrTokenType = errors.New("optok header typ is not at+jwt (authority.requireAccessTokenType)")
)

// OpTok is a validated Authority token, reduced to what the service needs.
type OpTok struct {
	Subject string
	// Plan and License are the stellaops:plan and stellaops:license claims.
	Plan    string
	License string
	// ClientID is the client_id claim (RFC 9068), when present.
	ClientID string
	Scopes   []string
	// JKT is cnf.jkt (DPoP key thumbprint), X5T is cnf.x5t#S256.
	JKT    string
	X5T    string
	Expiry time.Time
	// Hash is base64url(SHA-256(token)), the DPoP ath.
	Hash string
	// kid and key are the key that verified the token: a cached token is
	// used only while the JWKS holds that very key.
	kid string
	key jwk.Key
	// times are the decoded exp, nbf and iat, checked on every use.
	times jwks.Times
}

// claimBytes is about how much claim text t keeps (what the cache bounds).
func (t *OpTok) claimBytes() int {
	n := len(t.Subject) + len(t.Plan) + len(t.License) + len(t.ClientID) + len(t.JKT) + len(t.X5T) + len(t.kid)
	for _, s := range t.Scopes {
		n += len(s) + 16 // the string header in the slice
	}
	return n
}

// Bound reports whether the token carries a sender constraint.
func (t *OpTok) Bound() bool { return t.JKT != "" || t.X5T != "" }

type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*a = audience{s}
		return nil
	}
	var l []string
	if err := json.Unmarshal(b, &l); err != nil {
		return err
	}
	*a = l
	return nil
}

type claims struct {
	Iss string   `json:"iss"`
	Sub string   `json:"sub"`
	Aud audience `json:"aud"`
	jwks.TimeClaims
	Scope   string          `json:"scope"`
	Scp     json.RawMessage `json:"scp"`
	Plan    string          `json:"stellaops:plan"`
	License string          `json:"stellaops:license"`
	Client  json.RawMessage `json:"client_id"`
	Cnf     struct {
		JKT string `json:"jkt"`
		X5T string `json:"x5t#S256"`
	} `json:"cnf"`
}

// Validate checks raw and returns the OpTok. The signature and the claims
// that do not depend on the clock are checked once per token: the result is
// cached by the SHA-256 of raw until exp, while the JWKS holds the key that
// verified it, and until Forget. The time claims (exp, nbf, iat,
// MaxTokenLifetime) and the required scopes are checked on every call.
func (c *Client) Validate(ctx context.Context, raw string) (*OpTok, error) {
	sum := sha256.Sum256([]byte(raw))
	now := c.cfg.Now()
	tok, ok := c.cache.get(sum, now)
	if ok && !c.keys.Holds(tok.kid, tok.key) {
		// The key that verified it was withdrawn (or its kid now names
		// other material): verify again, which refuses the token.
		c.cache.drop(sum)
		ok = false
	}
	if !ok {
		var err error
		tok, err = c.verify(ctx, raw)
		if err != nil {
			return nil, err
		}
		tok.Hash = base64.RawURLEncoding.EncodeToString(sum[:])
		if err := c.checkTimes(tok.times, now); err != nil {
			return nil, err
		}
		c.cache.put(sum, tok, now)
	} else if err := c.checkTimes(tok.times, now); err != nil {
		return nil, err
	}
	for _, want := range c.cfg.RequiredScopes {
		if !contains(tok.Scopes, want) {
			return nil, &ScopeError{Missing: want}
		}
	}
	return tok, nil
}

// Forget empties the verified-OpTok cache: every token is verified again
// on its next use (a configuration reload calls it).
func (c *Client) Forget() { c.cache.purge() }

// CachedTokens is the number of verified OpToks cached now.
func (c *Client) CachedTokens() int { return c.cache.len() }

func (c *Client) verify(ctx context.Context, raw string) (*OpTok, error) {
	v, err := c.keys.Verify(ctx, raw)
	if err != nil {
		return nil, err
	}
	if c.cfg.RequireAccessTokenType && !jwks.IsAccessTokenType(v.Typ) {
		return nil, ErrTokenType
	}
	var cl claims
	if err := json.Unmarshal(v.Payload, &cl); err != nil {
		return nil, fmt.Errorf("%w: claims", ErrMalformed)
	}
	tok, err := c.checkClaims(&cl)
	if err != nil {
		return nil, err
	}
	tok.kid, tok.key = v.Kid, v.Key
	return tok, nil
}

// checkTimes checks exp, nbf and iat against now and the clock skew, and
// exp - iat against MaxTokenLifetime.
func (c *Client) checkTimes(t jwks.Times, now time.Time) error {
	if err := t.Check(now, c.cfg.ClockSkew); err != nil {
		return err
	}
	if limit := c.cfg.MaxTokenLifetime; limit > 0 {
		if t.Iat.IsZero() {
			return fmt.Errorf("%w: no iat", ErrLifetime)
		}
		if life := t.Exp.Sub(t.Iat); life > limit {
			return fmt.Errorf("%w: exp - iat is %s, the limit %s", ErrLifetime, life, limit)
		}
	}
	return nil
}

// checkClaims checks the claims that do not depend on the clock and
// decodes the time claims (a malformed one is ErrMalformed).
func (c *Client) checkClaims(cl *claims) (*OpTok, error) {
	if cl.Iss != c.cfg.Issuer {
		return nil, ErrIssuer
	}
	if !anyOf(cl.Aud, c.cfg.Audiences) {
		return nil, ErrAudience
	}
	if cl.Sub == "" {
		return nil, fmt.Errorf("%w: no sub", ErrMalformed)
	}
	// exp is required; exp, nbf and iat must be JSON numbers.
	times, err := cl.Decode()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	scopes, err := scopeList(cl.Scope, cl.Scp)
	if err != nil {
		return nil, err
	}
	return &OpTok{
		Subject:  cl.Sub,
		Plan:     cl.Plan,
		License:  cl.License,
		ClientID: stringClaim(cl.Client),
		Scopes:   scopes,
		JKT:      cl.Cnf.JKT,
		X5T:      cl.Cnf.X5T,
		Expiry:   times.Exp,
		times:    times,
	}, nil
}

// stringClaim returns a claim that is a JSON string, else "" (an
// informational claim of another type does not invalidate the token).
func stringClaim(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

// scopeList merges the space-separated scope string and the scp array
// (an array, or a string as some issuers send it).
func scopeList(scope string, scp json.RawMessage) ([]string, error) {
	out := strings.Fields(scope)
	if len(scp) == 0 || string(scp) == "null" {
		return out, nil
	}
	var list []string
	if err := json.Unmarshal(scp, &list); err != nil {
		var s string
		if err := json.Unmarshal(scp, &s); err != nil {
			return nil, fmt.Errorf("%w: scp", ErrMalformed)
		}
		list = strings.Fields(s)
	}
	return append(out, list...), nil
}

func anyOf(have, want []string) bool {
	for _, h := range have {
		if contains(want, h) {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// ScopeError is the error of an OpTok without a required scope; it is
// ErrInsufficientScope and names the scope missing.
type ScopeError struct{ Missing string }

func (e *ScopeError) Error() string { return ErrInsufficientScope.Error() + ": " + e.Missing }

// Is makes a ScopeError match ErrInsufficientScope.
func (e *ScopeError) Is(target error) bool { return target == ErrInsufficientScope }
