// Package certtest makes throwaway self-signed X.509 certificates (ECDSA
// P-256) for tests: servers on 127.0.0.1, client certificates and CA
// bundles. Each certificate is its own CA.
package certtest

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
	"testing"
	"time"
)

// Cert is a certificate with its key, parsed and PEM-encoded.
type Cert struct {
	X509    *x509.Certificate
	CertPEM []byte
	KeyPEM  []byte
	TLS     tls.Certificate // for tls.Config.Certificates
}

// SelfSigned makes a certificate named commonName for 127.0.0.1 (IP SAN),
// valid from an hour ago to an hour from now and usable as a CA; serial
// tells certificates apart in assertions.
func SelfSigned(t testing.TB, commonName string, serial int64) *Cert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: commonName},
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
	c := &Cert{CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})}
	if c.X509, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	if c.TLS, err = tls.X509KeyPair(c.CertPEM, c.KeyPEM); err != nil {
		t.Fatal(err)
	}
	return c
}

// Pool returns a pool trusting c.
func (c *Cert) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c.X509)
	return p
}

// WriteFiles writes the certificate to certPath and, unless keyPath is
// empty, the key to keyPath (both mode 0600).
func (c *Cert) WriteFiles(t testing.TB, certPath, keyPath string) {
	t.Helper()
	if err := os.WriteFile(certPath, c.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if keyPath == "" {
		return
	}
	if err := os.WriteFile(keyPath, c.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
}
