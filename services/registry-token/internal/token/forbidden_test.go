package token_test

import (
	"net/http"
	"testing"
)

// TestForbiddenCarriesInsufficientScopeChallenge: every 403 tells the
// client, in WWW-Authenticate and on the scheme it used, that the token
// grants too little (RFC 6750 §3.1, RFC 9449 §7.1), next to the problem
// body, which keeps its precise error and reason.
func TestForbiddenCarriesInsufficientScopeChallenge(t *testing.T) {
	unbound := func(edit func(c map[string]any)) func(f *fixture) *http.Request {
		return func(f *fixture) *http.Request {
			c := f.auth.Claims("user-1", f.clock.Now())
			edit(c)
			return request(pullBase, "Bearer "+f.mint(c), "")
		}
	}
	for _, tc := range []struct {
		name     string
		optional bool
		build    func(f *fixture) *http.Request
		code     string
		want     string
	}{
		{name: "DPoP, required scope missing", build: withClaims(func(f *fixture, c map[string]any) { c["scope"] = "openid" }),
			code: "insufficient_scope",
			want: `DPoP scope="registry.token.issue", error="insufficient_scope", error_description="The access token does not grant the scope required to request registry tokens.", algs="ES256 EdDSA Ed25519"`},
		{name: "DPoP, revoked licence", build: withClaims(func(f *fixture, c map[string]any) { c["stellaops:license"] = "lic-revoked" }),
			code: "access_denied",
			want: `DPoP error="insufficient_scope", error_description="The caller's licence has been revoked.", algs="ES256 EdDSA Ed25519"`},
		{name: "DPoP, plan grants nothing", build: func(f *fixture) *http.Request {
			tok := f.mint(f.claims())
			return request("service=registry.localhost&scope=repository:stella-ops/private/x:pull", "DPoP "+tok, f.proof(tok))
		}, code: "access_denied",
			want: `DPoP error="insufficient_scope", error_description="The caller's plan grants none of the requested access.", algs="ES256 EdDSA Ed25519"`},
		{name: "Bearer, required scope missing", optional: true, build: unbound(func(c map[string]any) { c["scope"] = "openid" }),
			code: "insufficient_scope",
			want: `Bearer scope="registry.token.issue", error="insufficient_scope", error_description="The access token does not grant the scope required to request registry tokens."`},
		{name: "Bearer, unknown plan", optional: true, build: unbound(func(c map[string]any) { c["stellaops:plan"] = "platinum" }),
			code: "access_denied",
			want: `Bearer error="insufficient_scope", error_description="The caller's plan is not known."`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, options{optional: tc.optional})
			rec := f.do(tc.build(f))
			if rec.Code != http.StatusForbidden {
				t.Fatalf("status %d, want 403: %s", rec.Code, rec.Body)
			}
			if p := problem(t, rec); p["error"] != tc.code {
				t.Fatalf("problem error %v, want %s", p["error"], tc.code)
			}
			got := rec.Header().Values("WWW-Authenticate")
			if len(got) != 1 || got[0] != tc.want {
				t.Fatalf("WWW-Authenticate %q\nwant %q", got, tc.want)
			}
		})
	}
}
