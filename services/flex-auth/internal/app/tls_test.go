package app

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/authgate/pkg/dpop"
	"github.com/stellaops/authgate/pkg/testkit/authoritytest"
)

// testCA issues certificates for the TLS tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	file string // the CA certificate, PEM
}

// issued is a certificate with its key, as files and as a tls.Certificate.
type issued struct {
	certFile, keyFile string
	pair              tls.Certificate
	leaf              *x509.Certificate
}

func serial(t *testing.T) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: serial(t), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	ca := &testCA{cert: cert, key: key, file: filepath.Join(t.TempDir(), name+".crt")}
	writePEM(t, ca.file, "CERTIFICATE", der)
	return ca
}

// issue signs a leaf certificate for 127.0.0.1 (server) or a client.
func (ca *testCA) issue(t *testing.T, name string, server bool) issued {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: serial(t), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out := issued{certFile: filepath.Join(dir, name+".crt"), keyFile: filepath.Join(dir, name+".key")}
	writePEM(t, out.certFile, "CERTIFICATE", der)
	writePEM(t, out.keyFile, "PRIVATE KEY", kder)
	if out.pair, err = tls.LoadX509KeyPair(out.certFile, out.keyFile); err != nil {
		t.Fatal(err)
	}
	if out.leaf, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	return out
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// startTLS starts flex-auth with server.tls (and the extra config) and
// returns the instance with its https:// URL.
func startTLS(t *testing.T, ca *testCA, extraConfig string) *instance {
	t.Helper()
	srv := ca.issue(t, "flex-auth", true)
	cfg := "server:\n  tls:\n    certFile: " + srv.certFile + "\n    keyFile: " + srv.keyFile +
		"\n    clientCaFile: " + ca.file + "\n" + extraConfig
	path := filepath.Join(t.TempDir(), "flex-auth.yaml")
	if err := writeFile(path, cfg); err != nil {
		t.Fatal(err)
	}
	in := start(t, "--config", path)
	in.url = "https://" + strings.TrimPrefix(in.url, "http://")
	return in
}

// httpsClient trusts ca and presents the given client certificate, if
// any, whatever CAs the server names (a client left to choose would send
// none that the server does not name).
func httpsClient(t *testing.T, ca *testCA, certs ...tls.Certificate) *http.Client {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	cfg := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	if len(certs) > 0 {
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &certs[0], nil }
	}
	tr := &http.Transport{TLSClientConfig: cfg}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func TestTLSListener(t *testing.T) {
	ca := newTestCA(t, "ca")
	in := startTLS(t, ca, "")
	client := ca.issue(t, "ops-warden", false)
	other := newTestCA(t, "other-ca").issue(t, "stranger", false)

	tests := []struct {
		name   string
		client *http.Client
		method string
		path   string
		want   int // 0: the TLS handshake must fail
	}{
		{name: "healthz without a client certificate", client: httpsClient(t, ca), method: http.MethodGet, path: "/healthz", want: 200},
		{name: "healthz with a client certificate from the CA", client: httpsClient(t, ca, client.pair), method: http.MethodGet, path: "/healthz", want: 200},
		{name: "check without a client certificate, caller auth off", client: httpsClient(t, ca), method: http.MethodPost, path: "/v1/check", want: 200},
		{name: "client certificate from another CA", client: httpsClient(t, ca, other.pair), method: http.MethodGet, path: "/healthz"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, in.url+tc.path, strings.NewReader(`{"actor":"agt-state-hub-bridge"}`))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			resp, err := tc.client.Do(req)
			if tc.want == 0 {
				if err == nil {
					resp.Body.Close()
					t.Fatalf("accepted: %d", resp.StatusCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
			if resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
				t.Fatalf("not served over TLS 1.2+: %+v", resp.TLS)
			}
		})
	}

	t.Run("plain HTTP is not served", func(t *testing.T) {
		resp, err := http.Get("http://" + strings.TrimPrefix(in.url, "https://") + "/healthz")
		if err == nil {
			defer resp.Body.Close()
			if resp.StatusCode == 200 {
				t.Fatal("plain HTTP answered 200")
			}
		}
	})
	t.Run("TLS 1.1 is refused", func(t *testing.T) {
		roots := x509.NewCertPool()
		roots.AddCert(ca.cert)
		conn, err := tls.Dial("tcp", strings.TrimPrefix(in.url, "https://"),
			&tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS11, MaxVersion: tls.VersionTLS11})
		if err == nil {
			conn.Close()
			t.Fatal("TLS 1.1 handshake succeeded")
		}
	})
}

func TestCallerAuthenticationCertificateBound(t *testing.T) {
	auth := authoritytest.New(t)
	ca := newTestCA(t, "ca")
	in := startTLS(t, ca, "auth:\n  issuer: "+auth.Issuer+"\n  metadataUrl: "+auth.Issuer+"/.well-known/openid-configuration\n"+
		"  requireHttpsMetadata: false\n  audiences: [flex-auth]\n  publicUrl: https://flex-auth.example.com\n")
	presented := ca.issue(t, "ops-warden", false)
	another := ca.issue(t, "another-caller", false)
	boundTo := func(c issued) string {
		return token(t, auth, "flex-auth.check", map[string]any{"x5t#S256": dpop.CertThumbprint(c.leaf)})
	}

	tests := []struct {
		name     string
		client   *http.Client
		token    string
		want     int
		wantCode string
	}{
		{name: "bound to the presented certificate", client: httpsClient(t, ca, presented.pair), token: boundTo(presented), want: 200},
		{name: "bound to another certificate", client: httpsClient(t, ca, presented.pair), token: boundTo(another), want: 401, wantCode: "invalid_token"},
		{name: "no client certificate", client: httpsClient(t, ca), token: boundTo(presented), want: 401, wantCode: "invalid_token"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, in.url+"/v1/check", strings.NewReader(`{"actor":"agt-state-hub-bridge"}`))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+tc.token)
			resp, err := tc.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct {
				Effect string `json:"effect"`
				Error  string `json:"error"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, body.Error, tc.want)
			}
			if tc.wantCode != "" && body.Error != tc.wantCode {
				t.Errorf("error %q, want %q", body.Error, tc.wantCode)
			}
			if tc.want == 200 && body.Effect != "allow" {
				t.Errorf("effect %q, want allow", body.Effect)
			}
		})
	}
}

func TestTLSConfigValidation(t *testing.T) {
	ca := newTestCA(t, "ca")
	srv := ca.issue(t, "flex-auth", true)
	missing := filepath.Join(t.TempDir(), "absent.pem")
	base := []string{"--registry", "r.json", "--policy", "p.md", "--log", "d.jsonl"}
	tests := []struct {
		name    string
		env     []string
		wantErr string
	}{
		{name: "certificate and key", env: []string{"FLEX_AUTH_SERVER__TLS__CERTFILE=" + srv.certFile, "FLEX_AUTH_SERVER__TLS__KEYFILE=" + srv.keyFile,
			"FLEX_AUTH_SERVER__TLS__CLIENTCAFILE=" + ca.file}},
		{name: "certificate without key", env: []string{"FLEX_AUTH_SERVER__TLS__CERTFILE=" + srv.certFile},
			wantErr: "server.tls: certFile and keyFile must be set together"},
		{name: "client CAs without certificate", env: []string{"FLEX_AUTH_SERVER__TLS__CLIENTCAFILE=" + ca.file},
			wantErr: "server.tls.clientCaFile: requires certFile and keyFile"},
		{name: "unreadable key", env: []string{"FLEX_AUTH_SERVER__TLS__CERTFILE=" + srv.certFile, "FLEX_AUTH_SERVER__TLS__KEYFILE=" + missing},
			wantErr: "server.tls.keyFile: open " + missing},
		{name: "unreadable client CAs", env: []string{"FLEX_AUTH_SERVER__TLS__CERTFILE=" + srv.certFile, "FLEX_AUTH_SERVER__TLS__KEYFILE=" + srv.keyFile,
			"FLEX_AUTH_SERVER__TLS__CLIENTCAFILE=" + missing}, wantErr: "server.tls.clientCaFile: open " + missing},
		{name: "directory as certificate", env: []string{"FLEX_AUTH_SERVER__TLS__CERTFILE=" + t.TempDir(), "FLEX_AUTH_SERVER__TLS__KEYFILE=" + srv.keyFile},
			wantErr: "server.tls.certFile:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := LoadConfig(base, tc.env)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if !cfg.Server.TLS.Enabled() || cfg.Server.TLS.ClientCAFile != ca.file {
					t.Fatalf("tls %+v", cfg.Server.TLS)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestTLSBadCertificateStopsStartup(t *testing.T) {
	ca := newTestCA(t, "ca")
	srv := ca.issue(t, "flex-auth", true)
	dir := t.TempDir()
	args := []string{"--addr", "127.0.0.1:0", "--registry", filepath.Join(dir, "r.json"), "--policy", filepath.Join(dir, "p.md"),
		"--log", filepath.Join(dir, "d.jsonl")}
	copyFile(t, fixtureRegistry, filepath.Join(dir, "r.json"))
	copyFile(t, fixturePolicy, filepath.Join(dir, "p.md"))
	// The key of the CA does not match the server certificate.
	env := []string{"FLEX_AUTH_SERVER__TLS__CERTFILE=" + srv.certFile, "FLEX_AUTH_SERVER__TLS__KEYFILE=" + ca.file}
	err := Run(t.Context(), Env{Args: args, Environ: env, Stderr: &syncBuffer{}})
	if err == nil || !strings.Contains(err.Error(), "server.tls.certFile/keyFile") {
		t.Fatalf("Run: %v", err)
	}
}
