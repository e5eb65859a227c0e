package authority_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/stellaops/authgate/pkg/testkit/authoritytest"
	"github.com/stellaops/authgate/services/registry-token/internal/authority"
)

// cacheFixture is a client with a verified-OpTok cache on a test
// Authority and a settable clock.
type cacheFixture struct {
	auth *authoritytest.Authority
	clk  *clock
	c    *authority.Client
}

func newCacheFixture(t *testing.T, size int, edit func(*authority.Config)) *cacheFixture {
	t.Helper()
	f := &cacheFixture{auth: authoritytest.New(t), clk: &clock{t: time.Unix(1_750_000_000, 0)}}
	cfg := authority.Config{
		HTTPClient: &http.Client{}, Issuer: f.auth.Issuer, MetadataURL: f.auth.MetadataURL(),
		Audiences: []string{"registry"}, RequiredScopes: []string{"registry.token.issue"},
		ClockSkew: 30 * time.Second, RefreshInterval: time.Hour, MinRefreshGap: time.Nanosecond,
		CacheSize: size, Now: f.clk.Now,
	}
	if edit != nil {
		edit(&cfg)
	}
	f.c = authority.New(cfg)
	if err := f.c.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *cacheFixture) mint(t *testing.T, sub string) string {
	t.Helper()
	return f.auth.Mint(t, f.auth.Claims(sub, f.clk.Now()))
}

// valid validates tok, which must be accepted, and reports the cache size.
func (f *cacheFixture) valid(t *testing.T, tok string) *authority.OpTok {
	t.Helper()
	op, err := f.c.Validate(context.Background(), tok)
	if err != nil {
		t.Fatalf("refused: %v", err)
	}
	return op
}

func (f *cacheFixture) refused(t *testing.T, tok string, want error) {
	t.Helper()
	if _, err := f.c.Validate(context.Background(), tok); !errors.Is(err, want) {
		t.Fatalf("got %v, want %v", err, want)
	}
}

// An OpTok verified once is served from the cache; a token whose key was
// withdrawn from the JWKS is refused at its next use, and so is one whose
// kid was re-published with other key material.
func TestCachedOpTokKeyWithdrawn(t *testing.T) {
	for _, tc := range []struct {
		name string
		swap func(t *testing.T, a *authoritytest.Authority, old jwk.Key)
		want error
	}{
		{name: "key withdrawn", want: authority.ErrUnknownKey, swap: func(t *testing.T, a *authoritytest.Authority, old jwk.Key) {
			a.SetKeys(t, a.Rotate(t, false))
		}},
		{name: "kid re-published with another key", want: authority.ErrSignature, swap: func(t *testing.T, a *authoritytest.Authority, old jwk.Key) {
			other := authoritytest.NewKey(t)
			if err := other.Set(jwk.KeyIDKey, old.KeyID()); err != nil {
				t.Fatal(err)
			}
			a.SetKeys(t, other)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newCacheFixture(t, 100, nil)
			old := f.auth.Current()
			tok := f.mint(t, "user-1")
			f.valid(t, tok)
			f.valid(t, tok)
			if n := f.c.CachedTokens(); n != 1 {
				t.Fatalf("%d cached tokens, want 1", n)
			}
			tc.swap(t, f.auth, old)
			if err := f.c.Refresh(context.Background()); err != nil {
				t.Fatal(err)
			}
			f.refused(t, tok, tc.want)
			if n := f.c.CachedTokens(); n != 0 {
				t.Fatalf("%d cached tokens after the key was withdrawn, want 0", n)
			}
		})
	}
}

// A JWKS refresh that publishes the same keys keeps the cached tokens.
func TestCachedOpTokSurvivesUnchangedRefresh(t *testing.T) {
	f := newCacheFixture(t, 100, nil)
	tok := f.mint(t, "user-1")
	f.valid(t, tok)
	f.auth.SetKeys(t, f.auth.Current()) // the same key, published again
	if err := f.c.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.valid(t, tok)
	if n := f.c.CachedTokens(); n != 1 {
		t.Fatalf("%d cached tokens, want 1", n)
	}
}

// The time claims are checked on every use of a cached OpTok: expired
// after exp + skew, refused when the clock goes back before nbf or iat,
// and the lifetime limit applies to cached tokens too.
func TestCachedOpTokTimeClaims(t *testing.T) {
	t.Run("expired", func(t *testing.T) {
		f := newCacheFixture(t, 100, nil)
		tok := f.mint(t, "user-1") // exp: now + 5m
		f.valid(t, tok)
		f.clk.Add(5*time.Minute + 29*time.Second)
		f.valid(t, tok)
		f.clk.Add(time.Second)
		f.refused(t, tok, authority.ErrExpired)
		if n := f.c.CachedTokens(); n != 0 {
			t.Fatalf("%d cached tokens after exp, want 0", n)
		}
	})
	t.Run("clock set back before nbf", func(t *testing.T) {
		f := newCacheFixture(t, 100, nil)
		tok := f.mint(t, "user-1")
		f.valid(t, tok)
		f.clk.Add(-time.Minute)
		f.refused(t, tok, authority.ErrNotYetValid)
	})
	t.Run("nbf ahead is never cached", func(t *testing.T) {
		f := newCacheFixture(t, 100, nil)
		cl := f.auth.Claims("user-1", f.clk.Now())
		cl["nbf"] = f.clk.Now().Add(time.Minute).Unix()
		tok := f.auth.Mint(t, cl)
		f.refused(t, tok, authority.ErrNotYetValid)
		if n := f.c.CachedTokens(); n != 0 {
			t.Fatalf("%d cached tokens, want 0", n)
		}
		f.clk.Add(time.Minute)
		f.valid(t, tok)
	})
	t.Run("lifetime limit", func(t *testing.T) {
		f := newCacheFixture(t, 100, func(c *authority.Config) { c.MaxTokenLifetime = time.Minute })
		tok := f.mint(t, "user-1") // exp - iat: 5m
		for range 2 {
			f.refused(t, tok, authority.ErrLifetime)
		}
	})
	t.Run("required scope", func(t *testing.T) {
		f := newCacheFixture(t, 100, nil)
		cl := f.auth.Claims("user-1", f.clk.Now())
		cl["scope"] = "openid"
		tok := f.auth.Mint(t, cl)
		for range 2 {
			f.refused(t, tok, authority.ErrInsufficientScope)
		}
	})
}

// Forget (a configuration reload) empties the cache.
func TestForgetEmptiesCache(t *testing.T) {
	f := newCacheFixture(t, 100, nil)
	for _, sub := range []string{"a", "b", "c"} {
		f.valid(t, f.mint(t, sub))
	}
	if n := f.c.CachedTokens(); n != 3 {
		t.Fatalf("%d cached tokens, want 3", n)
	}
	f.c.Forget()
	if n := f.c.CachedTokens(); n != 0 {
		t.Fatalf("%d cached tokens after Forget, want 0", n)
	}
}

// Entries are never shared between tokens: two tokens with the same claims
// are two entries, and a token with the claims and kid of a cached one but
// another signature is verified, and refused.
func TestCachedOpTokNotSharedAcrossTokens(t *testing.T) {
	f := newCacheFixture(t, 100, nil)
	cl := f.auth.Claims("user-1", f.clk.Now())
	first, second := f.auth.Mint(t, cl), f.auth.Mint(t, cl)
	if first == second {
		t.Fatal("two ES256 signatures are equal")
	}
	a, b := f.valid(t, first), f.valid(t, second)
	if a == b || a.Hash == b.Hash {
		t.Fatal("two tokens share an entry")
	}
	if n := f.c.CachedTokens(); n != 2 {
		t.Fatalf("%d cached tokens, want 2", n)
	}

	// The same claims and kid signed with a key the JWKS does not hold.
	forger := authoritytest.NewKey(t)
	if err := forger.Set(jwk.KeyIDKey, f.auth.Current().KeyID()); err != nil {
		t.Fatal(err)
	}
	f.refused(t, authoritytest.Sign(t, forger, jwa.ES256, cl), authority.ErrSignature)

	// The cached token with its signature altered.
	parts := strings.Split(first, ".")
	sig := []byte(parts[2])
	sig[len(sig)/2] ^= 'A' ^ 'B'
	if sig[len(sig)/2] == parts[2][len(sig)/2] {
		t.Fatal("signature not altered")
	}
	f.refused(t, parts[0]+"."+parts[1]+"."+string(sig), authority.ErrSignature)
	// Trailing garbage is another token too.
	f.refused(t, first+"A", authority.ErrSignature)
	f.valid(t, first)
}

// The cache holds at most its size.
func TestCacheBound(t *testing.T) {
	f := newCacheFixture(t, 4, nil)
	for i := range 20 {
		f.valid(t, f.mint(t, "user-"+string(rune('a'+i))))
		if n := f.c.CachedTokens(); n > 4 {
			t.Fatalf("%d cached tokens, the size is 4", n)
		}
	}
}

// Without a cache (size 0) every token is verified and nothing is kept.
func TestCacheDisabled(t *testing.T) {
	f := newCacheFixture(t, 0, nil)
	tok := f.mint(t, "user-1")
	f.valid(t, tok)
	f.valid(t, tok)
	if n := f.c.CachedTokens(); n != 0 {
		t.Fatalf("%d cached tokens with the cache off", n)
	}
}
