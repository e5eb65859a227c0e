package token_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/stellaops/authgate/pkg/testkit/authoritytest"
)

// TestRefusalCauseIsLogged (finding: only "invalid_token" reached the
// logs, so an operator with a wrong authority.audiences could not tell it
// from a bad signature): the request line and the decision line of a
// refused token carry why in the field cause, at info, and no log line
// holds the token.
func TestRefusalCauseIsLogged(t *testing.T) {
	for _, tc := range []struct {
		name  string
		token func(f *fixture) string
		cause string
	}{
		{"wrong audience", func(f *fixture) string {
			return f.mintWith(func(c map[string]any) { c["aud"] = "https://other.example" })
		}, "audience mismatch"},
		{"wrong issuer", func(f *fixture) string {
			return f.mintWith(func(c map[string]any) { c["iss"] = "https://evil.example" })
		}, "issuer mismatch"},
		{"expired", func(f *fixture) string {
			return f.mintWith(func(c map[string]any) { c["exp"] = f.clock.Now().Add(-time.Hour).Unix() })
		}, "token expired"},
		{"not yet valid", func(f *fixture) string {
			return f.mintWith(func(c map[string]any) { c["nbf"] = f.clock.Now().Add(time.Hour).Unix() })
		}, "not yet valid"},
		{"missing scope", func(f *fixture) string { return f.mintWith(func(c map[string]any) { c["scope"] = "openid" }) }, "lacks a required scope: registry.token.issue"},
		{"algorithm not allowed", func(f *fixture) string {
			return authoritytest.Sign(t, []byte(strings.Repeat("s", 32)), jwa.HS256, f.claims())
		}, `algorithm not allowed: "HS256"`},
		{"unknown kid", func(f *fixture) string { return authoritytest.Sign(t, authoritytest.NewKey(t), jwa.ES256, f.claims()) }, "unknown key"},
		{"signature", func(f *fixture) string {
			k := authoritytest.NewKey(t)
			_ = k.Set(jwk.KeyIDKey, f.signingKey().KeyID())
			return authoritytest.Sign(t, k, jwa.ES256, f.claims())
		}, "signature invalid"},
		{"sender constraint", func(f *fixture) string {
			return f.mintWith(func(c map[string]any) { c["cnf"] = map[string]any{"jkt": strings.Repeat("A", 43)} })
		}, "Invalid DPoP key binding"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, options{})
			tok := tc.token(f)
			rec := f.do(request(pullBase, "DPoP "+tok, f.proof(tok)))
			if rec.Code != http.StatusUnauthorized && rec.Code != http.StatusForbidden {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			for _, msg := range []string{"request", "token denied"} {
				lines := f.logs.FilterMessage(msg).All()
				if len(lines) != 1 {
					t.Fatalf("%d %q lines", len(lines), msg)
				}
				if lines[0].Level.String() != "info" {
					t.Errorf("%q logged at %s, want info", msg, lines[0].Level)
				}
				if got := fmt.Sprint(lines[0].ContextMap()["cause"]); !strings.Contains(got, tc.cause) {
					t.Errorf("%q line: cause %q, want it to name %q", msg, got, tc.cause)
				}
			}
			sig := tok[strings.LastIndex(tok, ".")+1:]
			for _, e := range f.logs.All() {
				if line := fmt.Sprint(e.Message, e.ContextMap()); strings.Contains(line, sig) {
					t.Errorf("a log line holds the token: %s", line)
				}
			}
		})
	}
}

// mintWith mints the fixture's valid DPoP-bound claims after edit.
func (f *fixture) mintWith(edit func(c map[string]any)) string {
	c := f.claims()
	edit(c)
	return f.mint(c)
}
