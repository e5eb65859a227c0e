package devstack

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/stellaops/authgate/services/registry-token/internal/devauthority"
)

// LoopbackTransport returns an http.Transport that dials "localhost" as
// 127.0.0.1 (the services listen on IPv4 loopback only), with tlsConfig
// (nil: plain HTTP or the default TLS settings).
func LoopbackTransport(tlsConfig *tls.Config) *http.Transport {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if host, port, err := net.SplitHostPort(addr); err == nil && host == "localhost" {
				addr = net.JoinHostPort("127.0.0.1", port)
			}
			return d.DialContext(ctx, network, addr)
		},
		TLSClientConfig:     tlsConfig,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     30 * time.Second,
		ForceAttemptHTTP2:   false,
	}
}

// HTTPClient returns a client over LoopbackTransport.
func HTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{Transport: LoopbackTransport(nil), Timeout: timeout}
}

// TokenEndpoint is the token endpoint of the development Authority at
// base ("http://127.0.0.1:8081").
func TokenEndpoint(base string) string {
	return strings.TrimSuffix(base, "/") + devauthority.TokenPath
}
