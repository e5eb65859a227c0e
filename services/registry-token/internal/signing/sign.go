package signing

import (
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// header is the protected JOSE header of every registry token.
type header struct {
	Typ string   `json:"typ"`
	Alg string   `json:"alg"`
	Kid string   `json:"kid"`
	X5c []string `json:"x5c,omitempty"`
}

// Signer produces compact JWS tokens with the key. It is safe for
// concurrent use.
type Signer struct {
	key    *Key
	sig    jws.Signer
	prefix string // base64url(header) + "."
}

// NewSigner prepares a signer; the header is encoded once.
func NewSigner(k *Key) (*Signer, error) {
	sig, err := jws.NewSigner(k.alg)
	if err != nil {
		return nil, fmt.Errorf("signer for %s: %w", k.alg, err)
	}
	h, err := json.Marshal(header{Typ: "JWT", Alg: k.alg.String(), Kid: k.kid, X5c: k.x5c})
	if err != nil {
		return nil, err
	}
	return &Signer{key: k, sig: sig, prefix: base64.RawURLEncoding.EncodeToString(h) + "."}, nil
}

// Sign marshals claims to JSON and returns the compact serialization
// header.payload.signature.
func (s *Signer) Sign(claims any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("claims: %w", err)
	}
	n := len(s.prefix) + base64.RawURLEncoding.EncodedLen(len(payload))
	input := make([]byte, n, n+1+base64.RawURLEncoding.EncodedLen(512))
	copy(input, s.prefix)
	base64.RawURLEncoding.Encode(input[len(s.prefix):], payload)
	sig, err := s.sig.Sign(input, s.key.signer)
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	out := append(input, '.')
	out = base64.RawURLEncoding.AppendEncode(out, sig)
	return string(out), nil
}

// PublicSet returns the JWK Set with the public key (kid, alg, use=sig).
func (k *Key) PublicSet() jwk.Set {
	set := jwk.NewSet()
	pub, err := k.public.Clone()
	if err != nil {
		pub = k.public
	}
	_ = set.AddKey(pub)
	return set
}

// PublicJWKS is PublicSet as indented JSON.
func (k *Key) PublicJWKS() ([]byte, error) {
	return json.MarshalIndent(k.PublicSet(), "", "  ")
}
