package dpop

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
)

// testKey is a signing key with its public JWK members and thumbprint.
type testKey struct {
	alg  string
	priv crypto.Signer
	key  jwk.Key        // private, for NewProof
	pub  map[string]any // public JWK members, for hand-made headers
	jkt  string
}

// Keys are generated once per test binary (RSA generation is slow).
var testKeys = sync.OnceValue(func() map[string]*testKey {
	keys := map[string]*testKey{}
	add := func(name, alg string, priv crypto.Signer, err error) {
		if err != nil {
			panic(err)
		}
		k, err := jwk.FromRaw(priv)
		if err != nil {
			panic(err)
		}
		pk, err := k.PublicKey()
		if err != nil {
			panic(err)
		}
		b, err := json.Marshal(pk)
		if err != nil {
			panic(err)
		}
		var pub map[string]any
		if err := json.Unmarshal(b, &pub); err != nil {
			panic(err)
		}
		jkt, err := Thumbprint(k)
		if err != nil {
			panic(err)
		}
		keys[name] = &testKey{alg: alg, priv: priv, key: k, pub: pub, jkt: jkt}
	}
	ec := func(c elliptic.Curve) (crypto.Signer, error) { return ecdsa.GenerateKey(c, rand.Reader) }
	rsaKey := func(bits int) (crypto.Signer, error) { return rsa.GenerateKey(rand.Reader, bits) }
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	add("A", "ES256", must(ec(elliptic.P256())), nil)
	add("B", "ES256", must(ec(elliptic.P256())), nil)
	add("P384", "ES384", must(ec(elliptic.P384())), nil)
	add("P521", "ES512", must(ec(elliptic.P521())), nil)
	add("Ed25519", "EdDSA", ed, err)
	add("RSA", "RS256", must(rsaKey(2048)), nil)
	add("RSA1024", "RS256", must(rsaKey(1024)), nil)
	return keys
})

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func key(name string) *testKey { return testKeys()[name] }

// copyMap returns a deep-enough copy of a JWK member map.
func copyMap(m map[string]any) map[string]any {
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// signJWS signs signingInput like a JOSE library would for alg. For HS256
// the HMAC secret is hmacKey.
func signJWS(t testing.TB, alg string, priv crypto.Signer, hmacKey []byte, signingInput []byte) []byte {
	t.Helper()
	info := algorithms[alg]
	switch {
	case alg == "HS256":
		m := hmac.New(sha256.New, hmacKey)
		m.Write(signingInput)
		return m.Sum(nil)
	case info == nil:
		return []byte("not-a-signature")
	case info.kty == "EC":
		h := info.hash.New()
		h.Write(signingInput)
		r, s, err := ecdsa.Sign(rand.Reader, priv.(*ecdsa.PrivateKey), h.Sum(nil))
		if err != nil {
			t.Fatal(err)
		}
		sig := make([]byte, 2*info.size)
		r.FillBytes(sig[:info.size])
		s.FillBytes(sig[info.size:])
		return sig
	case info.kty == "OKP":
		return ed25519.Sign(priv.(ed25519.PrivateKey), signingInput)
	default:
		h := info.hash.New()
		h.Write(signingInput)
		var opts crypto.SignerOpts = info.hash
		if info.pss {
			opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: info.hash}
		}
		sig, err := priv.Sign(rand.Reader, h.Sum(nil), opts)
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
}

// proofSpec describes a hand-made proof. The zero value of each override
// keeps the valid default.
type proofSpec struct {
	signer    *testKey       // key that signs (default A)
	alg       string         // algorithm used to sign (default: header alg)
	hmacKey   []byte         // for HS256
	header    map[string]any // protected header members
	claims    map[string]any // payload members
	rawHeader string         // exact header JSON, overrides header
	rawClaims string         // exact payload JSON, overrides claims
	// finish edits the compact serialization after signing.
	finish func(compact string) string
}

const (
	testToken   = "opaque-access-token"
	testBaseURL = "https://rt.example.com"
	testHTU     = "https://rt.example.com/token"
)

var testNow = time.Unix(1_700_000_000, 0)

func athOf(token string) string {
	sum := sha256.Sum256([]byte(token))
	return b64.EncodeToString(sum[:])
}

func randomJTI() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return b64.EncodeToString(b[:])
}

// defaultSpec is a valid ES256 proof by key A for GET testHTU with testToken.
func defaultSpec() *proofSpec {
	a := key("A")
	return &proofSpec{
		signer: a,
		header: map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": copyMap(a.pub)},
		claims: map[string]any{"jti": randomJTI(), "htm": "GET", "htu": testHTU, "iat": testNow.Unix(), "ath": athOf(testToken)},
	}
}

func (p *proofSpec) build(t testing.TB) string {
	t.Helper()
	hdr := []byte(p.rawHeader)
	if p.rawHeader == "" {
		hdr = must(json.Marshal(p.header))
	}
	pay := []byte(p.rawClaims)
	if p.rawClaims == "" {
		pay = must(json.Marshal(p.claims))
	}
	alg := p.alg
	if alg == "" {
		alg, _ = p.header["alg"].(string)
	}
	input := b64.EncodeToString(hdr) + "." + b64.EncodeToString(pay)
	out := input + "." + b64.EncodeToString(signJWS(t, alg, p.signer.priv, p.hmacKey, []byte(input)))
	if p.finish != nil {
		out = p.finish(out)
	}
	return out
}

// makeProof builds the default proof after mod edits it.
func makeProof(t testing.TB, mod func(p *proofSpec)) string {
	t.Helper()
	p := defaultSpec()
	if mod != nil {
		mod(p)
	}
	return p.build(t)
}

// clock is a settable test clock.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock {
	c := &clock{}
	c.Set(t)
	return c
}
func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) Set(t time.Time)         { c.ns.Store(t.UnixNano()) }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// fixture is a Verifier on an in-memory cache with a test clock.
type fixture struct {
	clock *clock
	cache *MemoryReplayCache
	v     *Verifier
}

func newFixture(t testing.TB, mod func(cfg *Config)) *fixture {
	t.Helper()
	ck := newClock(testNow)
	cache := NewMemoryReplayCache(context.Background(), MemoryOptions{Now: ck.Now})
	t.Cleanup(func() { _ = cache.Close() })
	cfg := Config{PublicBaseURL: testBaseURL, Replay: cache, Now: ck.Now}
	if mod != nil {
		mod(&cfg)
	}
	v, err := NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{clock: ck, cache: cache, v: v}
}

// request is the default request matching defaultSpec.
func request(proof string) Request {
	return Request{
		Method:       "GET",
		Path:         "/token",
		ProofHeaders: []string{proof},
		AccessToken:  testToken,
		TokenJKT:     key("A").jkt,
	}
}

// ecKeyWithLeadingZero returns a P-256 key whose x (or, if y is true, y)
// coordinate starts with a zero byte, so its unpadded encoding is short.
func ecKeyWithLeadingZero(t testing.TB, y bool) *ecdsa.PrivateKey {
	t.Helper()
	for range 1 << 14 {
		k := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
		point := must(k.PublicKey.Bytes())
		coord := point[1:33]
		if y {
			coord = point[33:]
		}
		if coord[0] == 0 {
			return k
		}
	}
	t.Fatal("no key with a leading zero coordinate found")
	return nil
}
