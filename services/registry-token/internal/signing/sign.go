package signing

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/lestrrat-go/jwx/v2/jwa"
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
	// ec and ecHash are set for ECDSA keys, which are signed here rather
	// than through jws.Signer (whose ecdsa.Sign turns the signature into
	// big integers and back): a token costs the hash and one SignASN1.
	ec     *ecdsa.PrivateKey
	ecHash crypto.Hash
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
	s := &Signer{key: k, sig: sig, prefix: base64.RawURLEncoding.EncodeToString(h) + "."}
	if ec, ok := k.signer.(*ecdsa.PrivateKey); ok {
		switch k.alg {
		case jwa.ES256:
			s.ec, s.ecHash = ec, crypto.SHA256
		case jwa.ES384:
			s.ec, s.ecHash = ec, crypto.SHA384
		case jwa.ES512:
			s.ec, s.ecHash = ec, crypto.SHA512
		}
	}
	return s, nil
}

// signEC returns the JWS signature of input (RFC 7518 §3.4): r and s,
// each left-padded to the curve's byte size.
func (s *Signer) signEC(input []byte) ([]byte, error) {
	h := s.ecHash.New()
	h.Write(input)
	der, err := ecdsa.SignASN1(rand.Reader, s.ec, h.Sum(nil))
	if err != nil {
		return nil, err
	}
	seq, rest, ok := derElement(der, 0x30)
	r, seq2, ok2 := derElement(seq, 0x02)
	sv, end, ok3 := derElement(seq2, 0x02)
	if !ok || !ok2 || !ok3 || len(rest) != 0 || len(end) != 0 {
		return nil, errors.New("malformed ECDSA signature")
	}
	size := (s.ec.Curve.Params().BitSize + 7) / 8
	out := make([]byte, 2*size)
	if !padInto(out[:size], r) || !padInto(out[size:], sv) {
		return nil, errors.New("ECDSA signature value out of range")
	}
	return out, nil
}

// derElement reads one DER element with the given tag from b (lengths in
// short form or 0x81 long form: an ECDSA signature of P-521 at most) and
// returns its content and what follows.
func derElement(b []byte, tag byte) (content, rest []byte, ok bool) {
	if len(b) < 2 || b[0] != tag {
		return nil, nil, false
	}
	n, hdr := int(b[1]), 2
	if n == 0x81 {
		if len(b) < 3 || b[2] < 0x80 {
			return nil, nil, false
		}
		n, hdr = int(b[2]), 3
	} else if n > 0x7f {
		return nil, nil, false
	}
	if len(b) < hdr+n {
		return nil, nil, false
	}
	return b[hdr : hdr+n], b[hdr+n:], true
}

// padInto copies the big-endian integer b (an ASN.1 INTEGER's content,
// maybe with a leading zero byte) right-aligned into dst.
func padInto(dst, b []byte) bool {
	for len(b) > 0 && b[0] == 0 {
		b = b[1:]
	}
	if len(b) > len(dst) {
		return false
	}
	copy(dst[len(dst)-len(b):], b)
	return true
}

// Sign marshals claims to JSON and returns the compact serialization
// header.payload.signature.
func (s *Signer) Sign(claims any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("claims: %w", err)
	}
	return s.SignPayload(payload)
}

// SignPayload returns the compact serialization of the JWS whose payload
// is the JSON object payload, which the caller has encoded.
func (s *Signer) SignPayload(payload []byte) (string, error) {
	var err error
	n := len(s.prefix) + base64.RawURLEncoding.EncodedLen(len(payload))
	input := make([]byte, n, n+1+base64.RawURLEncoding.EncodedLen(512))
	copy(input, s.prefix)
	base64.RawURLEncoding.Encode(input[len(s.prefix):], payload)
	var sig []byte
	if s.ec != nil {
		sig, err = s.signEC(input)
	} else {
		sig, err = s.sig.Sign(input, s.key.signer)
	}
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
