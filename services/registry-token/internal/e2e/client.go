package e2e

import (
	"crypto/tls"
	"errors"
	"net/http"
	"syscall"
	"time"

	"github.com/stellaops/authgate/services/registry-token/internal/devstack"
)

// LoopbackTransport returns an http.Transport that dials "localhost" as
// 127.0.0.1 (the services listen on IPv4 loopback only), trusting m's CA
// and presenting clientCert when they are set.
func LoopbackTransport(m *TLSMaterial, clientCert *tls.Certificate) *http.Transport {
	var c *tls.Config
	if m != nil {
		c = &tls.Config{RootCAs: m.Roots, MinVersion: tls.VersionTLS12}
		if clientCert != nil {
			c.Certificates = []tls.Certificate{*clientCert}
		}
	}
	return devstack.LoopbackTransport(c)
}

// HTTPClient returns a client for registry-token (see LoopbackTransport).
func (s *Stack) HTTPClient(m *TLSMaterial, clientCert *tls.Certificate) *http.Client {
	return &http.Client{Transport: LoopbackTransport(m, clientCert), Timeout: 30 * time.Second}
}

func isAddrInUse(err error) bool { return errors.Is(err, syscall.EADDRINUSE) }
