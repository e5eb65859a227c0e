package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/stellaops/authgate/pkg/dpop"
	"github.com/stellaops/authgate/pkg/testkit/authoritytest"
	"github.com/stellaops/authgate/services/registry-token/internal/app"
	"github.com/stellaops/authgate/services/registry-token/internal/signing"
)

const publicURL = "http://localhost:8085"

func writeKey(t *testing.T, dir string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(dir, "signing.pem")
	if err := signing.WriteNewKey(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func writeConfig(t *testing.T, dir string, a *authoritytest.Authority, keyFile string) string {
	t.Helper()
	cfg := fmt.Sprintf(`
log: {level: info}
server: {addr: "127.0.0.1:0", publicUrl: %q}
authority:
  issuer: %q
  metadataUrl: %q
  requireHttpsMetadata: false
registry: {realm: %q, services: [registry.localhost]}
signing: {keyFile: %q}
plans:
  community: [{repository: "stella-ops/public/*", actions: [pull]}]
  enterprise: [{repository: "stella-ops/*/*", actions: [pull, push]}]
defaultPlan: community
`, publicURL, a.Issuer, a.MetadataURL(), publicURL+"/token", keyFile)
	path := filepath.Join(dir, "registry-token.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRunServesTheDocumentedSample(t *testing.T) {
	dir := t.TempDir()
	a := authoritytest.New(t)
	cfgFile := writeConfig(t, dir, a, writeKey(t, dir, 0o600))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	listening := make(chan net.Addr, 1)
	logR, logW := io.Pipe()
	logs := make(chan string, 1)
	go func() { b, _ := io.ReadAll(logR); logs <- string(b) }()
	done := make(chan error, 1)
	go func() {
		done <- app.Run(ctx, app.Env{
			Args:      []string{"serve", "--config", cfgFile, "--addr", "127.0.0.1:0"},
			Environ:   []string{"REGISTRY_TOKEN_SIGNING__LIFETIME=2m"},
			Stdout:    io.Discard,
			Stderr:    logW,
			Listening: func(addr net.Addr) { listening <- addr },
		})
	}()
	var base string
	select {
	case addr := <-listening:
		base = "http://" + addr.String()
	case err := <-done:
		t.Fatalf("Run returned early: %v", err)
	}

	if code := get(t, base+"/healthz", nil); code != 200 {
		t.Fatalf("healthz %d", code)
	}
	for get(t, base+"/readyz", nil) != 200 {
		select {
		case err := <-done:
			t.Fatalf("Run returned: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}

	// The documented sample: Bearer OpTok + DPoP header.
	clientKey := authoritytest.NewKey(t)
	jkt, err := dpop.Thumbprint(clientKey)
	if err != nil {
		t.Fatal(err)
	}
	claims := a.Claims("customer-42", time.Now())
	claims["cnf"] = map[string]any{"jkt": jkt}
	optok := a.Mint(t, claims)
	proof, err := dpop.NewProof(clientKey, "ES256", http.MethodGet, publicURL+"/token", optok, "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/token?service=registry.localhost&scope=repository:stella-ops/public/base:pull", nil)
	req.Header.Set("Authorization", "Bearer "+optok)
	req.Header.Set("DPoP", proof)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/token %d: %s", resp.StatusCode, body)
	}
	var out struct {
		Token     string `json:"token"`
		ExpiresIn int    `json:"expires_in"`
		IssuedAt  string `json:"issued_at"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.Token == "" || out.IssuedAt == "" || out.ExpiresIn != 120 {
		t.Fatalf("response %s (%v)", body, err)
	}

	// The issued token verifies with /jwks.json.
	var jwksBody []byte
	if code := get(t, base+"/jwks.json", &jwksBody); code != 200 {
		t.Fatalf("jwks %d", code)
	}
	set, err := jwk.Parse(jwksBody)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Parse([]byte(out.Token), jwt.WithKeySet(set), jwt.WithAudience("registry.localhost"), jwt.WithIssuer("registry-token"))
	if err != nil {
		t.Fatalf("issued token: %v", err)
	}
	if tok.Subject() != "customer-42" {
		t.Fatalf("sub %q", tok.Subject())
	}

	var metrics []byte
	if code := get(t, base+"/metrics", &metrics); code != 200 || !strings.Contains(string(metrics), "registry_token_issued_total 1") {
		t.Fatalf("metrics %d:\n%s", code, metrics)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	logW.Close()
	text := <-logs
	if !strings.Contains(text, `"msg":"token issued"`) || !strings.Contains(text, `"subject":"customer-42"`) {
		t.Fatalf("decision line missing:\n%s", text)
	}
	if strings.Contains(text, optok) || strings.Contains(text, proof) || strings.Contains(text, out.Token) {
		t.Fatal("a token or proof was logged")
	}
}

func get(t *testing.T, url string, body *[]byte) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if body != nil {
		*body = b
	}
	return resp.StatusCode
}

func TestCommands(t *testing.T) {
	dir := t.TempDir()
	a := authoritytest.New(t)
	good := writeConfig(t, dir, a, writeKey(t, dir, 0o600))
	loose := filepath.Join(t.TempDir(), "loose.yaml")
	looseDir := filepath.Dir(loose)
	loose = writeConfig(t, looseDir, a, writeKey(t, looseDir, 0o644))
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("server: {publicUrl: nope}\nsigning: {lifetime: 2h}\nbogus: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		args    []string
		env     []string
		usage   bool
		wantErr []string
		stdout  []string
	}{
		{name: "no command", args: nil, usage: true},
		{name: "unknown command", args: []string{"frobnicate"}, usage: true},
		{name: "bad flag", args: []string{"serve", "--nope"}, usage: true},
		{name: "check-config ok", args: []string{"check-config", "--config", good},
			env: []string{"REGISTRY_TOKEN_SIGNING__KEYPASSWORD=topsecret"}, stdout: []string{"keyPassword: REDACTED", "defaultPlan: community"}},
		{name: "check-config lists every problem", args: []string{"check-config", "--config", bad},
			wantErr: []string{`unknown key "bogus"`, "server.publicUrl", "signing.lifetime", "authority.issuer", "plans"}},
		{name: "key readable by others", args: []string{"check-config", "--config", loose}, wantErr: []string{"chmod 600"}},
		// Config and key problems are reported together, before anything
		// starts (no Authority fetch is attempted).
		{name: "serve names config and key problems at once", args: []string{"serve", "--config", loose},
			env:     []string{"REGISTRY_TOKEN_SIGNING__LIFETIME=5h", "REGISTRY_TOKEN_AUTHORITY__REPLAYCACHE__MAXENTRIES=0"},
			wantErr: []string{"chmod 600", "signing.lifetime", "authority.replayCache.maxEntries"}},
		{name: "check-config names config and key problems at once", args: []string{"check-config", "--config", loose},
			env: []string{"REGISTRY_TOKEN_SIGNING__LIFETIME=5h"}, wantErr: []string{"chmod 600", "signing.lifetime"}},
		{name: "jwks", args: []string{"jwks", "--config", good}, stdout: []string{`"kty": "EC"`, `"alg": "ES256"`, `"use": "sig"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := app.Run(context.Background(), app.Env{Args: tc.args, Environ: tc.env, Stdout: &stdout, Stderr: &stderr})
			if tc.usage != errors.Is(err, app.ErrUsage) {
				t.Fatalf("err %v, usage %v", err, tc.usage)
			}
			if tc.usage {
				return
			}
			if len(tc.wantErr) > 0 {
				if err == nil {
					t.Fatal("no error")
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("%q missing from %v", w, err)
					}
				}
				if stderr.Len() > 0 {
					t.Errorf("refused to start, yet wrote:\n%s", stderr.String())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.stdout {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("%q missing from output:\n%s", w, stdout.String())
				}
			}
			if strings.Contains(stdout.String(), "topsecret") || strings.Contains(stdout.String(), `"d"`) {
				t.Fatalf("secret printed:\n%s", stdout.String())
			}
		})
	}
}
