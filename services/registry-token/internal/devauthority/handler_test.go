package devauthority

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/authgate/pkg/testkit/certtest"
)

func postToken(t *testing.T, a *Authority, form url.Values, dpopHeader string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, TokenPath, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if dpopHeader != "" {
		req.Header.Set("DPoP", dpopHeader)
	}
	rec := httptest.NewRecorder()
	a.ServeHTTP(rec, req)
	return rec
}

func TestTokenEndpointDPoP(t *testing.T) {
	var gotHTU string
	a := newTestAuthority(t, Options{VerifyProof: func(r *http.Request, htu string) (string, error) {
		gotHTU = htu
		if r.Header.Get("DPoP") != "good-proof" {
			return "", errors.New("bad proof")
		}
		return "key-thumbprint", nil
	}})
	form := url.Values{
		"grant_type": {"client_credentials"},
		"sub":        {"alice"},
		"plan":       {"enterprise"},
		"license":    {"lic-9"},
		"audience":   {"registry other"},
		"ttl":        {"2m"},
	}
	rec := postToken(t, a, form, "good-proof")
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if gotHTU != a.TokenURL() {
		t.Errorf("proof checked against htu %q", gotHTU)
	}
	var resp TokenResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		t.Fatal(err)
	}
	if resp.TokenType != "DPoP" || resp.ExpiresIn != 120 || resp.Scope != DefaultScope {
		t.Errorf("response = %+v", resp)
	}
	parsed, err := verify(t, a, resp.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	c := parsed.PrivateClaims()
	cnf, _ := c["cnf"].(map[string]any)
	if parsed.Subject() != "alice" || c[ClaimPlan] != "enterprise" || c[ClaimLicense] != "lic-9" || cnf["jkt"] != "key-thumbprint" {
		t.Errorf("claims sub=%q %v", parsed.Subject(), c)
	}
	if aud := parsed.Audience(); len(aud) != 2 || aud[0] != "registry" || aud[1] != "other" {
		t.Errorf("aud = %v", aud)
	}

	if rec := postToken(t, a, form, "forged"); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "invalid_dpop_proof") {
		t.Errorf("bad proof: %d %s", rec.Code, rec.Body)
	}
}

func TestTokenEndpointRejects(t *testing.T) {
	ok := func(*http.Request, string) (string, error) { return "k", nil }
	cases := []struct {
		name   string
		opts   Options
		form   url.Values
		proof  string
		status int
		code   string
	}{
		{"no binding", Options{VerifyProof: ok}, url.Values{"grant_type": {"client_credentials"}}, "", 400, "invalid_request"},
		{"wrong grant", Options{VerifyProof: ok}, url.Values{"grant_type": {"password"}}, "p", 400, "unsupported_grant_type"},
		{"ttl too long", Options{VerifyProof: ok}, url.Values{"grant_type": {"client_credentials"}, "ttl": {"2h"}}, "p", 400, "invalid_request"},
		{"ttl negative", Options{VerifyProof: ok}, url.Values{"grant_type": {"client_credentials"}, "ttl": {"-1m"}}, "p", 400, "invalid_request"},
		{"no verifier", Options{}, url.Values{"grant_type": {"client_credentials"}}, "p", 501, "unsupported_token_type"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := postToken(t, newTestAuthority(t, tc.opts), tc.form, tc.proof)
			if rec.Code != tc.status || !strings.Contains(rec.Body.String(), `"error":"`+tc.code+`"`) {
				t.Errorf("got %d %s, want %d %s", rec.Code, rec.Body, tc.status, tc.code)
			}
		})
	}
	a := newTestAuthority(t, Options{})
	rec := httptest.NewRecorder()
	a.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, TokenPath, nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET /token: %d", rec.Code)
	}
}

func TestTokenEndpointMTLS(t *testing.T) {
	cert := selfSigned(t)
	srv := httptest.NewUnstartedServer(nil)
	a := newTestAuthority(t, Options{Issuer: "https://127.0.0.1:1", Now: time.Now})
	srv.Config.Handler = a
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAnyClientCert}
	srv.StartTLS()
	defer srv.Close()

	client := srv.Client()
	tr := client.Transport.(*http.Transport)
	tr.TLSClientConfig.Certificates = []tls.Certificate{cert}
	resp, err := client.PostForm(srv.URL+TokenPath, url.Values{"grant_type": {"client_credentials"}, "sub": {"m"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body TokenResponse
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, decode %v", resp.StatusCode, err)
	}
	if body.TokenType != "Bearer" {
		t.Errorf("token_type = %q", body.TokenType)
	}
	parsed, err := verifyNow(a, body.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	cnf, _ := parsed.PrivateClaims()["cnf"].(map[string]any)
	leaf, _ := x509.ParseCertificate(cert.Certificate[0])
	if cnf["x5t#S256"] != CertThumbprint(leaf) {
		t.Errorf("cnf = %v, want x5t#S256 %s", cnf, CertThumbprint(leaf))
	}
}

func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	return certtest.SelfSigned(t, "client", 1).TLS
}
