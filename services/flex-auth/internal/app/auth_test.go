package app

import (
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/authgate/pkg/dpop"
	"github.com/stellaops/authgate/pkg/testkit/authoritytest"
)

// token is an access token of auth for flex-auth with scope and, unless
// nil, the confirmation cnf.
func token(t *testing.T, auth *authoritytest.Authority, scope string, cnf map[string]any) string {
	t.Helper()
	claims := auth.Claims("ops-warden", time.Now())
	claims["aud"], claims["scope"] = "flex-auth", scope
	if cnf != nil {
		claims["cnf"] = cnf
	}
	return auth.Mint(t, claims)
}

func TestCallerAuthentication(t *testing.T) {
	auth := authoritytest.New(t)
	publicURL := "https://flex-auth.example.com"
	in := start(t, "--config", writeAuthConfig(t, auth.Issuer, publicURL))
	in.waitReady(t)
	client := authoritytest.NewKey(t)
	jkt, err := dpop.Thumbprint(client)
	if err != nil {
		t.Fatal(err)
	}
	body := `{"actor":"agt-state-hub-bridge"}`
	send := func(authz, proof string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, in.url+"/v1/check", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		if proof != "" {
			req.Header.Set("DPoP", proof)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var p struct{ Error string }
		_ = json.NewDecoder(resp.Body).Decode(&p)
		resp.Body.Close()
		return resp, p.Error
	}
	proof := func(tok string) string {
		p, err := dpop.NewProof(client, "ES256", "POST", publicURL+"/v1/check", tok, "", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	bound := token(t, auth, "flex-auth.check", map[string]any{"jkt": jkt})

	if resp, code := send("", ""); resp.StatusCode != 401 || code != "invalid_token" || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "DPoP") {
		t.Fatalf("no token: %d %s %q", resp.StatusCode, code, resp.Header.Get("WWW-Authenticate"))
	}
	if resp, code := send("DPoP "+bound, ""); resp.StatusCode != 401 || code != "invalid_dpop_proof" {
		t.Fatalf("no proof: %d %s", resp.StatusCode, code)
	}
	if resp, code := send("DPoP "+bound, proof(bound)); resp.StatusCode != 200 {
		t.Fatalf("valid token and proof: %d %s", resp.StatusCode, code)
	}
	p := proof(bound)
	send("DPoP "+bound, p)
	if resp, code := send("DPoP "+bound, p); resp.StatusCode != 401 || code != "invalid_dpop_proof" {
		t.Fatalf("replayed proof: %d %s", resp.StatusCode, code)
	}
	noScope := token(t, auth, "other.scope", map[string]any{"jkt": jkt})
	if resp, code := send("DPoP "+noScope, proof(noScope)); resp.StatusCode != 403 || code != "insufficient_scope" {
		t.Fatalf("missing scope: %d %s", resp.StatusCode, code)
	}
	unbound := token(t, auth, "flex-auth.check", nil)
	if resp, code := send("Bearer "+unbound, ""); resp.StatusCode != 401 || code != "invalid_token" {
		t.Fatalf("unbound token: %d %s", resp.StatusCode, code)
	}
	forged := token(t, authoritytest.New(t), "flex-auth.check", map[string]any{"jkt": jkt})
	if resp, code := send("DPoP "+forged, proof(forged)); resp.StatusCode != 401 || code != "invalid_token" {
		t.Fatalf("token from another key: %d %s", resp.StatusCode, code)
	}
	if code, _ := in.get(t, "/healthz"); code != 200 {
		t.Fatalf("/healthz must stay open: %d", code)
	}
}

func writeAuthConfig(t *testing.T, issuer, publicURL string) string {
	t.Helper()
	path := t.TempDir() + "/flex-auth.yaml"
	cfg := "auth:\n  issuer: " + issuer + "\n  metadataUrl: " + issuer + "/.well-known/openid-configuration\n" +
		"  requireHttpsMetadata: false\n  audiences: [flex-auth]\n  publicUrl: " + publicURL + "\n"
	if err := writeFile(path, cfg); err != nil {
		t.Fatal(err)
	}
	return path
}

func writeFile(path, content string) error { return os.WriteFile(path, []byte(content), 0o600) }
