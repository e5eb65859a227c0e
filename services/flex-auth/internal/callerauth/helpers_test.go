package callerauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/stellaops/authgate/pkg/dpop"
	"github.com/stellaops/authgate/pkg/testkit/authoritytest"
)

const publicURL = "https://flex-auth.example.com"

// newKey returns a private key with kid; alg is set unless empty.
func newKey(t testing.TB, kid, alg string, rsaKey bool) jwk.Key {
	t.Helper()
	var raw any
	var err error
	if rsaKey {
		raw, err = rsa.GenerateKey(rand.Reader, 2048)
	} else {
		raw, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	k, err := jwk.FromRaw(raw)
	if err != nil {
		t.Fatal(err)
	}
	_ = k.Set(jwk.KeyIDKey, kid)
	if alg != "" {
		_ = k.Set(jwk.AlgorithmKey, jwa.SignatureAlgorithm(alg))
	}
	return k
}

// sign signs claims with key under alg, its kid in the header.
func sign(t testing.TB, key jwk.Key, alg string, claims map[string]any) string {
	t.Helper()
	return authoritytest.Sign(t, key, jwa.SignatureAlgorithm(alg), claims)
}

// fixture is an Authenticator on a fake Authority with a settable clock,
// and a DPoP client key.
type fixture struct {
	t      *testing.T
	auth   *authoritytest.Authority
	key    jwk.Key // the Authority's current signing key
	client jwk.Key
	jkt    string
	now    atomic.Int64
	a      *Authenticator
}

func newFixture(t *testing.T, mod func(*Config)) *fixture {
	t.Helper()
	f := &fixture{t: t, auth: authoritytest.NewEmpty(t), key: newKey(t, "authority-1", "ES256", false), client: newKey(t, "client", "", false)}
	f.now.Store(time.Unix(1_800_000_000, 0).UnixNano())
	f.auth.SetKeys(t, f.key)
	var err error
	if f.jkt, err = dpop.Thumbprint(f.client); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cfg := Config{Issuer: f.auth.Issuer, MetadataURL: f.auth.MetadataURL(),
		Audiences: []string{"flex-auth"}, RequiredScopes: []string{"flex-auth.check"}, PublicURL: publicURL,
		DPoPMaxAge: time.Minute, DPoPClockSkew: 5 * time.Second, Now: f.Now,
		Replay: dpop.NewMemoryReplayCache(ctx, dpop.MemoryOptions{Now: f.Now})}
	if mod != nil {
		mod(&cfg)
	}
	if f.a, err = New(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	// The replay cache began a while ago: fresh proofs need no nonce.
	f.advance(10 * time.Second)
	return f
}

func (f *fixture) Now() time.Time          { return time.Unix(0, f.now.Load()) }
func (f *fixture) advance(d time.Duration) { f.now.Add(int64(d)) }

// claims are valid, DPoP-bound access token claims.
func (f *fixture) claims() map[string]any {
	now := f.Now()
	return map[string]any{"iss": f.auth.Issuer, "aud": "flex-auth", "sub": "ops-warden", "scope": "flex-auth.check",
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "cnf": map[string]any{"jkt": f.jkt}}
}

// request is POST /v1/check with the token and a fresh proof for it.
func (f *fixture) request(token string) *http.Request {
	f.t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/v1/check", nil)
	r.Header.Set("Authorization", "DPoP "+token)
	proof, err := dpop.NewProof(f.client, "ES256", http.MethodPost, publicURL+"/v1/check", token, "", f.Now())
	if err != nil {
		f.t.Fatal(err)
	}
	r.Header.Set("DPoP", proof)
	return r
}
