package devauthority

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/stellaops/authgate/pkg/dpop"
)

// TestTokenEndpointWithRealProofs mints an OpTok over HTTP for a proof
// built by pkg/dpop, as "registry-token-dev token" does, and checks the
// binding and the replay protection.
func TestTokenEndpointWithRealProofs(t *testing.T) {
	srv := httptest.NewUnstartedServer(nil)
	issuer := "http://" + srv.Listener.Addr().String()
	verify, err := NewDPoPVerifier(t.Context(), issuer)
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(Options{Issuer: issuer, VerifyProof: verify})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = a
	srv.Start()
	defer srv.Close()

	raw, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key, err := jwk.FromRaw(raw)
	if err != nil {
		t.Fatal(err)
	}
	jkt, err := dpop.Thumbprint(key)
	if err != nil {
		t.Fatal(err)
	}
	proof, err := dpop.NewProof(key, "ES256", http.MethodPost, a.TokenURL(), "", "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"grant_type": {"client_credentials"}, "plan": {"enterprise"}}
	post := func(proof string) *http.Response {
		req, err := http.NewRequest(http.MethodPost, a.TokenURL(), strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("DPoP", proof)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := post(proof)
	defer resp.Body.Close()
	var body TokenResponse
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, decode %v", resp.StatusCode, err)
	}
	parsed, err := verifyNow(a, body.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	cnf, _ := parsed.PrivateClaims()["cnf"].(map[string]any)
	if cnf["jkt"] != jkt {
		t.Errorf("cnf = %v, want jkt %s", cnf, jkt)
	}

	replay := post(proof)
	_ = replay.Body.Close()
	if replay.StatusCode != http.StatusBadRequest {
		t.Errorf("replayed proof: status %d, want 400", replay.StatusCode)
	}
	// The client helper of "registry-token-dev token".
	got, err := RequestToken(t.Context(), http.DefaultClient, a.TokenURL(), key, "ES256",
		TokenRequest{Subject: "dev", Plan: "community", License: "lic", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	parsed, err = verifyNow(a, got.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if cnf, _ := parsed.PrivateClaims()["cnf"].(map[string]any); cnf["jkt"] != jkt || parsed.Subject() != "dev" || got.ExpiresIn != 60 {
		t.Errorf("RequestToken: sub=%q cnf=%v expires_in=%d", parsed.Subject(), cnf, got.ExpiresIn)
	}
	if _, err := RequestToken(t.Context(), http.DefaultClient, a.TokenURL(), key, "ES256", TokenRequest{TTL: 2 * time.Hour}); err == nil {
		t.Error("RequestToken accepted a refused request")
	}

	wrongURL, err := dpop.NewProof(key, "ES256", http.MethodPost, issuer+"/other", "", "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	r := post(wrongURL)
	_ = r.Body.Close()
	if r.StatusCode != http.StatusBadRequest {
		t.Errorf("proof for another URL: status %d, want 400", r.StatusCode)
	}
}
