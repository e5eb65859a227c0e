package jwks

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/stellaops/authgate/pkg/testkit/authoritytest"
)

var testNow = time.Unix(1_800_000_000, 0)

// signer is a private key with its kid.
type signer struct {
	kid  string
	priv crypto.Signer
}

func ecSigner(t testing.TB, kid string) *signer {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &signer{kid: kid, priv: k}
}

var rsaKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// public returns the JWKS entry of s; alg is set unless empty.
func (s *signer) public(t testing.TB, alg string) map[string]any {
	t.Helper()
	k, err := jwk.FromRaw(s.priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	_ = k.Set(jwk.KeyIDKey, s.kid)
	if alg != "" {
		_ = k.Set(jwk.AlgorithmKey, alg)
	}
	b, _ := json.Marshal(k)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

// sign returns a compact JWS of claims with kid = s.kid.
func (s *signer) sign(t testing.TB, alg string, claims map[string]any) string {
	t.Helper()
	payload, _ := json.Marshal(claims)
	h := jws.NewHeaders()
	_ = h.Set(jws.KeyIDKey, s.kid)
	out, err := jws.Sign(payload, jws.WithKey(jwa.SignatureAlgorithm(alg), s.priv, jws.WithProtectedHeaders(h)))
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(testNow.UnixNano())
	return c
}
func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// newCache returns a cache on a, loaded once.
func newCache(t *testing.T, a *authoritytest.Authority, ck *clock, mod func(*Config)) *Cache {
	t.Helper()
	cfg := Config{Issuer: a.Issuer, MetadataURL: a.MetadataURL(),
		MaxStale: time.Hour, Now: ck.Now}
	if mod != nil {
		mod(&cfg)
	}
	c := New(cfg)
	if err := c.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c
}
