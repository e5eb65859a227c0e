package token_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwt"
)

// FuzzTokenQuery drives GET /token with arbitrary query strings and an
// unbound OpTok (sender constraint optional, so the plan decision runs).
// The endpoint must answer 200, 400 or 403 with a well-formed body, and
// any issued token may only name resources that were asked for.
func FuzzTokenQuery(f *testing.F) {
	for _, s := range []string{
		pullBase,
		"service=registry.localhost",
		"service=registry.localhost&scope=repository:stella-ops/public/a:pull,push+repository:localhost:5000/x/y:pull",
		"service=registry.localhost&scope=registry:catalog:*&scope=",
		"service=registry.localhost&service=other",
		"service=%ZZ&scope=%00",
		"scope=repository(plugin):stella-ops/public/x:*",
	} {
		f.Add(s)
	}
	fx := newFixture(f, options{optional: true})
	c := fx.auth.Claims("user-1", fx.clock.Now())
	c["stellaops:plan"] = "enterprise"
	tok := fx.mint(c)
	f.Fuzz(func(t *testing.T, query string) {
		r := httptest.NewRequest(http.MethodGet, "/token", nil)
		r.URL.RawQuery = query
		r.Header.Set("Authorization", "Bearer "+tok)
		rec := fx.do(r)
		switch rec.Code {
		case http.StatusOK:
		case http.StatusBadRequest, http.StatusForbidden:
			var p map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p["error"] == nil {
				t.Fatalf("problem body %q", rec.Body)
			}
			return
		default:
			t.Fatalf("status %d for %q: %s", rec.Code, query, rec.Body)
		}
		var resp struct{ Token string }
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
			t.Fatal(err)
		}
		issued, err := jwt.Parse([]byte(resp.Token), jwt.WithKeySet(fx.key.PublicSet()), jwt.WithValidate(false))
		if err != nil {
			t.Fatal(err)
		}
		q, _ := url.ParseQuery(query)
		asked := strings.Join(q["scope"], " ")
		access, _ := issued.Get("access")
		list, _ := access.([]any)
		for _, e := range list {
			name, _ := e.(map[string]any)["name"].(string)
			if name == "" || !strings.Contains(asked, name) {
				t.Fatalf("granted %q which was not requested in %q", name, asked)
			}
		}
	})
}
