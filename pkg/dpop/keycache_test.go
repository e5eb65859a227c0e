package dpop

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
)

// TestKeyCacheDoesNotBypassChecks: a key remembered from an accepted proof
// still has every proof it appears in checked in full.
func TestKeyCacheDoesNotBypassChecks(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, func(c *Config) { c.Algorithms = []string{"ES256", "ES384"} })
	a, b := key("A"), key("B")
	rawA := must(json.Marshal(a.pub))
	if _, err := f.v.Verify(ctx, request(makeProof(t, nil))); err != nil {
		t.Fatal(err)
	}
	if f.v.keys.get(rawA, algorithms["ES256"]) == nil {
		t.Fatal("the key of an accepted proof was not cached")
	}
	for _, tc := range []struct {
		name  string
		proof func(p *proofSpec)
		desc  string
	}{
		{"cached jwk, signed by another key", func(p *proofSpec) { p.signer = b }, "signature is invalid"},
		{"cached jwk under another alg", func(p *proofSpec) { p.header["alg"] = "ES384"; p.signer = key("P384") }, "curve does not match"},
		{"cached jwk, bad claims", func(p *proofSpec) { p.claims["htm"] = "POST" }, "htm does not match"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.v.Verify(ctx, request(makeProof(t, tc.proof)))
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, ErrInvalidDPoPProof) || !strings.Contains(e.Description, tc.desc) {
				t.Fatalf("Verify = %v, want %q", err, tc.desc)
			}
		})
	}
}

func TestKeyCacheOnlyRemembersVerifiedKeys(t *testing.T) {
	f := newFixture(t, nil)
	b := key("B")
	// B's jwk with A's signature: the import succeeds, the signature fails.
	proof := makeProof(t, func(p *proofSpec) { p.header["jwk"] = copyMap(b.pub) })
	if _, err := f.v.Verify(context.Background(), request(proof)); err == nil {
		t.Fatal("accepted")
	}
	if f.v.keys.get(must(json.Marshal(b.pub)), algorithms["ES256"]) != nil {
		t.Fatal("a key that verified nothing was cached")
	}
}

func TestKeyCacheBounds(t *testing.T) {
	c := newKeyCache()
	alg := algorithms["ES256"]
	k := &proofKey{jkt: "x"}
	big := []byte(`{"kty":"EC","pad":"` + strings.Repeat("p", keyCacheMaxJWK) + `"}`)
	c.put(big, alg, k)
	if c.get(big, alg) != nil {
		t.Error("an oversized jwk was cached")
	}
	var nilCache *keyCache
	nilCache.put([]byte("{}"), alg, k)
	if nilCache.get([]byte("{}"), alg) != nil {
		t.Error("nil cache returned a key")
	}
	// Concurrent use (run with -race).
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 2000 {
				raw := []byte(`{"k":` + string(rune('a'+i)) + string(rune('a'+j%26)) + `}`)
				c.put(raw, alg, k)
				if got := c.get(raw, alg); got != nil && got != k {
					t.Error("wrong key")
				}
			}
		}()
	}
	wg.Wait()
}

// A header is remembered only once a proof carrying it verified, and a
// remembered header still has the signature and claims of every proof
// checked.
func TestHeaderCache(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	good := makeProof(t, nil)
	hdr := good[:strings.IndexByte(good, '.')]
	// The same header signed by another key: refused, and not remembered.
	forged := makeProof(t, func(p *proofSpec) { p.signer = key("B") })
	if forged[:strings.IndexByte(forged, '.')] != hdr {
		t.Fatal("the forged proof's header differs")
	}
	if _, err := f.v.Verify(ctx, request(forged)); err == nil {
		t.Fatal("forged proof accepted")
	}
	if _, k := f.v.keys.header(hdr); k != nil {
		t.Fatal("a header whose proof did not verify was remembered")
	}
	if _, err := f.v.Verify(ctx, request(good)); err != nil {
		t.Fatal(err)
	}
	if alg, k := f.v.keys.header(hdr); k == nil || alg.name != "ES256" || k.jkt != key("A").jkt {
		t.Fatal("the header of an accepted proof was not remembered")
	}
	for _, tc := range []struct {
		name  string
		proof func(p *proofSpec)
		desc  string
	}{
		{"remembered header, signed by another key", func(p *proofSpec) { p.signer = key("B") }, "signature is invalid"},
		{"remembered header, bad claims", func(p *proofSpec) { p.claims["htu"] = "https://other.example/token" }, "htu does not match"},
		{"remembered header, no ath", func(p *proofSpec) { delete(p.claims, "ath") }, "no ath"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proof := makeProof(t, tc.proof)
			if proof[:strings.IndexByte(proof, '.')] != hdr {
				t.Fatal("the header differs")
			}
			_, err := f.v.Verify(ctx, request(proof))
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, ErrInvalidDPoPProof) || !strings.Contains(e.Description, tc.desc) {
				t.Fatalf("Verify = %v, want %q", err, tc.desc)
			}
		})
	}
	// A replayed proof with a remembered header is still refused.
	if _, err := f.v.Verify(ctx, request(good)); !errors.Is(err, ErrReplayed) {
		t.Fatalf("replay: %v", err)
	}
	// An oversized header is never remembered.
	big := strings.Repeat("h", keyCacheMaxHeader+1)
	f.v.keys.putHeader(big, algorithms["ES256"], &proofKey{})
	if _, k := f.v.keys.header(big); k != nil {
		t.Error("an oversized header was remembered")
	}
}
