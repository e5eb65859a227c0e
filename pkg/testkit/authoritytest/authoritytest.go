// Package authoritytest is the one fake Authority of the tests of both
// services and of pkg/jwks: OIDC discovery and a JWKS on an httptest
// server, a JWKS a test can change, fail, hang or move to another
// jwks_uri, and access token minting with any claims, key or algorithm
// (including the invalid ones tests must see refused).
package authoritytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
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

// Authority serves discovery at MetadataURL and the JWKS of its published
// keys.
type Authority struct {
	Server *httptest.Server
	// Issuer is the issuer announced by discovery and put in OpToks.
	Issuer string

	mu        sync.Mutex
	published []any         // JWKS entries: public jwk.Keys or raw JSON objects
	signing   jwk.Key       // current private key
	status    int           // non-zero: the JWKS is answered with it
	hang      chan struct{} // non-nil: JWKS requests wait for it to close
	jwksPath  string        // the path discovery names as jwks_uri
	entered   chan struct{} // receives once per JWKS request while hanging

	fetches     atomic.Int64
	inFlight    atomic.Int64
	maxInFlight atomic.Int64
}

// New starts an Authority with one published ES256 key.
func New(t testing.TB) *Authority {
	t.Helper()
	a := NewEmpty(t)
	a.signing = a.Rotate(t, true)
	return a
}

// NewEmpty starts an Authority that publishes no key yet.
func NewEmpty(t testing.TB) *Authority {
	t.Helper()
	a := &Authority{jwksPath: "/jwks", entered: make(chan struct{}, 1024)}
	a.Server = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.Server.Close)
	a.Issuer = a.Server.URL
	return a
}

// NewTLS starts an Authority with one published ES256 key over HTTPS,
// presenting cert (for example one issued by a private CA).
func NewTLS(t testing.TB, cert tls.Certificate) *Authority {
	t.Helper()
	a := &Authority{jwksPath: "/jwks", entered: make(chan struct{}, 1024)}
	a.Server = httptest.NewUnstartedServer(http.HandlerFunc(a.serve))
	a.Server.TLS = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	a.Server.StartTLS()
	t.Cleanup(a.Server.Close)
	a.Issuer = a.Server.URL
	a.signing = a.Rotate(t, true)
	return a
}

// MetadataURL is the discovery document's URL.
func (a *Authority) MetadataURL() string {
	return a.Server.URL + "/.well-known/openid-configuration"
}

// JWKSFetches counts the JWKS requests.
func (a *Authority) JWKSFetches() int64 { return a.fetches.Load() }

// MaxJWKSInFlight is the most JWKS requests that were served at once.
func (a *Authority) MaxJWKSInFlight() int64 { return a.maxInFlight.Load() }

// Entered receives once for each JWKS request that waits under Hang.
func (a *Authority) Entered() <-chan struct{} { return a.entered }

// NewKey returns a fresh private ES256 JWK with a kid.
func NewKey(t testing.TB) jwk.Key {
	t.Helper()
	raw, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := jwk.FromRaw(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := jwk.AssignKeyID(k); err != nil {
		t.Fatal(err)
	}
	_ = k.Set(jwk.AlgorithmKey, jwa.ES256)
	return k
}

// Rotate creates a key and, when publish is set, adds it to the JWKS. The
// new key becomes the signing key of Mint.
func (a *Authority) Rotate(t testing.TB, publish bool) jwk.Key {
	t.Helper()
	k := NewKey(t)
	pub, err := k.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if publish {
		a.published = append(a.published, pub)
	}
	a.signing = k
	return k
}

// Publish adds the public part of k to the JWKS.
func (a *Authority) Publish(t testing.TB, k jwk.Key) {
	t.Helper()
	pub := public(t, k)
	a.mu.Lock()
	a.published = append(a.published, pub)
	a.mu.Unlock()
}

// SetKeys replaces the JWKS by the public parts of keys (none: an empty
// set, every key withdrawn) and serves it again after Fail or Hang.
func (a *Authority) SetKeys(t testing.TB, keys ...jwk.Key) {
	t.Helper()
	entries := make([]any, 0, len(keys))
	for _, k := range keys {
		entries = append(entries, public(t, k))
	}
	a.SetEntries(entries...)
}

// SetEntries replaces the JWKS by entries as they are (JSON objects a test
// builds, malformed ones included) and serves it again after Fail or Hang.
func (a *Authority) SetEntries(entries ...any) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.published, a.status, a.hang = entries, 0, nil
}

// Fail answers JWKS requests with status from now on (0: serve again).
func (a *Authority) Fail(status int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.status = status
}

// Hang holds JWKS requests until release is closed (each one that waits
// is announced on Entered).
func (a *Authority) Hang(release chan struct{}) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.hang = release
}

// MoveJWKS makes discovery name path as the jwks_uri; the JWKS is served
// there only, and the old path answers 404.
func (a *Authority) MoveJWKS(path string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.jwksPath = path
}

func public(t testing.TB, k jwk.Key) jwk.Key {
	t.Helper()
	pub, err := k.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

func (a *Authority) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	a.mu.Lock()
	jwksPath := a.jwksPath
	a.mu.Unlock()
	switch r.URL.Path {
	case "/.well-known/openid-configuration":
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": a.Issuer, "jwks_uri": a.Server.URL + jwksPath})
	case jwksPath:
		a.serveJWKS(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (a *Authority) serveJWKS(w http.ResponseWriter, r *http.Request) {
	a.fetches.Add(1)
	n := a.inFlight.Add(1)
	defer a.inFlight.Add(-1)
	for {
		m := a.maxInFlight.Load()
		if n <= m || a.maxInFlight.CompareAndSwap(m, n) {
			break
		}
	}
	a.mu.Lock()
	entries, status, hang := a.published, a.status, a.hang
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
	if entries == nil {
		entries = []any{}
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"keys": entries})
}

// Claims returns a valid OpTok claim set for sub at now: issuer, audience
// "registry", the registry.token.issue scope, 5 minutes of lifetime.
func (a *Authority) Claims(sub string, now time.Time) map[string]any {
	return map[string]any{
		"iss":   a.Issuer,
		"sub":   sub,
		"aud":   "registry",
		"iat":   now.Unix(),
		"nbf":   now.Unix(),
		"exp":   now.Add(5 * time.Minute).Unix(),
		"scope": "openid registry.token.issue",
	}
}

// Mint signs claims with the current key (ES256, its kid in the header).
func (a *Authority) Mint(t testing.TB, claims map[string]any) string {
	t.Helper()
	a.mu.Lock()
	k := a.signing
	a.mu.Unlock()
	return Sign(t, k, jwa.ES256, claims)
}

// Sign signs claims with key and alg, putting key's kid in the header
// and typ at+jwt (RFC 9068).
func Sign(t testing.TB, key any, alg jwa.SignatureAlgorithm, claims map[string]any) string {
	t.Helper()
	return SignTyp(t, key, alg, "at+jwt", claims)
}

// SignTyp is Sign with the header typ given ("": no typ).
func SignTyp(t testing.TB, key any, alg jwa.SignatureAlgorithm, typ string, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	hdr := jws.NewHeaders()
	if typ != "" {
		_ = hdr.Set("typ", typ)
	}
	if k, ok := key.(jwk.Key); ok && k.KeyID() != "" {
		_ = hdr.Set(jws.KeyIDKey, k.KeyID())
	}
	out, err := jws.Sign(payload, jws.WithKey(alg, key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// Current returns the private key Mint signs with.
func (a *Authority) Current() jwk.Key {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.signing
}

// KeyIDs lists the kid of each key of a JWKS document, in its order.
func KeyIDs(t testing.TB, jwks []byte) []string {
	t.Helper()
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(jwks, &set); err != nil {
		t.Fatalf("jwks %s: %v", jwks, err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.Kid)
	}
	return kids
}
