package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/stellaops/authgate/pkg/dpop"
)

// ProofAlg is the algorithm of client proof keys.
const ProofAlg = "ES256"

// ClientKey is a client's DPoP key pair and its RFC 7638 thumbprint (the
// cnf.jkt its OpToks are bound to).
type ClientKey struct {
	Key jwk.Key
	JKT string
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
	jkt, err := dpop.Thumbprint(k)
	if err != nil {
		return nil, err
	}
	return &ClientKey{Key: k, JKT: jkt, Now: time.Now}, nil
}

// Proof signs a fresh DPoP proof for method and url, bound to accessToken
// (ath) when it is not empty.
func (k *ClientKey) Proof(method, url, accessToken string) (string, error) {
	return dpop.NewProof(k.Key, ProofAlg, method, url, accessToken, "", k.Now())
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
			return nil, fmt.Errorf("e2e: DPoP proof: %w", err)
		}
		out.Header.Set(dpop.HeaderDPoP, proof)
	}
	return base.RoundTrip(out)
}
