// Package dpopclient is the client side of DPoP (RFC 9449): a client's
// proof key, kept in a file, and the proofs it signs. It is what
// dpop-proof and the development stack share; it holds no server code.
package dpopclient

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/stellaops/authgate/pkg/dpop"
)

// ProofAlg is the algorithm of generated proof keys.
const ProofAlg = "ES256"

// DefaultKeyFile is the key file of dpop-proof and "registry-token-dev
// token", relative to the module root (git-ignored).
const DefaultKeyFile = ".run/dpop-client.jwk"

// Key is a client's DPoP key pair and its RFC 7638 thumbprint (the
// cnf.jkt its OpToks are bound to).
type Key struct {
	Key jwk.Key
	JKT string
	// Alg is the proof algorithm for Key (default ProofAlg).
	Alg string
	Now func() time.Time
}

// NewKey generates a P-256 proof key.
func NewKey() (*Key, error) {
	raw, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	k, err := jwk.FromRaw(raw)
	if err != nil {
		return nil, err
	}
	return wrapKey(k, ProofAlg)
}

func wrapKey(k jwk.Key, alg string) (*Key, error) {
	jkt, err := dpop.Thumbprint(k)
	if err != nil {
		return nil, err
	}
	return &Key{Key: k, JKT: jkt, Alg: alg, Now: time.Now}, nil
}

// Proof signs a fresh DPoP proof for method and url, bound to accessToken
// (ath) when it is not empty.
func (k *Key) Proof(method, url, accessToken string) (string, error) {
	return k.ProofWithNonce(method, url, accessToken, "")
}

// ProofWithNonce is Proof carrying a server DPoP-Nonce when nonce is set.
func (k *Key) ProofWithNonce(method, url, accessToken, nonce string) (string, error) {
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
