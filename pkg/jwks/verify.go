package jwks

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/stellaops/authgate/pkg/dpop"
)

// Verified is a JWS whose signature checked out.
type Verified struct {
	Payload []byte
	Kid     string
	Alg     string
	// Typ is the protected header's typ, as sent ("" when absent).
	Typ string
	// Key is the key that verified the signature; Holds tells whether it
	// is still published.
	Key jwk.Key
}

type joseHeader struct {
	Alg  string          `json:"alg"`
	Kid  string          `json:"kid"`
	Typ  string          `json:"typ"`
	Crit json.RawMessage `json:"crit"`
}

// Verify checks the compact JWS raw: an asymmetric alg, a kid naming a
// held key (refreshing on a miss, see Key), no crit, the key accepting the
// alg (see Accepts) and the signature. The claims are the caller's to check.
func (c *Cache) Verify(ctx context.Context, raw string) (*Verified, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 || parts[2] == "" {
		return nil, ErrMalformed
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return nil, ErrMalformed
	}
	var h joseHeader
	if err := json.Unmarshal(hb, &h); err != nil {
		return nil, ErrMalformed
	}
	if !asymmetric(h.Alg) {
		return nil, fmt.Errorf("%w: %q", ErrAlgorithm, h.Alg)
	}
	if len(h.Crit) > 0 {
		return nil, fmt.Errorf("%w: crit header not understood", ErrMalformed)
	}
	if h.Kid == "" {
		return nil, fmt.Errorf("%w: no kid", ErrUnknownKey)
	}
	key, err := c.Key(ctx, h.Kid)
	if err != nil {
		return nil, err
	}
	if !Accepts(key, h.Alg) {
		return nil, fmt.Errorf("%w: key %s does not accept %s", ErrAlgorithm, h.Kid, h.Alg)
	}
	payload, err := verifySignature(raw, parts, h.Alg, key)
	if err != nil {
		return nil, ErrSignature
	}
	return &Verified{Payload: payload, Kid: h.Kid, Alg: h.Alg, Typ: h.Typ, Key: key}, nil
}

// IsAccessTokenType reports whether typ names the JWT access token media
// type of RFC 9068 §2.1, application/at+jwt: "at+jwt" or the full name,
// compared case-insensitively (RFC 7515 §4.1.9 lets the "application/"
// prefix be left out, and media type names are case-insensitive).
func IsAccessTokenType(typ string) bool {
	const full, short = "application/at+jwt", "at+jwt"
	return strings.EqualFold(typ, short) || strings.EqualFold(typ, full)
}

// asymmetric lists the accepted token algorithms: never none or HMAC.
func asymmetric(alg string) bool {
	switch alg {
	case "ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA", "Ed25519":
		return true
	}
	return false
}

// verifySignature checks the signature of the compact JWS raw (split into
// parts) with key, which Accepts alg, and returns the payload: the
// signature over the first two parts, checked directly with the proofs'
// code (pkg/dpop.VerifySignature: ES256/384/512, RS and PS 256/384/512,
// EdDSA and its RFC 9864 name Ed25519), as the header was parsed already
// (a JWS library would parse the token again, and knows no Ed25519).
func verifySignature(raw string, parts []string, alg string, key jwk.Key) ([]byte, error) {
	var pub any
	if err := key.Raw(&pub); err != nil {
		return nil, ErrSignature
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, ErrMalformed
	}
	if !dpop.VerifySignature(alg, pub, []byte(raw[:len(parts[0])+1+len(parts[1])]), sig) {
		return nil, ErrSignature
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, ErrMalformed
	}
	return payload, nil
}
