package dpop

import (
	"errors"
	"strings"
)

// Authentication schemes for WWW-Authenticate challenges.
const (
	SchemeBearer = "Bearer" // RFC 6750
	SchemeDPoP   = "DPoP"   // RFC 9449 §7.1
)

// Challenge is one WWW-Authenticate challenge (RFC 6750 §3, RFC 9449 §7.1).
// Empty fields are omitted. String sanitizes every value to the RFC 6750
// character set (%x20-21 / %x23-5B / %x5D-7E): quotes, backslashes, control
// characters (CR, LF, ...) and non-ASCII are dropped, so no value can break
// out of its quoted-string or inject a header.
type Challenge struct {
	Scheme           string   // SchemeDPoP or SchemeBearer
	Realm            string   // optional
	Scope            string   // optional, space-separated scopes
	Error            string   // optional error code, e.g. "invalid_token"
	ErrorDescription string   // optional
	Algs             []string // DPoP only: accepted proof algorithms
}

// NewChallenge returns a challenge for scheme carrying the code and
// description of err when err is (or wraps) an *Error; other errors add no
// error attribute (RFC 6750 §3.1: the client then just authenticates).
func NewChallenge(scheme string, err error) Challenge {
	c := Challenge{Scheme: scheme}
	var e *Error
	if errors.As(err, &e) {
		c.Error = e.Code
		c.ErrorDescription = e.Description
	}
	return c
}

// String renders the challenge as a WWW-Authenticate header value, e.g.
//
//	DPoP realm="registry", error="invalid_dpop_proof", error_description="...", algs="ES256 EdDSA"
func (c Challenge) String() string {
	var b strings.Builder
	scheme := sanitizeToken(c.Scheme)
	if scheme == "" {
		scheme = SchemeBearer
	}
	b.WriteString(scheme)
	n := 0
	param := func(name, value string) {
		value = sanitizeChallengeValue(value)
		if value == "" {
			return
		}
		if n == 0 {
			b.WriteByte(' ')
		} else {
			b.WriteString(", ")
		}
		n++
		b.WriteString(name)
		b.WriteString(`="`)
		b.WriteString(value)
		b.WriteByte('"')
	}
	param("realm", c.Realm)
	param("scope", c.Scope)
	param("error", c.Error)
	param("error_description", c.ErrorDescription)
	if len(c.Algs) > 0 && strings.EqualFold(scheme, SchemeDPoP) {
		algs := make([]string, 0, len(c.Algs))
		for _, a := range c.Algs {
			if a = sanitizeToken(a); a != "" {
				algs = append(algs, a)
			}
		}
		param("algs", strings.Join(algs, " "))
	}
	return b.String()
}

// sanitizeChallengeValue keeps only %x20-21 / %x23-5B / %x5D-7E.
func sanitizeChallengeValue(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if !challengeChar(s[i]) {
			clean = false
			break
		}
	}
	if clean {
		return strings.TrimSpace(s)
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if challengeChar(s[i]) {
			b.WriteByte(s[i])
		}
	}
	return strings.TrimSpace(b.String())
}

func challengeChar(c byte) bool {
	return c == 0x20 || c == 0x21 || (c >= 0x23 && c <= 0x5B) || (c >= 0x5D && c <= 0x7E)
}

// sanitizeToken keeps only RFC 9110 tchar characters (for the scheme and
// algorithm names).
func sanitizeToken(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if tchar(s[i]) {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

func tchar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
