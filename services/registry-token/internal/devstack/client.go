package devstack

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/stellaops/authgate/pkg/dpop"
	"github.com/stellaops/authgate/services/registry-token/internal/devauthority"
	"github.com/stellaops/authgate/services/registry-token/internal/dpopclient"
)

// Transport is the client side of registry-token's DPoP flow. Requests
// whose URL starts with Realm get "Authorization: <Scheme> <OpTok>" and a
// fresh DPoP proof (htm = method, htu = URL without query, ath = hash of
// the OpTok); any Authorization header the wrapped client set (basic auth
// or nothing, for go-containerregistry's anonymous flow) is replaced. All
// other requests pass through unchanged.
type Transport struct {
	// Base does the actual round trips (default http.DefaultTransport).
	Base http.RoundTripper
	// Realm is registry-token's token URL ("http://localhost:8085/token").
	Realm string
	// OpTok is the Authority access token to present.
	OpTok string
	// Key signs the proofs; nil sends the OpTok without a DPoP header.
	Key *dpopclient.Key
	// Scheme is the Authorization scheme (default "DPoP"; the seed's sample
	// uses "Bearer").
	Scheme string

	realmCalls atomic.Int64
}

// RealmCalls reports how many requests went to the realm.
func (t *Transport) RealmCalls() int64 { return t.realmCalls.Load() }

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	if t.Realm == "" || !strings.HasPrefix(r.URL.String(), t.Realm) {
		return base.RoundTrip(r)
	}
	t.realmCalls.Add(1)
	out := r.Clone(r.Context())
	scheme := t.Scheme
	if scheme == "" {
		scheme = dpop.SchemeDPoP
	}
	out.Header.Set("Authorization", scheme+" "+t.OpTok)
	out.Header.Del(dpop.HeaderDPoP)
	if t.Key != nil {
		proof, err := t.Key.Proof(r.Method, r.URL.String(), t.OpTok)
		if err != nil {
			return nil, fmt.Errorf("DPoP proof: %w", err)
		}
		out.Header.Set(dpop.HeaderDPoP, proof)
	}
	return base.RoundTrip(out)
}

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
