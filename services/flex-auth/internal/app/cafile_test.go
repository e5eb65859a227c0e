package app

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/authgate/pkg/dpop"
	"github.com/stellaops/authgate/pkg/testkit/authoritytest"
	"github.com/stellaops/authgate/pkg/testkit/certtest"
)

// TestAuthCAFile (finding: trusting an Authority behind a private CA
// needed SSL_CERT_FILE): with auth.caFile naming the private CA, flex-auth
// fetches discovery and the JWKS of a real TLS Authority (https required)
// and accepts its tokens; without it start-up fails on the untrusted
// certificate.
func TestAuthCAFile(t *testing.T) {
	ca := certtest.SelfSigned(t, "private Authority CA", 1)
	auth := authoritytest.NewTLS(t, ca.TLS)
	dir := t.TempDir()
	caFile := filepath.Join(dir, "authority-ca.pem")
	ca.WriteFiles(t, caFile, "")
	publicURL := "https://flex-auth.example.com"
	config := func(extra string) string {
		path := filepath.Join(t.TempDir(), "flex-auth.yaml")
		cfg := "auth:\n  issuer: " + auth.Issuer + "\n  metadataUrl: " + auth.MetadataURL() + "\n" +
			"  audiences: [flex-auth]\n  publicUrl: " + publicURL + "\n" + extra
		if err := writeFile(path, cfg); err != nil {
			t.Fatal(err)
		}
		return path
	}

	stderr := &syncBuffer{}
	err := Run(context.Background(), Env{Stderr: stderr, Args: []string{"--addr", "127.0.0.1:0", "--registry", fixtureRegistry,
		"--policy", fixturePolicy, "--log", filepath.Join(dir, "d.jsonl"), "--config", config("")}})
	if err == nil || !strings.Contains(stderr.String()+err.Error(), "certificate") {
		t.Fatalf("without auth.caFile: err = %v, want the untrusted certificate refused\n%s", err, stderr.String())
	}

	in := start(t, "--config", config("  caFile: "+caFile+"\n"))
	in.waitReady(t)
	client := authoritytest.NewKey(t)
	jkt, err := dpop.Thumbprint(client)
	if err != nil {
		t.Fatal(err)
	}
	tok := token(t, auth, "flex-auth.check", map[string]any{"jkt": jkt})
	req, _ := http.NewRequest(http.MethodPost, in.url+"/v1/check", strings.NewReader(`{"actor":"agt-state-hub-bridge"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "DPoP "+tok)
	proof, err := dpop.NewProof(client, "ES256", http.MethodPost, publicURL+"/v1/check", tok, "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("DPoP", proof)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("token of the Authority behind the private CA: status %d\n%s", resp.StatusCode, in.stderr.String())
	}
}
