package e2e

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"syscall"
	"time"
)

// LoopbackTransport returns an http.Transport that dials "localhost" as
// 127.0.0.1 (the services listen on IPv4 loopback only), trusting m's CA
// and presenting clientCert when they are set.
func LoopbackTransport(m *TLSMaterial, clientCert *tls.Certificate) *http.Transport {
	d := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if host, port, err := net.SplitHostPort(addr); err == nil && host == "localhost" {
				addr = net.JoinHostPort("127.0.0.1", port)
			}
			return d.DialContext(ctx, network, addr)
		},
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     30 * time.Second,
		ForceAttemptHTTP2:   false,
	}
	if m != nil {
		tr.TLSClientConfig = &tls.Config{RootCAs: m.Roots, MinVersion: tls.VersionTLS12}
		if clientCert != nil {
			tr.TLSClientConfig.Certificates = []tls.Certificate{*clientCert}
		}
	}
	return tr
}

// HTTPClient returns a client for registry-token (see LoopbackTransport).
func (s *Stack) HTTPClient(m *TLSMaterial, clientCert *tls.Certificate) *http.Client {
	return &http.Client{Transport: LoopbackTransport(m, clientCert), Timeout: 30 * time.Second}
}

func isAddrInUse(err error) bool { return errors.Is(err, syscall.EADDRINUSE) }
