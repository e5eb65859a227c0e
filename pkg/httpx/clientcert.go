package httpx

import "crypto/tls"

// ClientCertificate loads a client certificate and key (PEM) for
// tls.Config.GetClientCertificate: a service that calls another over
// mutual TLS presents it. Like TLSConfig, the files are read again when
// they change (each handshake compares their identity, size and
// modification time); a changed pair that does not load is not used, the
// previous one keeps being presented and the next handshake tries again.
// Connections kept alive keep the certificate they were opened with.
func ClientCertificate(certFile, keyFile string, opts ...TLSOption) (func(*tls.CertificateRequestInfo) (*tls.Certificate, error), error) {
	f := &tlsFiles{paths: []string{certFile, keyFile}}
	if _, err := f.open(opts); err != nil {
		return nil, err
	}
	return func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		return &f.config().Certificates[0], nil
	}, nil
}
