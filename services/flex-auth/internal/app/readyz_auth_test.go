package app

import (
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/stellaops/authgate/pkg/testkit/authoritytest"
)

// TestReadyzWithoutAuthorityKeys runs flex-auth with caller
// authentication, auth.jwksRefreshInterval: 1s and auth.jwksMaxStale: 2s,
// against an Authority that stops answering: /readyz turns 503 once the
// keys are dropped (as registry-token's does), and 200 again once the
// Authority answers.
func TestReadyzWithoutAuthorityKeys(t *testing.T) {
	auth := authoritytest.New(t)
	cfg := writeAuthConfig(t, auth.Issuer, "https://flex-auth.example.com")
	f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString("  jwksRefreshInterval: 1s\n  jwksMaxStale: 2s\n")
	_ = f.Close()
	in := start(t, "--config", cfg)

	readyz := func() int {
		resp, err := http.Get(in.url + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// Polled, with bounds only so that a regression fails instead of hanging.
	waitFor := func(want int, what string) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); readyz() != want; time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("/readyz never answered %d %s", want, what)
			}
		}
	}
	waitFor(http.StatusOK, "with the Authority's keys")
	auth.Fail(http.StatusServiceUnavailable)
	waitFor(http.StatusServiceUnavailable, "after the keys were dropped")
	auth.Fail(0)
	waitFor(http.StatusOK, "once the Authority answered again")
}
