package devauthority

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// signingKey is one in-memory ES256 key with its published id.
type signingKey struct {
	kid    string
	raw    *ecdsa.PrivateKey // signs; never leaves memory
	public jwk.Key           // published in the JWKS
}

// newSigningKey generates a P-256 key whose kid is its RFC 7638 thumbprint.
func newSigningKey() (*signingKey, error) {
	raw, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("devauthority: generate key: %w", err)
	}
	priv, err := jwk.FromRaw(raw)
	if err != nil {
		return nil, fmt.Errorf("devauthority: wrap key: %w", err)
	}
	tp, err := priv.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("devauthority: thumbprint: %w", err)
	}
	kid := base64.RawURLEncoding.EncodeToString(tp)
	for _, k := range []struct {
		name string
		val  any
	}{{jwk.KeyIDKey, kid}, {jwk.AlgorithmKey, jwa.ES256}, {jwk.KeyUsageKey, "sig"}} {
		if err := priv.Set(k.name, k.val); err != nil {
			return nil, fmt.Errorf("devauthority: set %s: %w", k.name, err)
		}
	}
	pub, err := priv.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("devauthority: public key: %w", err)
	}
	return &signingKey{kid: kid, raw: raw, public: pub}, nil
}

// jwksJSON renders the public keys as a JWK Set.
func jwksJSON(keys []*signingKey) ([]byte, error) {
	set := struct {
		Keys []jwk.Key `json:"keys"`
	}{Keys: make([]jwk.Key, 0, len(keys))}
	for _, k := range keys {
		set.Keys = append(set.Keys, k.public)
	}
	return json.Marshal(set)
}
