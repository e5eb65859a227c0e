package devstack

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/stellaops/authgate/pkg/dpop"
	"github.com/stellaops/authgate/services/registry-token/internal/devauthority"
)

// ProofAlg is the algorithm of generated client proof keys.
const ProofAlg = "ES256"

// ClientKey is a client's DPoP key pair and its RFC 7638 thumbprint (the
// cnf.jkt its OpToks are bound to).
type ClientKey struct {
	Key jwk.Key
	JKT string
	// Alg is the proof algorithm for Key (default ProofAlg).
	Alg string
	Now func() time.Time
}

// NewClientKey generates a P-256 proof key.
func NewClientKey() (*ClientKey, error) {
	raw, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	k, err := jwk.FromRaw(raw)
	if err != nil {
		return nil, err
	}
	return wrapClientKey(k, ProofAlg)
}

func wrapClientKey(k jwk.Key, alg string) (*ClientKey, error) {
	jkt, err := dpop.Thumbprint(k)
	if err != nil {
		return nil, err
	}
	return &ClientKey{Key: k, JKT: jkt, Alg: alg, Now: time.Now}, nil
}

// Proof signs a fresh DPoP proof for method and url, bound to accessToken
// (ath) when it is not empty.
func (k *ClientKey) Proof(method, url, accessToken string) (string, error) {
	return k.ProofWithNonce(method, url, accessToken, "")
}

// ProofWithNonce is Proof carrying a server DPoP-Nonce when nonce is set.
func (k *ClientKey) ProofWithNonce(method, url, accessToken, nonce string) (string, error) {
	alg := k.Alg
	if alg == "" {
		alg = ProofAlg
	}
	now := time.Now
	if k.Now != nil {
		now = k.Now
	}
	return dpop.NewProof(k.Key, alg, method, url, accessToken, nonce, now())
}

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
	Key *ClientKey
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
