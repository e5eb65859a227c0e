package httpx

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// TLSConfig loads the server certificate (TLS 1.2 or later) and, when
// clientCAFile is not empty, requests client certificates and verifies any
// presented one against the CAs in that PEM file. A client certificate
// stays optional at the TLS layer (tls.VerifyClientCertIfGiven): callers
// that need one (a certificate-bound token) are refused by the handler.
// Errors name the key of the file at fault (certFile, keyFile,
// clientCaFile) for the caller to prefix with its config section.
func TLSConfig(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("certFile/keyFile: %w", err)
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if clientCAFile == "" {
		return c, nil
	}
	pemBytes, err := os.ReadFile(clientCAFile)
	if err != nil {
		return nil, fmt.Errorf("clientCaFile: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		return nil, fmt.Errorf("clientCaFile: no PEM certificates in %s", clientCAFile)
	}
	c.ClientCAs = pool
	c.ClientAuth = tls.VerifyClientCertIfGiven
	return c, nil
}
