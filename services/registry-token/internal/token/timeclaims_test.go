package token_test

import (
	"encoding/json"
	"net/http"
	"testing"
)

// TestOpTokTimeClaims: an OpTok without exp never expires, and one whose
// exp is a string ("9999999999") is a NumericDate only by coercion; both
// are refused, as are nbf and iat that are not JSON numbers.
func TestOpTokTimeClaims(t *testing.T) {
	f := newFixture(t, options{})
	for _, tc := range []struct {
		name string
		edit func(c map[string]any)
	}{
		{"no exp", func(c map[string]any) { delete(c, "exp") }},
		{"no exp, iat or nbf", func(c map[string]any) { delete(c, "exp"); delete(c, "iat"); delete(c, "nbf") }},
		{"exp a string", func(c map[string]any) { c["exp"] = "9999999999" }},
		{"exp the same time as a string", func(c map[string]any) { c["exp"] = jsonInt(c["exp"]) }},
		{"exp a boolean", func(c map[string]any) { c["exp"] = true }},
		{"nbf a string", func(c map[string]any) { c["nbf"] = "0" }},
		{"iat a string", func(c map[string]any) { c["iat"] = "0" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := f.claims()
			tc.edit(c)
			tok := f.mint(c)
			rec := f.do(request(pullBase, "DPoP "+tok, f.proof(tok)))
			if rec.Code != http.StatusUnauthorized || problem(t, rec)["error"] != "invalid_token" {
				t.Fatalf("status %d %s, want 401 invalid_token", rec.Code, rec.Body)
			}
		})
	}
}

// TestTwoAuthorizationHeaders: with two Authorization headers the service
// cannot tell which one a proxy or the client meant; it refuses both.
func TestTwoAuthorizationHeaders(t *testing.T) {
	f := newFixture(t, options{})
	tok := f.mint(f.claims())
	r := request(pullBase, "DPoP "+tok, f.proof(tok))
	r.Header.Add("Authorization", "Bearer "+f.mint(f.claims()))
	if rec := f.do(r); rec.Code != http.StatusUnauthorized {
		t.Fatalf("two Authorization headers: status %d, want 401", rec.Code)
	}
}

func jsonInt(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
