package token

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strings"

	"github.com/stellaops/authgate/pkg/dpop"
)

// carrier is how the OpTok reached the token endpoint.
type carrier string

// The carriers. DPoP and Bearer come in the Authorization header with a
// proof; the others are the ones standard registry clients send and can
// carry no proof of their own: Basic (GET or POST), and the OAuth2 form
// fields of POST /token.
const (
	carrierDPoP         carrier = "dpop"
	carrierBearer       carrier = "bearer"
	carrierBasic        carrier = "basic"
	carrierRefreshToken carrier = "refresh_token"
	carrierPassword     carrier = "password"
)

// credential is the OpTok of a request and how it came.
type credential struct {
	raw string
	via carrier
}

// password reports whether the OpTok came as a password (Basic, or a
// field of the OAuth2 form): only certificate-bound OpToks are accepted
// there, and a DPoP-bound one only in the form and with a DPoP header.
func (c credential) password() bool {
	return c.via == carrierBasic || c.via == carrierRefreshToken || c.via == carrierPassword
}

// Public descriptions of the credential refusals (fixed strings, never
// request input).
const (
	msgBasicMalformed = "The Basic credentials are not base64(username:password)."
	msgNotJWT         = "The password is not an Authority access token (a JWT)."
	msgDPoPAsPassword = "The access token is DPoP-bound, and a DPoP proof cannot ride in Basic credentials or a form field: " +
		"use a DPoP-capable client (Authorization: DPoP with a DPoP proof), or registry-token-helper to obtain a registry token."
	msgNotCertBound = "Only certificate-bound (RFC 8705) access tokens are accepted as a password, " +
		"and only over a connection that presents the bound client certificate."
	msgTwoCredentials = "The token is in both the Authorization header and the form; send it once."
)

// headerCredential returns the OpTok of the Authorization header:
// "DPoP <tok>", "Bearer <tok>" or "Basic base64(user:tok)" (the username
// is not used).
func headerCredential(r *http.Request) (credential, error) {
	values := r.Header.Values("Authorization")
	if len(values) == 0 {
		return credential{}, deny(ReasonMissingToken, nil)
	}
	if len(values) > 1 {
		return credential{}, deny(ReasonInvalidToken, errors.New("several Authorization headers"))
	}
	var c credential
	if raw, ok := hasScheme(values[0], dpop.SchemeDPoP); ok {
		c = credential{raw: raw, via: carrierDPoP}
	} else if raw, ok := hasScheme(values[0], dpop.SchemeBearer); ok {
		c = credential{raw: raw, via: carrierBearer}
	} else if enc, ok := hasScheme(values[0], "Basic"); ok {
		pass, err := basicPassword(enc)
		if err != nil {
			return credential{}, &Denial{Reason: ReasonInvalidToken, detail: msgBasicMalformed, cause: err}
		}
		c = credential{raw: pass, via: carrierBasic}
	} else {
		return credential{}, deny(ReasonMissingToken, errors.New("unsupported authorization scheme"))
	}
	return c, c.check()
}

// check bounds the OpTok before anything decodes it.
func (c credential) check() error {
	if c.raw == "" || len(c.raw) > maxTokenLength {
		d := &Denial{Reason: ReasonInvalidToken, DPoP: c.via == carrierDPoP, cause: errors.New("empty or oversized token")}
		if c.password() {
			d.detail = msgNotJWT
		}
		return d
	}
	return nil
}

// basicPassword decodes RFC 7617 credentials and returns the password.
func basicPassword(enc string) (string, error) {
	if len(enc) > base64.StdEncoding.EncodedLen(maxTokenLength+1024) {
		return "", errors.New("basic credentials too long")
	}
	b, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return "", errors.New("basic credentials are not base64")
	}
	_, pass, ok := strings.Cut(string(b), ":")
	if !ok {
		return "", errors.New("basic credentials without ':'")
	}
	return pass, nil
}

// looksLikeJWT reports whether s has the shape of a JWS compact
// serialization: three base64url segments, the first two non-empty. A
// password that does not is refused without asking the Authority.
func looksLikeJWT(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" {
		return false
	}
	for _, p := range parts {
		for i := 0; i < len(p); i++ {
			if !base64URLChar(p[i]) {
				return false
			}
		}
	}
	return true
}

func base64URLChar(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}
