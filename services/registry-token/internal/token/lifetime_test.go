package token_test

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// An OpTok that lives longer than authority.maxTokenLifetime is refused
// as invalid_token with a description naming the limit, on both schemes.
func TestMaxTokenLifetimeRefused(t *testing.T) {
	f := newFixture(t, options{maxTokenLifetime: time.Hour})
	q := "service=" + service + "&scope=repository:stella-ops/public/base:pull"
	for _, tc := range []struct {
		name   string
		exp    time.Duration
		noIat  bool
		status int
	}{
		{name: "within", exp: time.Hour, status: http.StatusOK},
		{name: "ten years", exp: 10 * 365 * 24 * time.Hour, status: http.StatusUnauthorized},
		{name: "an hour and a second", exp: time.Hour + time.Second, status: http.StatusUnauthorized},
		{name: "no iat", exp: time.Minute, noIat: true, status: http.StatusUnauthorized},
	} {
		for _, scheme := range []string{"DPoP", "Bearer"} {
			t.Run(tc.name+"/"+scheme, func(t *testing.T) {
				c := f.claims()
				c["exp"] = f.clock.Now().Add(tc.exp).Unix()
				if tc.noIat {
					delete(c, "iat")
				}
				tok := f.mint(c)
				rec := f.do(request(q, scheme+" "+tok, f.proof(tok)))
				if rec.Code != tc.status {
					t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
				}
				if tc.status == http.StatusOK {
					return
				}
				p := problem(t, rec)
				desc, _ := p["error_description"].(string)
				if p["error"] != "invalid_token" || p["reason"] != "invalid_token" || !strings.Contains(desc, "authority.maxTokenLifetime") {
					t.Fatalf("problem %v", p)
				}
				if ch := strings.Join(rec.Header().Values("WWW-Authenticate"), " | "); !strings.Contains(ch, "maxTokenLifetime") {
					t.Fatalf("challenge %q does not describe the limit", ch)
				}
			})
		}
	}
}
