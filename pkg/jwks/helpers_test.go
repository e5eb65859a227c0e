package jwks

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

var testNow = time.Unix(1_800_000_000, 0)

// authority serves discovery and a JWKS that a test can change, fail or
// hang, and counts the JWKS requests.
type authority struct {
	srv *httptest.Server

	mu      sync.Mutex
	keys    []map[string]any // JWKS entries served
	status  int              // non-zero: answer the JWKS with it
	hang    chan struct{}    // non-nil: JWKS requests wait for it to close
	entered chan struct{}    // receives once per JWKS request when hanging

	jwksHits    atomic.Int64
	inFlight    atomic.Int64
	maxInFlight atomic.Int64
}

func newAuthority(t *testing.T) *authority {
	t.Helper()
	a := &authority{entered: make(chan struct{}, 1024)}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": a.srv.URL, "jwks_uri": a.srv.URL + "/jwks"})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		a.jwksHits.Add(1)
		n := a.inFlight.Add(1)
		defer a.inFlight.Add(-1)
		for {
			m := a.maxInFlight.Load()
			if n <= m || a.maxInFlight.CompareAndSwap(m, n) {
				break
			}
		}
		a.mu.Lock()
		keys, status, hang := a.keys, a.status, a.hang
		a.mu.Unlock()
		if hang != nil {
			a.entered <- struct{}{}
			select {
			case <-hang:
			case <-r.Context().Done():
			}
		}
		if status != 0 {
			w.WriteHeader(status)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": keys})
	})
	a.srv = httptest.NewServer(mux)
	t.Cleanup(a.srv.Close)
	return a
}

func (a *authority) serve(keys ...map[string]any) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.keys, a.status, a.hang = keys, 0, nil
}

func (a *authority) fail(status int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.status = status
}

func (a *authority) hangUntil(ch chan struct{}) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.hang = ch
}

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
func newCache(t *testing.T, a *authority, ck *clock, mod func(*Config)) *Cache {
	t.Helper()
	cfg := Config{Issuer: a.srv.URL, MetadataURL: a.srv.URL + "/.well-known/openid-configuration",
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
