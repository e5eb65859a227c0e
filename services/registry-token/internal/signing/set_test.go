package signing_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/authgate/services/registry-token/internal/signing"
)

func ecKey(t *testing.T, kid string) *signing.Key {
	t.Helper()
	raw, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := signing.NewKey(raw, kid)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func publishedKids(t *testing.T, s *signing.Set, now time.Time) []string {
	t.Helper()
	b, err := s.PublicJWKS(now)
	if err != nil {
		t.Fatal(err)
	}
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
			D   string `json:"d"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(b, &set); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		if k.D != "" {
			t.Fatalf("private key material published: %s", b)
		}
		kids = append(kids, k.Kid)
	}
	return kids
}

// The active key signs and is published first; next keys are published;
// a retired key is published until its RetiredUntil, or for good without
// one.
func TestSetPublishesActiveNextAndRetired(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	until := now.Add(6 * time.Minute)
	s, err := signing.NewSet([]signing.Entry{
		{Key: ecKey(t, "old"), Status: signing.StatusRetired, RetiredUntil: until},
		{Key: ecKey(t, "older"), Status: signing.StatusRetired},
		{Key: ecKey(t, "cur"), Status: signing.StatusActive},
		{Key: ecKey(t, "new"), Status: signing.StatusNext},
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.Active().KeyID() != "cur" {
		t.Fatalf("active %s", s.Active().KeyID())
	}
	tok, err := s.Signer().Sign(map[string]any{"sub": "x"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, "ey") || !strings.Contains(decodeHeader(t, tok), `"kid":"cur"`) {
		t.Fatalf("token header %s", decodeHeader(t, tok))
	}
	for _, tc := range []struct {
		at   time.Time
		want []string
	}{
		{now, []string{"cur", "old", "older", "new"}},
		{until.Add(-time.Second), []string{"cur", "old", "older", "new"}},
		{until, []string{"cur", "older", "new"}},
		{until.Add(24 * time.Hour), []string{"cur", "older", "new"}},
	} {
		if got := publishedKids(t, s, tc.at); !slices.Equal(got, tc.want) {
			t.Errorf("at %s: published %v, want %v", tc.at, got, tc.want)
		}
	}
}

func TestSetRefusesBadSets(t *testing.T) {
	a, b := ecKey(t, "a"), ecKey(t, "b")
	for _, tc := range []struct {
		name    string
		entries []signing.Entry
		want    string
	}{
		{"no active", []signing.Entry{{Key: a, Status: signing.StatusNext}}, "no active key"},
		{"two active", []signing.Entry{{Key: a, Status: signing.StatusActive}, {Key: b, Status: signing.StatusActive}}, "more than one active key"},
		{"same kid", []signing.Entry{{Key: a, Status: signing.StatusActive}, {Key: ecKey(t, "a"), Status: signing.StatusNext}}, `kid "a" is used by two keys`},
		{"same key twice", []signing.Entry{{Key: a, Status: signing.StatusActive}, {Key: a, Status: signing.StatusRetired}}, `kid "a" is used by two keys`},
		{"bad status", []signing.Entry{{Key: a, Status: signing.StatusActive}, {Key: b, Status: "old"}}, `status "old"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := signing.NewSet(tc.entries); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func decodeHeader(t *testing.T, tok string) string {
	t.Helper()
	h, err := base64.RawURLEncoding.DecodeString(strings.SplitN(tok, ".", 2)[0])
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}
