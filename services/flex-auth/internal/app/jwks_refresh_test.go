package app

import (
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/stellaops/authgate/pkg/dpop"
)

// TestWithdrawnAuthorityKeyRefused runs flex-auth with
// auth.jwksRefreshInterval: 1s against an Authority that withdraws its
// signing key: a token signed with it, under its own kid, is refused once
// the periodic refresh ran, without a restart (it used to be accepted
// until one).
func TestWithdrawnAuthorityKeyRefused(t *testing.T) {
	auth := newFakeAuthority(t)
	var published atomic.Pointer[jwk.Set]
	set := jwk.NewSet()
	pub, _ := auth.key.PublicKey()
	_ = set.AddKey(pub)
	published.Store(&set)
	// Serve the set in published instead of the fake's fixed one (set
	// before any request reaches the server).
	auth.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/jwks" {
			_ = json.NewEncoder(w).Encode(*published.Load())
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": auth.srv.URL, "jwks_uri": auth.srv.URL + "/jwks"})
	})
	publicURL := "https://flex-auth.example.com"
	cfg := writeAuthConfig(t, auth.srv.URL, publicURL)
	f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString("  jwksRefreshInterval: 1s\n")
	_ = f.Close()
	in := start(t, "--config", cfg)

	client := newKey(t, "client")
	jkt, err := dpop.Thumbprint(client)
	if err != nil {
		t.Fatal(err)
	}
	send := func() int {
		tok := auth.token(t, "flex-auth.check", map[string]any{"jkt": jkt})
		proof, err := dpop.NewProof(client, "ES256", "POST", publicURL+"/v1/check", tok, "", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodPost, in.url+"/v1/check", strings.NewReader(`{"actor":"agt-state-hub-bridge"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "DPoP "+tok)
		req.Header.Set("DPoP", proof)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := send(); code != http.StatusOK {
		t.Fatalf("before the withdrawal: %d", code)
	}
	other := jwk.NewSet()
	otherPub, _ := newKey(t, "authority-2").PublicKey()
	_ = other.AddKey(otherPub)
	published.Store(&other)
	// Polled, with a bound only so that a regression fails instead of hanging.
	for deadline := time.Now().Add(30 * time.Second); send() != http.StatusUnauthorized; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a token of the withdrawn key is still accepted")
		}
	}
}
