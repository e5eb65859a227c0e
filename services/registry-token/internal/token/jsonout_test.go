package token

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stellaops/authgate/pkg/plans"
)

// jsonCases are claim strings that take both paths of appendJSONString.
var jsonCases = []string{"", "registry-token", "user-1", "stella-ops/public/base", "a\"b", `back\slash`,
	"<script>&amp;", "tab\there", "nul\x00", "é", "\u2028\u2029", "\xff\xfe invalid UTF-8", "del\x7f"}

// The hand-written claims are byte for byte what json.Marshal writes.
func TestClaimsJSONMatchesMarshal(t *testing.T) {
	for _, s := range jsonCases {
		for _, access := range [][]plans.Resource{nil, {}, {{Type: "repository", Name: s, Actions: []string{"pull", s}}},
			{{Type: s, Name: "n"}, {Type: "registry", Name: "catalog", Actions: []string{}}}} {
			checkClaims(t, &claims{Issuer: s, Subject: "sub-" + s, Audience: s, Expiry: 1_750_000_300,
				NotBefore: -5, IssuedAt: 0, ID: s, Access: access})
		}
		checkResponse(t, &Response{Token: "a.b.c" + s, AccessToken: s, ExpiresIn: 300, IssuedAt: "2026-12-08T00:00:00Z"})
		scope := "repository:" + s + ":pull"
		checkResponse(t, &Response{Token: "t", AccessToken: "t", ExpiresIn: -1, IssuedAt: s, Scope: &scope})
	}
}

func checkClaims(t *testing.T, c *claims) {
	t.Helper()
	want, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if got := appendClaims([]byte("prefix"), c); !bytes.Equal(got, append([]byte("prefix"), want...)) {
		t.Fatalf("appendClaims(%+v)\n got %s\nwant prefix%s", c, got, want)
	}
}

func checkResponse(t *testing.T, r *Response) {
	t.Helper()
	var want bytes.Buffer
	if err := json.NewEncoder(&want).Encode(r); err != nil { // as echo's c.JSON
		t.Fatal(err)
	}
	if got := appendResponse(nil, r); !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("appendResponse(%+v)\n got %q\nwant %q", r, got, want.Bytes())
	}
}

func FuzzClaimsJSON(f *testing.F) {
	for _, s := range jsonCases {
		f.Add(s, "user-1", "stella-ops/public/base", "pull", int64(1_750_000_000), uint8(0))
	}
	f.Fuzz(func(t *testing.T, a, b, c, d string, n int64, shape uint8) {
		var access []plans.Resource
		switch shape % 4 {
		case 1:
			access = []plans.Resource{}
		case 2:
			access = []plans.Resource{{Type: a, Name: b, Actions: []string{c, d}}}
		case 3:
			access = []plans.Resource{{Type: d, Name: c}, {Type: b, Name: a, Actions: []string{}}}
		}
		checkClaims(t, &claims{Issuer: a, Subject: b, Audience: c, Expiry: n, NotBefore: n - 5, IssuedAt: -n, ID: d, Access: access})
		var scope *string
		if shape&4 != 0 {
			scope = &d
		}
		checkResponse(t, &Response{Token: a, AccessToken: b, ExpiresIn: n, IssuedAt: c, Scope: scope})
	})
}
