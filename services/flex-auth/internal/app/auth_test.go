package app

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/stellaops/authgate/pkg/dpop"
)

// fakeAuthority serves a discovery document and a key set, and mints
// access tokens signed with its key.
type fakeAuthority struct {
	srv *httptest.Server
	key jwk.Key
}

func newKey(t *testing.T, kid string) jwk.Key {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := jwk.FromRaw(priv)
	if err != nil {
		t.Fatal(err)
	}
	_ = k.Set(jwk.KeyIDKey, kid)
	_ = k.Set(jwk.AlgorithmKey, jwa.ES256)
	return k
}

func newFakeAuthority(t *testing.T) *fakeAuthority {
	t.Helper()
	a := &fakeAuthority{key: newKey(t, "authority-1")}
	mux := http.NewServeMux()
	a.srv = httptest.NewServer(mux)
	t.Cleanup(a.srv.Close)
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": a.srv.URL, "jwks_uri": a.srv.URL + "/jwks"})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, _ *http.Request) {
		pub, _ := a.key.PublicKey()
		set := jwk.NewSet()
		_ = set.AddKey(pub)
		_ = json.NewEncoder(w).Encode(set)
	})
	return a
}

func (a *fakeAuthority) token(t *testing.T, scope string, cnf map[string]any) string {
	t.Helper()
	b := jwt.NewBuilder().Issuer(a.srv.URL).Audience([]string{"flex-auth"}).Subject("ops-warden").
		IssuedAt(time.Now()).Expiration(time.Now().Add(5*time.Minute)).Claim("scope", scope)
	if cnf != nil {
		b = b.Claim("cnf", cnf)
	}
	tok, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.ES256, a.key))
	if err != nil {
		t.Fatal(err)
	}
	return string(signed)
}

func TestCallerAuthentication(t *testing.T) {
	auth := newFakeAuthority(t)
	publicURL := "https://flex-auth.example.com"
	in := start(t, "--config", writeAuthConfig(t, auth.srv.URL, publicURL))
	client := newKey(t, "client")
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
	bound := auth.token(t, "flex-auth.check", map[string]any{"jkt": jkt})

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
	noScope := auth.token(t, "other.scope", map[string]any{"jkt": jkt})
	if resp, code := send("DPoP "+noScope, proof(noScope)); resp.StatusCode != 403 || code != "insufficient_scope" {
		t.Fatalf("missing scope: %d %s", resp.StatusCode, code)
	}
	unbound := auth.token(t, "flex-auth.check", nil)
	if resp, code := send("Bearer "+unbound, ""); resp.StatusCode != 401 || code != "invalid_token" {
		t.Fatalf("unbound token: %d %s", resp.StatusCode, code)
	}
	forged := newFakeAuthority(t).token(t, "flex-auth.check", map[string]any{"jkt": jkt})
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
