package callerauth

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stellaops/authgate/pkg/dpop"
	"github.com/stellaops/authgate/pkg/jwks"
	"github.com/stellaops/authgate/pkg/testkit/certtest"
)

func wantStatus(t *testing.T, err error, status int) {
	t.Helper()
	var e *dpop.Error
	switch {
	case status == 0 && err != nil:
		t.Fatalf("refused: %v", err)
	case status != 0 && (!errors.As(err, &e) || e.Status != status):
		t.Fatalf("err = %v, want status %d", err, status)
	}
}

func TestValidCaller(t *testing.T) {
	f := newFixture(t, nil)
	wantStatus(t, f.a.Authenticate(f.request(sign(t, f.key, "ES256", f.claims()))), 0)
}

// TestIdentify: a token caller is named by its client_id, else its sub,
// else the key its token is bound to.
func TestIdentify(t *testing.T) {
	f := newFixture(t, nil)
	for _, c := range []struct {
		name string
		edit func(map[string]any)
		want string
	}{
		{"client", func(c map[string]any) { c["client_id"] = "ops-warden-client" }, "client:ops-warden-client"},
		{"subject", func(map[string]any) {}, "sub:ops-warden"},
		{"key", func(c map[string]any) { delete(c, "sub") }, "jkt:" + f.jkt},
	} {
		t.Run(c.name, func(t *testing.T) {
			cl := f.claims()
			c.edit(cl)
			got, err := f.a.Identify(f.request(sign(t, f.key, "ES256", cl)))
			if err != nil || got != c.want {
				t.Fatalf("Identify = %q, %v; want %q", got, err, c.want)
			}
		})
	}
}

// TestWithdrawnKeyRefused (finding: withdrawn keys stay trusted): the
// Authority removes its key; the periodic refresh drops it, and a token
// signed with it under its own kid is refused, without a restart.
func TestWithdrawnKeyRefused(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.JWKSRefreshInterval = 5 * time.Millisecond; c.JWKSMaxStale = time.Hour })
	old := f.key
	tok := func() string { return sign(t, old, "ES256", f.claims()) }
	wantStatus(t, f.a.Authenticate(f.request(tok())), 0)
	f.auth.SetKeys(t, newKey(t, "authority-2", "ES256", false))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.a.Run(ctx) }()
	defer func() { cancel(); <-done }()
	// Polled, with a bound only so that a regression fails instead of hanging.
	for deadline := time.Now().Add(30 * time.Second); f.a.keys.Published(old.KeyID()); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the withdrawn key is still trusted: no periodic refresh dropped it")
		}
	}
	wantStatus(t, f.a.Authenticate(f.request(tok())), http.StatusUnauthorized)
}

// TestUnknownKidFlood (finding: unauthenticated callers trigger unlimited
// JWKS fetches): 200 requests with random kids while the JWKS endpoint
// fails make one fetch, not 200.
func TestUnknownKidFlood(t *testing.T) {
	f := newFixture(t, nil)
	f.auth.Fail(http.StatusInternalServerError)
	f.advance(jwks.DefaultMinRefreshGap) // the start-up fetch was the previous attempt
	before := f.auth.JWKSFetches()
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := newKey(t, fmt.Sprintf("random-%d", i), "ES256", false)
			if err := f.a.Authenticate(f.request(sign(t, k, "ES256", f.claims()))); err == nil {
				t.Error("a token of an unknown key was accepted")
			}
		}()
	}
	wg.Wait()
	if n := f.auth.JWKSFetches() - before; n > 1 {
		t.Fatalf("200 random-kid requests made %d JWKS fetches, want at most 1", n)
	}
}

// TestTimeClaims (finding: tokens without exp never expire): exp is
// required, and time claims must be JSON numbers.
func TestTimeClaims(t *testing.T) {
	f := newFixture(t, nil)
	for name, edit := range map[string]func(c map[string]any){
		"no exp":              func(c map[string]any) { delete(c, "exp") },
		"no exp, iat and nbf": func(c map[string]any) { delete(c, "exp"); delete(c, "iat") },
		"exp a string":        func(c map[string]any) { c["exp"] = fmt.Sprint(c["exp"]) },
		"nbf a string":        func(c map[string]any) { c["nbf"] = "0" },
		"iat a string":        func(c map[string]any) { c["iat"] = "0" },
		"expired":             func(c map[string]any) { c["exp"] = f.Now().Add(-time.Minute).Unix() },
	} {
		t.Run(name, func(t *testing.T) {
			c := f.claims()
			edit(c)
			wantStatus(t, f.a.Authenticate(f.request(sign(t, f.key, "ES256", c))), http.StatusUnauthorized)
		})
	}
}

// TestTwoAuthorizationHeaders (finding: flex-auth used the first of two):
// a valid token and proof with a second Authorization header is refused.
func TestTwoAuthorizationHeaders(t *testing.T) {
	f := newFixture(t, nil)
	r := f.request(sign(t, f.key, "ES256", f.claims()))
	r.Header.Add("Authorization", "Bearer something-else")
	wantStatus(t, f.a.Authenticate(r), http.StatusUnauthorized)
}

// TestKeyWithoutAlg (finding: the two services disagreed): an Authority
// key without alg verifies every algorithm of its type, as in
// registry-token (pkg/jwks); a key with alg only its own.
func TestKeyWithoutAlg(t *testing.T) {
	f := newFixture(t, nil)
	noAlg := newKey(t, "rsa-no-alg", "", true)
	rs256 := newKey(t, "rsa-rs256", "RS256", true)
	f.auth.SetKeys(t, f.key, noAlg, rs256)
	f.advance(jwks.DefaultMinRefreshGap)
	wantStatus(t, f.a.Authenticate(f.request(sign(t, noAlg, "PS256", f.claims()))), 0)
	wantStatus(t, f.a.Authenticate(f.request(sign(t, noAlg, "RS256", f.claims()))), 0)
	wantStatus(t, f.a.Authenticate(f.request(sign(t, rs256, "PS256", f.claims()))), http.StatusUnauthorized)
}

// TestCertificateCaller: with auth.clientCertificates, a client
// certificate verified by the TLS handshake whose subject or SAN is listed
// authenticates without a token; anything else does not.
func TestCertificateCaller(t *testing.T) {
	ca := certtest.SelfSigned(t, "registry-token", 1)
	other := certtest.SelfSigned(t, "intruder", 2)
	ctx := context.Background()
	onlyCerts, err := New(ctx, Config{ClientCertificates: []string{"CN=registry-token"}})
	if err != nil {
		t.Fatal(err)
	}
	bySAN, err := New(ctx, Config{ClientCertificates: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	req := func(cert *x509.Certificate, verified bool) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/v1/check", nil)
		if cert != nil {
			r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}}
			if verified {
				r.TLS.VerifiedChains = [][]*x509.Certificate{{cert}}
			}
		}
		return r
	}
	wantStatus(t, onlyCerts.Authenticate(req(ca.X509, true)), 0)
	if id, _ := onlyCerts.Identify(req(ca.X509, true)); id != "cert:CN=registry-token" {
		t.Fatalf("certificate caller identified as %q", id)
	}
	wantStatus(t, bySAN.Authenticate(req(ca.X509, true)), 0)
	wantStatus(t, onlyCerts.Authenticate(req(other.X509, true)), http.StatusUnauthorized)
	wantStatus(t, onlyCerts.Authenticate(req(ca.X509, false)), http.StatusUnauthorized)
	wantStatus(t, onlyCerts.Authenticate(req(nil, false)), http.StatusUnauthorized)
	forwarded := req(nil, false)
	forwarded.Header.Set("Client-Cert", ":"+base64.StdEncoding.EncodeToString(ca.X509.Raw)+":")
	wantStatus(t, onlyCerts.Authenticate(forwarded), http.StatusUnauthorized)
	withToken := req(ca.X509, true)
	withToken.Header.Set("Authorization", "Bearer x")
	wantStatus(t, onlyCerts.Authenticate(withToken), http.StatusUnauthorized)
	if _, err := New(ctx, Config{}); err == nil {
		t.Fatal("New without an issuer or client certificates succeeded")
	}
}
