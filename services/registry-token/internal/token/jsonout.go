package token

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/stellaops/authgate/pkg/jsonenc"
	"github.com/stellaops/authgate/pkg/plans"
)

// The registry token's claims and the token response are written by hand
// rather than by encoding/json's reflection, which was a tenth of the
// CPU a token costs above the cryptography. The bytes are exactly those
// json.Marshal writes for the same values (TestClaimsJSONMatchesMarshal,
// FuzzClaimsJSON): field order, HTML escaping, null for a nil slice.

// appendClaims appends the JSON of c.
func appendClaims(b []byte, c *claims) []byte {
	b = append(b, `{"iss":`...)
	b = appendJSONString(b, c.Issuer)
	b = append(b, `,"sub":`...)
	b = appendJSONString(b, c.Subject)
	b = append(b, `,"aud":`...)
	b = appendJSONString(b, c.Audience)
	b = append(b, `,"exp":`...)
	b = strconv.AppendInt(b, c.Expiry, 10)
	b = append(b, `,"nbf":`...)
	b = strconv.AppendInt(b, c.NotBefore, 10)
	b = append(b, `,"iat":`...)
	b = strconv.AppendInt(b, c.IssuedAt, 10)
	b = append(b, `,"jti":`...)
	b = appendJSONString(b, c.ID)
	b = append(b, `,"access":`...)
	b = appendResources(b, c.Access)
	return append(b, '}')
}

func appendResources(b []byte, rs []plans.Resource) []byte {
	if rs == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, r := range rs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"type":`...)
		b = appendJSONString(b, r.Type)
		b = append(b, `,"name":`...)
		b = appendJSONString(b, r.Name)
		b = append(b, `,"actions":`...)
		b = appendStrings(b, r.Actions)
		b = append(b, '}')
	}
	return append(b, ']')
}

func appendStrings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}

// appendResponse appends the JSON of r and the newline json.Encoder
// (echo's c.JSON) ends it with.
func appendResponse(b []byte, r *Response) []byte {
	b = append(b, `{"token":`...)
	b = appendJSONString(b, r.Token)
	b = append(b, `,"access_token":`...)
	b = appendJSONString(b, r.AccessToken)
	b = append(b, `,"expires_in":`...)
	b = strconv.AppendInt(b, r.ExpiresIn, 10)
	b = append(b, `,"issued_at":`...)
	b = appendJSONString(b, r.IssuedAt)
	if r.Scope != nil {
		b = append(b, `,"scope":`...)
		b = appendJSONString(b, *r.Scope)
	}
	return append(b, "}\n"...)
}

// appendJSONString appends s as json.Marshal writes it: pkg/jsonenc's
// escaping is encoding/json's but for invalid UTF-8, which json.Marshal
// writes as the escape \ufffd (not the character), so such a string is
// left to it.
func appendJSONString(b []byte, s string) []byte {
	if !utf8.ValidString(s) {
		q, _ := json.Marshal(s) // a string always marshals
		return append(b, q...)
	}
	return jsonenc.String(b, s)
}
