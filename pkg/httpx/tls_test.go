package httpx

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeSelfSigned writes a self-signed certificate and its key as PEM files.
func writeSelfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func TestTLSConfig(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeSelfSigned(t, dir)
	notPEM := filepath.Join(dir, "ca.txt")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name           string
		cert, key, ca  string
		wantErr        string
		wantClientAuth tls.ClientAuthType
		wantClientCAs  bool
	}{
		{name: "server only", cert: cert, key: key, wantClientAuth: tls.NoClientCert},
		{name: "client CAs", cert: cert, key: key, ca: cert, wantClientAuth: tls.VerifyClientCertIfGiven, wantClientCAs: true},
		{name: "missing key", cert: cert, key: filepath.Join(dir, "absent.key"), wantErr: "certFile/keyFile:"},
		{name: "key is not the certificate's", cert: cert, key: cert, wantErr: "certFile/keyFile:"},
		{name: "missing CA file", cert: cert, key: key, ca: filepath.Join(dir, "absent.pem"), wantErr: "clientCaFile:"},
		{name: "CA file without PEM", cert: cert, key: key, ca: notPEM, wantErr: "clientCaFile: no PEM certificates"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := TLSConfig(tc.cert, tc.key, tc.ca)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.MinVersion != tls.VersionTLS12 || len(c.Certificates) != 1 {
				t.Errorf("MinVersion %x, %d certificates", c.MinVersion, len(c.Certificates))
			}
			if c.ClientAuth != tc.wantClientAuth || (c.ClientCAs != nil) != tc.wantClientCAs {
				t.Errorf("ClientAuth %v, ClientCAs set %v", c.ClientAuth, c.ClientCAs != nil)
			}
		})
	}
}
