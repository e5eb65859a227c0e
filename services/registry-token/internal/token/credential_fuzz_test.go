package token

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzHeaderCredential feeds arbitrary Authorization values (DPoP,
// Bearer, Basic, garbage) to the credential parser: it never panics,
// every refusal is a Denial, and an accepted credential is bounded.
func FuzzHeaderCredential(f *testing.F) {
	for _, s := range []string{"DPoP a.b.c", "Bearer a.b.c", "Basic dXNlcjphLmIuYw==", "Basic !!!", "Basic Og==",
		"basic dTpw", "Digest x", "", "Basic " + strings.Repeat("QUFB", 9000)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		r := httptest.NewRequest("GET", "/token", nil)
		r.Header.Set("Authorization", v)
		c, err := headerCredential(r)
		if err != nil {
			var d *Denial
			if !errors.As(err, &d) {
				t.Fatalf("refusal %v is not a Denial", err)
			}
			return
		}
		if c.raw == "" || len(c.raw) > maxTokenLength {
			t.Fatalf("accepted credential of %d bytes", len(c.raw))
		}
		if c.via != carrierDPoP && c.via != carrierBearer && c.via != carrierBasic {
			t.Fatalf("carrier %q", c.via)
		}
		_ = looksLikeJWT(c.raw)
	})
}

func TestLooksLikeJWT(t *testing.T) {
	for s, want := range map[string]bool{
		"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln": true,
		"eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1In0.":      true, // an empty signature is the Authority's to refuse
		"hunter2":                                   false, "a.b": false, "a.b.c.d": false, ".b.c": false, "a..c": false, "a.b+.c": false, "a.b=.c": false, "a b.c.d": false,
	} {
		if got := looksLikeJWT(s); got != want {
			t.Errorf("looksLikeJWT(%q) = %v, want %v", s, got, want)
		}
	}
}
