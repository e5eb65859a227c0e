package signing_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/stellaops/authgate/services/registry-token/internal/signing"
)

func write(t *testing.T, name string, data []byte, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func pkcs8(t *testing.T, k any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func cert(t *testing.T, k crypto.Signer) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "registry-token"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestLoadKeyTypes(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	sec1, _ := x509.MarshalECPrivateKey(ec)
	pfx, err := pkcs12.Modern.Encode(ec, cert(t, ec), nil, "pfx-pass")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, file, password, alg string
		data                      []byte
		x5c                       bool
	}{
		{name: "PKCS#8 P-256", file: "k.pem", data: pkcs8(t, ec), alg: "ES256"},
		{name: "SEC 1 EC", file: "k.pem", data: pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}), alg: "ES256"},
		{name: "P-384", file: "k.pem", data: pkcs8(t, ec384), alg: "ES384"},
		{name: "PKCS#1 RSA", file: "k.pem", data: pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rk)}), alg: "RS256"},
		{name: "Ed25519", file: "k.pem", data: pkcs8(t, ed), alg: "EdDSA"},
		{name: "PEM with certificate", file: "k.pem", data: append(pkcs8(t, ec), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert(t, ec).Raw})...), alg: "ES256", x5c: true},
		{name: "PFX", file: "k.pfx", data: pfx, password: "pfx-pass", alg: "ES256", x5c: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k, err := signing.Load(signing.Options{File: write(t, tc.file, tc.data, 0o600), Password: tc.password})
			if err != nil {
				t.Fatal(err)
			}
			if k.Algorithm() != tc.alg || k.HasCertificate() != tc.x5c || k.IsSample() {
				t.Fatalf("alg %s x5c %v sample %v", k.Algorithm(), k.HasCertificate(), k.IsSample())
			}
			// kid is the RFC 7638 thumbprint of the public key.
			pub, _ := k.PublicSet().Key(0)
			tp, _ := pub.Thumbprint(crypto.SHA256)
			if k.KeyID() != base64.RawURLEncoding.EncodeToString(tp) {
				t.Fatalf("kid %s is not the thumbprint", k.KeyID())
			}
			s, err := signing.NewSigner(k)
			if err != nil {
				t.Fatal(err)
			}
			tok, err := s.Sign(map[string]any{"iss": "registry-token", "sub": "x", "exp": time.Now().Add(time.Minute).Unix()})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := jwt.Parse([]byte(tok), jwt.WithKeySet(k.PublicSet())); err != nil {
				t.Fatalf("signed token does not verify: %v", err)
			}
			msg, _ := jws.Parse([]byte(tok))
			h := msg.Signatures()[0].ProtectedHeaders()
			hasX5c := h.X509CertChain() != nil && h.X509CertChain().Len() > 0
			if h.Type() != "JWT" || h.KeyID() != k.KeyID() || hasX5c != tc.x5c {
				t.Fatalf("header typ %s kid %s", h.Type(), h.KeyID())
			}
		})
	}
}

func TestLoadRejects(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	pfx, _ := pkcs12.Modern.Encode(ec, cert(t, ec), nil, "right")
	cases := []struct {
		name, file, password, want string
		also                       string // a second problem reported with want
		data                       []byte
		mode                       os.FileMode
	}{
		{name: "group readable", file: "k.pem", data: pkcs8(t, ec), mode: 0o640, want: "chmod 600"},
		{name: "world readable", file: "k.pem", data: pkcs8(t, ec), mode: 0o604, want: "chmod 600"},
		{name: "no key", file: "k.pem", data: []byte("hello"), mode: 0o600, want: "PKCS#12"},
		{name: "cert only", file: "k.pem", data: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert(t, ec).Raw}), mode: 0o600, want: "no PRIVATE KEY"},
		{name: "cert of another key", file: "k.pem", data: append(pkcs8(t, ec), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert(t, other).Raw})...), mode: 0o600, want: "does not match"},
		{name: "small RSA", file: "k.pem", data: pkcs8(t, small), mode: 0o600, want: "too small"},
		{name: "wrong PFX password", file: "k.p12", data: pfx, password: "wrong", mode: 0o600, want: "PKCS#12"},
		{name: "world readable with a wrong PFX password", file: "k.p12", data: pfx, password: "wrong", mode: 0o644,
			want: "chmod 600", also: "password incorrect"},
		{name: "group readable and no key", file: "k.pem", data: []byte("hello"), mode: 0o640, want: "chmod 600", also: "PKCS#12"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := signing.Load(signing.Options{File: write(t, tc.file, tc.data, tc.mode), Password: tc.password})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.also) {
				t.Fatalf("err %v, want %q and %q", err, tc.want, tc.also)
			}
			if strings.HasPrefix(tc.name, "group") && !errors.Is(err, signing.ErrKeyPermissions) {
				t.Fatalf("not ErrKeyPermissions: %v", err)
			}
		})
	}
}

// The shipped sample key is marked, loads with a loose mode (git does not
// keep modes) but reports it, and is flagged as the sample.
func TestShippedSampleKey(t *testing.T) {
	data, err := os.ReadFile("../../../../configs/registry-signing-sample.pem")
	if err != nil {
		t.Fatal(err)
	}
	k, err := signing.Load(signing.Options{File: write(t, "sample.pem", data, 0o644)})
	if err != nil {
		t.Fatal(err)
	}
	if !k.IsSample() || k.Algorithm() != "ES256" || k.ModeWarning == "" {
		t.Fatalf("sample %v alg %s warning %q", k.IsSample(), k.Algorithm(), k.ModeWarning)
	}
	k, err = signing.Load(signing.Options{File: write(t, "sample.pem", data, 0o600), KeyID: "fixed"})
	if err != nil || k.ModeWarning != "" || k.KeyID() != "fixed" {
		t.Fatalf("0600 sample: %v %q %q", err, k.ModeWarning, k.KeyID())
	}
}
