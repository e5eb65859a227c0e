package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// TLSMaterial is a throwaway PKI for the mTLS path: one CA that signs the
// server certificate (localhost, 127.0.0.1) and the client certificate.
type TLSMaterial struct {
	ServerCertFile, ServerKeyFile string
	// ClientCAFile is the CA bundle registry-token verifies clients with.
	ClientCAFile string
	// Roots trusts the CA (for clients of registry-token).
	Roots *x509.CertPool
	// Client is a client certificate signed by the CA; ClientLeaf is its
	// parsed leaf, whose thumbprint an mTLS-bound OpTok carries.
	Client     tls.Certificate
	ClientLeaf *x509.Certificate
	// Stranger is a client certificate from another CA.
	Stranger tls.Certificate
}

// NewTLSMaterial generates the PKI and writes the server's files into dir.
func NewTLSMaterial(dir string) (*TLSMaterial, error) {
	caKey, caCert, err := newCA("authgate test CA")
	if err != nil {
		return nil, err
	}
	serverKey, serverDER, err := issue(caKey, caCert, "localhost", x509.ExtKeyUsageServerAuth)
	if err != nil {
		return nil, err
	}
	clientKey, clientDER, err := issue(caKey, caCert, "client", x509.ExtKeyUsageClientAuth)
	if err != nil {
		return nil, err
	}
	otherKey, otherCA, err := newCA("another CA")
	if err != nil {
		return nil, err
	}
	strangerKey, strangerDER, err := issue(otherKey, otherCA, "stranger", x509.ExtKeyUsageClientAuth)
	if err != nil {
		return nil, err
	}
	m := &TLSMaterial{
		ServerCertFile: filepath.Join(dir, "server.crt"),
		ServerKeyFile:  filepath.Join(dir, "server.key"),
		ClientCAFile:   filepath.Join(dir, "client-ca.crt"),
		Roots:          x509.NewCertPool(),
		Client:         tls.Certificate{Certificate: [][]byte{clientDER}, PrivateKey: clientKey},
		Stranger:       tls.Certificate{Certificate: [][]byte{strangerDER}, PrivateKey: strangerKey},
	}
	m.Roots.AddCert(caCert)
	if m.ClientLeaf, err = x509.ParseCertificate(clientDER); err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(serverKey)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{
		m.ServerCertFile: pemBlock("CERTIFICATE", serverDER),
		m.ServerKeyFile:  pemBlock("PRIVATE KEY", keyDER),
		m.ClientCAFile:   pemBlock("CERTIFICATE", caCert.Raw),
	}
	for path, b := range files {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return nil, fmt.Errorf("e2e: write %s: %w", path, err)
		}
	}
	return m, nil
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func newCA(name string) (*ecdsa.PrivateKey, *x509.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("e2e: create CA: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	return key, cert, err
}

func issue(caKey *ecdsa.PrivateKey, ca *x509.Certificate, cn string, usage x509.ExtKeyUsage) (*ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
	}
	if usage == x509.ExtKeyUsageServerAuth {
		tmpl.DNSNames = []string{"localhost"}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, fmt.Errorf("e2e: issue %s: %w", cn, err)
	}
	return key, der, nil
}
