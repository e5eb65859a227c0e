package e2e

import (
	"crypto/x509"
	"encoding/base64"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stellaops/authgate/services/registry-token/internal/devauthority"
)

// TestMTLSBoundOpTok serves registry-token over HTTPS with client
// certificates and presents OpToks bound to a certificate (cnf.x5t#S256)
// without any DPoP proof.
func TestMTLSBoundOpTok(t *testing.T) {
	m, err := NewTLSMaterial(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Parallel()
	e := newEnv(t, m)
	a := e.stack.Authority
	thumb := devauthority.CertThumbprint(m.ClientLeaf)
	withCert := e.stack.HTTPClient(m, &m.Client)
	q := scopeQuery(e.stack.Service, "repository:stella-ops/public/base:pull").Encode()
	u := e.stack.Realm + "?" + q

	tok, err := a.MintMTLS("machine", planCommunity, "lic-m", thumb, []string{requiredScope}, nil, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("bound certificate", func(t *testing.T) {
		r := doToken(t, withCert, u, "Bearer "+tok, nil)
		wantStatus(t, r, http.StatusOK)
		regTok, _ := r.Body["token"].(string)
		if e.registryToken(t, regTok).Subject() != "machine" {
			t.Error("wrong subject")
		}
		// The registry accepts the token: the tag is unknown (404), not
		// unauthorized (401).
		req, err := http.NewRequest(http.MethodGet, "http://"+e.registry+"/v2/stella-ops/public/base/manifests/none", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+regTok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("registry answered %d to the mTLS-path token, want 404", resp.StatusCode)
		}
	})

	t.Run("no client certificate", func(t *testing.T) {
		r := doToken(t, e.client, u, "Bearer "+tok, nil)
		wantStatus(t, r, http.StatusUnauthorized)
		// The listener verifies client certificates: the 401 offers Basic,
		// the carrier of standard registry clients.
		if !slices.Contains(r.Header.Values("WWW-Authenticate"), `Basic realm="`+e.stack.Realm+`", charset="UTF-8"`) {
			t.Fatalf("challenges %q offer no Basic", r.Header.Values("WWW-Authenticate"))
		}
	})

	t.Run("bound certificate, the OpTok as the Basic password", func(t *testing.T) {
		basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("oauth2accesstoken:"+tok))
		wantStatus(t, doToken(t, withCert, u, basic, nil), http.StatusOK)
		wantStatus(t, doToken(t, e.client, u, basic, nil), http.StatusUnauthorized)
	})

	t.Run("forwarded certificate from an untrusted peer is ignored", func(t *testing.T) {
		// No trustedProxies are configured, so a Client-Cert header (RFC
		// 9440) naming the bound certificate must not stand in for the TLS
		// client certificate.
		req, err := http.NewRequest(http.MethodGet, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Client-Cert", ":"+base64.StdEncoding.EncodeToString(m.ClientLeaf.Raw)+":")
		resp, err := e.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("forged Client-Cert header: status %d, want 401", resp.StatusCode)
		}
	})

	t.Run("certificate from an untrusted CA", func(t *testing.T) {
		c := e.stack.HTTPClient(m, &m.Stranger)
		req, err := http.NewRequest(http.MethodGet, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := c.Do(req)
		if err == nil {
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("untrusted client certificate: status %d, want a TLS failure or 401", resp.StatusCode)
			}
		}
	})

	t.Run("token bound to another certificate", func(t *testing.T) {
		stranger, err := x509.ParseCertificate(m.Stranger.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		other, err := a.MintMTLS("machine", planCommunity, "lic-m", devauthority.CertThumbprint(stranger), []string{requiredScope}, nil, 5*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, doToken(t, withCert, u, "Bearer "+other, nil), http.StatusUnauthorized)
	})

	t.Run("DPoP-bound token over the mTLS listener still needs its proof", func(t *testing.T) {
		k := newClientKey(t)
		dtok := e.opTok(t, planCommunity, "lic-1", k)
		wantStatus(t, doToken(t, withCert, u, "DPoP "+dtok, nil), http.StatusUnauthorized)
		p, err := k.Proof(http.MethodGet, e.stack.Realm, dtok)
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, doToken(t, withCert, u, "DPoP "+dtok, []string{p}), http.StatusOK)
	})
}
