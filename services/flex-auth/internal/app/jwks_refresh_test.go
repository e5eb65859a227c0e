package app

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/authgate/pkg/dpop"
	"github.com/stellaops/authgate/pkg/testkit/authoritytest"
)

// TestWithdrawnAuthorityKeyRefused runs flex-auth with
// auth.jwksRefreshInterval: 1s against an Authority that withdraws its
// signing key: a token signed with it, under its own kid, is refused once
// the periodic refresh ran, without a restart (it used to be accepted
// until one).
func TestWithdrawnAuthorityKeyRefused(t *testing.T) {
	auth := authoritytest.New(t)
	publicURL := "https://flex-auth.example.com"
	cfg := writeAuthConfig(t, auth.Issuer, publicURL)
	f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString("  jwksRefreshInterval: 1s\n")
	_ = f.Close()
	in := start(t, "--config", cfg)
	in.waitReady(t)

	client := authoritytest.NewKey(t)
	jkt, err := dpop.Thumbprint(client)
	if err != nil {
		t.Fatal(err)
	}
	send := func() int {
		tok := token(t, auth, "flex-auth.check", map[string]any{"jkt": jkt})
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
	auth.SetKeys(t, authoritytest.NewKey(t)) // the signing key is withdrawn
	// Polled, with a bound only so that a regression fails instead of hanging.
	for deadline := time.Now().Add(30 * time.Second); send() != http.StatusUnauthorized; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a token of the withdrawn key is still accepted")
		}
	}
}
