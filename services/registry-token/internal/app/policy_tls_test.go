package app_test

import (
	"bytes"
	"context"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stellaops/authgate/pkg/dpop"
	"github.com/stellaops/authgate/pkg/testkit/authoritytest"
	"github.com/stellaops/authgate/services/registry-token/internal/app"
)

// httpsFlexAuth serves an allow for every check over HTTPS on 127.0.0.1
// (httptest's certificate) and returns its URL, the path of a PEM file
// holding the CA that signed its certificate, and its count of checks.
func httpsFlexAuth(t *testing.T) (url, caFile string, hits *atomic.Int64) {
	t.Helper()
	hits = new(atomic.Int64)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/check" {
			http.Error(w, "bad route", http.StatusNotFound)
			return
		}
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"decision_id":"decision:%016x","effect":"allow","reason":"registry_access_allowed"}`, hits.Load())
	}))
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_ = srv.Listener.Close()
	srv.Listener = ln
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	caFile = filepath.Join(t.TempDir(), "flex-auth-ca.crt")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return srv.URL, caFile, hits
}

// pullResponse asks the service at base for a pull token with a fresh
// DPoP-bound access token and proof; the caller closes the body.
func pullResponse(t *testing.T, a *authoritytest.Authority, base string) *http.Response {
	t.Helper()
	clientKey := authoritytest.NewKey(t)
	jkt, err := dpop.Thumbprint(clientKey)
	if err != nil {
		t.Fatal(err)
	}
	c := a.Claims("u", time.Now())
	c["cnf"] = map[string]any{"jkt": jkt}
	tok := a.Mint(t, c)
	p, err := dpop.NewProof(clientKey, "ES256", http.MethodGet, publicURL+"/token", tok, "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/token?service=registry.localhost&scope=repository:stella-ops/public/base:pull", nil)
	req.Header.Set("Authorization", "DPoP "+tok)
	req.Header.Set("DPoP", p)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// pullToken asks the service at base for a pull token and returns the
// status and body.
func pullToken(t *testing.T, a *authoritytest.Authority, base string) (int, string) {
	t.Helper()
	resp := pullResponse(t, a, base)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// policy.caFile makes the policy call to an HTTPS flex-auth whose
// certificate a private CA signed; without it the system roots refuse that
// certificate and, fail-closed, the request is refused as an outage.
func TestPolicyOverHTTPSWithPrivateCA(t *testing.T) {
	url, caFile, hits := httpsFlexAuth(t)
	a := authoritytest.New(t)

	base := startWith(t, a, fmt.Sprintf("policy: {url: %q, caFile: %q, timeout: 2s, failClosed: true}\n", url, caFile))
	status, body := pullToken(t, a, base)
	if status != http.StatusOK || !strings.Contains(body, `"token"`) {
		t.Fatalf("with policy.caFile: status %d: %s", status, body)
	}
	if hits.Load() != 1 {
		t.Fatalf("%d checks reached flex-auth, want 1", hits.Load())
	}

	base = startWith(t, a, fmt.Sprintf("policy: {url: %q, timeout: 2s, failClosed: true}\n", url))
	status, body = pullToken(t, a, base)
	if status != http.StatusServiceUnavailable || !strings.Contains(body, "policy_unavailable") {
		t.Fatalf("without policy.caFile: status %d: %s", status, body)
	}
	if hits.Load() != 1 {
		t.Fatalf("a check reached flex-auth over an untrusted connection")
	}
}

// A policy.caFile problem stops serve before anything starts, reported
// with the other configuration problems.
func TestServeRefusesBadPolicyCAFile(t *testing.T) {
	dir := t.TempDir()
	a := authoritytest.New(t)
	cfgFile := writeConfig(t, dir, a, writeKey(t, dir, 0o600))
	notPEM := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	err := app.Run(context.Background(), app.Env{Args: []string{"serve", "--config", cfgFile}, Stderr: &stderr,
		Environ: []string{"REGISTRY_TOKEN_POLICY__URL=https://127.0.0.1:1", "REGISTRY_TOKEN_POLICY__CAFILE=" + notPEM,
			"REGISTRY_TOKEN_SIGNING__LIFETIME=5h"}})
	if err == nil {
		t.Fatal("served")
	}
	for _, want := range []string{"policy.caFile: no PEM certificates in " + notPEM, "signing.lifetime"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q missing from %v", want, err)
		}
	}
	if stderr.Len() > 0 {
		t.Errorf("refused to start, yet wrote:\n%s", stderr.String())
	}
}
