package dpop

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// Key-size limits for proof keys.
const (
	minRSABits = 2048
	maxRSABits = 8192 // bounds verification cost; RSA keys this large are not used for DPoP
)

// DefaultAlgorithms is the proof algorithm allow-list used when
// Config.Algorithms is empty.
var DefaultAlgorithms = []string{"ES256", "EdDSA", "PS256", "RS256"}

// algInfo describes one supported JWS algorithm. Only asymmetric signature
// algorithms are listed: "none" and HMAC can never be configured.
type algInfo struct {
	name  string
	kty   string // JWK key type the algorithm requires
	crv   string // required curve for EC/OKP
	curve elliptic.Curve
	size  int // EC coordinate size in bytes
	hash  crypto.Hash
	pss   bool
}

var algorithms = map[string]*algInfo{
	"ES256": {name: "ES256", kty: "EC", crv: "P-256", curve: elliptic.P256(), size: 32, hash: crypto.SHA256},
	"ES384": {name: "ES384", kty: "EC", crv: "P-384", curve: elliptic.P384(), size: 48, hash: crypto.SHA384},
	"ES512": {name: "ES512", kty: "EC", crv: "P-521", curve: elliptic.P521(), size: 66, hash: crypto.SHA512},
	"EdDSA": {name: "EdDSA", kty: "OKP", crv: "Ed25519"},
	// RFC 9864: the fully-specified name of EdDSA with Ed25519, the same
	// signature (only Ed25519 keys are supported under either name).
	"Ed25519": {name: "Ed25519", kty: "OKP", crv: "Ed25519"},
	"RS256":   {name: "RS256", kty: "RSA", hash: crypto.SHA256},
	"RS384":   {name: "RS384", kty: "RSA", hash: crypto.SHA384},
	"RS512":   {name: "RS512", kty: "RSA", hash: crypto.SHA512},
	"PS256":   {name: "PS256", kty: "RSA", hash: crypto.SHA256, pss: true},
	"PS384":   {name: "PS384", kty: "RSA", hash: crypto.SHA384, pss: true},
	"PS512":   {name: "PS512", kty: "RSA", hash: crypto.SHA512, pss: true},
}

// SameAlgorithm reports whether JWS algorithm names a and b name the same
// signature algorithm: equal, or EdDSA and Ed25519 (RFC 9864), which are
// the same signature for the Ed25519 keys this package supports (never an
// Ed448 key).
func SameAlgorithm(a, b string) bool {
	return a == b || (isEd25519Name(a) && isEd25519Name(b))
}

func isEd25519Name(alg string) bool { return alg == "EdDSA" || alg == "Ed25519" }

// curveSizes maps JWK "crv" values of EC keys to their coordinate size.
var curveSizes = map[string]int{"P-256": 32, "P-384": 48, "P-521": 66}

// privateMembers are JWK members that only private or symmetric keys have.
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

var b64 = base64.RawURLEncoding.Strict()

// proofKey is a validated public key from a proof's jwk header.
type proofKey struct {
	pub crypto.PublicKey // *ecdsa.PublicKey, ed25519.PublicKey or *rsa.PublicKey
	jkt string           // RFC 7638 SHA-256 thumbprint, base64url
}

// importJWK validates the jwk header of a proof signed with alg and returns
// the public key and its thumbprint. The member names are matched exactly
// (JOSE names are case-sensitive; encoding/json struct decoding is not).
func importJWK(raw json.RawMessage, alg *algInfo) (*proofKey, string) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, "jwk header is not a JSON object"
	}
	for _, name := range privateMembers {
		if _, ok := m[name]; ok {
			return nil, "jwk header must be a public key"
		}
	}
	kty, ok := jsonString(m["kty"])
	if !ok {
		return nil, "jwk header has no kty"
	}
	if kty != alg.kty {
		return nil, "jwk key type does not match alg"
	}
	if v, present := m["alg"]; present {
		if s, ok := jsonString(v); !ok || !SameAlgorithm(s, alg.name) {
			return nil, "jwk alg does not match header alg"
		}
	}
	if v, present := m["use"]; present {
		if s, ok := jsonString(v); !ok || s != "sig" {
			return nil, "jwk use is not sig"
		}
	}

	switch kty {
	case "EC":
		crv, _ := jsonString(m["crv"])
		if crv != alg.crv {
			return nil, "jwk curve does not match alg"
		}
		x, okx := b64Member(m, "x")
		y, oky := b64Member(m, "y")
		if !okx || !oky || len(x) != alg.size || len(y) != alg.size {
			return nil, "jwk EC coordinates are malformed"
		}
		point := make([]byte, 1+2*alg.size)
		point[0] = 4
		copy(point[1:], x)
		copy(point[1+alg.size:], y)
		pub, err := ecdsa.ParseUncompressedPublicKey(alg.curve, point)
		if err != nil || CheckPublicKey(pub, maxRSABits) != nil {
			return nil, "jwk EC point is not on the curve"
		}
		return &proofKey{pub: pub, jkt: thumbprintEC(crv, x, y)}, ""
	case "OKP":
		crv, _ := jsonString(m["crv"])
		if crv != alg.crv {
			return nil, "jwk curve does not match alg"
		}
		x, ok := b64Member(m, "x")
		if !ok || len(x) != ed25519.PublicKeySize {
			return nil, "jwk OKP key is malformed"
		}
		if err := checkEd25519(x); err != nil {
			return nil, "jwk Ed25519 key is a small-order or non-canonical point"
		}
		return &proofKey{pub: ed25519.PublicKey(x), jkt: thumbprintOKP(crv, x)}, ""
	case "RSA":
		n, okn := b64Member(m, "n")
		e, oke := b64Member(m, "e")
		n, e = trimLeadingZeros(n), trimLeadingZeros(e)
		if !okn || !oke || len(e) == 0 || len(e) > 4 {
			return nil, "jwk RSA key is malformed"
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n)}
		for _, c := range e {
			pub.E = pub.E<<8 | int(c)
		}
		if bits := pub.N.BitLen(); bits < minRSABits || bits > maxRSABits {
			return nil, "jwk RSA key size is not allowed"
		}
		if pub.E < 3 || pub.E%2 == 0 {
			return nil, "jwk RSA exponent is not allowed"
		}
		return &proofKey{pub: pub, jkt: thumbprintRSA(n, e)}, ""
	}
	return nil, "jwk key type is not supported"
}

// VerifySignature checks the JWS signature sig over signingInput with pub
// for alg (one of the asymmetric algorithms above: ES256/384/512, EdDSA,
// RS256/384/512, PS256/384/512); pub is an *ecdsa.PublicKey,
// ed25519.PublicKey or *rsa.PublicKey that the caller already checked
// fits alg (CheckPublicKey). An unknown alg or a key of another type is
// false.
func VerifySignature(alg string, pub crypto.PublicKey, signingInput, sig []byte) bool {
	a, ok := algorithms[alg]
	if !ok {
		return false
	}
	if a.kty == "EC" {
		if k, ok := pub.(*ecdsa.PublicKey); !ok || k.Curve != a.curve {
			return false
		}
	}
	return verifySignature(a, pub, signingInput, sig)
}

// verifySignature checks a JWS signature over signingInput with a key that
// importJWK produced for alg.
func verifySignature(alg *algInfo, pub crypto.PublicKey, signingInput, sig []byte) bool {
	switch alg.kty {
	case "EC":
		k, ok := pub.(*ecdsa.PublicKey)
		if !ok || len(sig) != 2*alg.size {
			return false
		}
		h := alg.hash.New()
		h.Write(signingInput)
		r := new(big.Int).SetBytes(sig[:alg.size])
		s := new(big.Int).SetBytes(sig[alg.size:])
		return ecdsa.Verify(k, h.Sum(nil), r, s)
	case "OKP":
		k, ok := pub.(ed25519.PublicKey)
		return ok && ed25519.Verify(k, signingInput, sig)
	case "RSA":
		k, ok := pub.(*rsa.PublicKey)
		if !ok {
			return false
		}
		h := alg.hash.New()
		h.Write(signingInput)
		if alg.pss {
			// RFC 7518 §3.5: the salt is as long as the hash output.
			return rsa.VerifyPSS(k, alg.hash, h.Sum(nil), sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: alg.hash}) == nil
		}
		return rsa.VerifyPKCS1v15(k, alg.hash, h.Sum(nil), sig) == nil
	}
	return false
}

// Thumbprint returns the RFC 7638 JWK thumbprint of k with SHA-256,
// base64url-encoded without padding: the value of a DPoP-bound token's
// cnf.jkt (RFC 9449 §6.1). Private keys yield the thumbprint of their
// public part. EC coordinates are left-padded to the curve size and RSA
// integers stripped of leading zero bytes, as RFC 7518 requires, so keys
// whose coordinates start with zero bytes get the same thumbprint as in
// every other conforming implementation.
func Thumbprint(k jwk.Key) (string, error) {
	if k == nil {
		return "", errors.New("dpop: nil key")
	}
	// Public and private keys of a type share these accessors.
	type curveKey interface {
		Crv() jwa.EllipticCurveAlgorithm
		X() []byte
	}
	switch k.KeyType() {
	case jwa.EC:
		if ec, ok := k.(interface {
			curveKey
			Y() []byte
		}); ok {
			return thumbprintECKey(string(ec.Crv()), ec.X(), ec.Y())
		}
	case jwa.RSA:
		if r, ok := k.(interface {
			N() []byte
			E() []byte
		}); ok {
			return thumbprintRSA(trimLeadingZeros(r.N()), trimLeadingZeros(r.E())), nil
		}
	case jwa.OKP:
		if o, ok := k.(curveKey); ok {
			switch crv := string(o.Crv()); crv {
			case "Ed25519", "Ed448", "X25519", "X448":
				return thumbprintOKP(crv, o.X()), nil
			}
		}
	}
	return "", fmt.Errorf("dpop: thumbprint of %s keys is not supported", k.KeyType())
}

func thumbprintECKey(crv string, x, y []byte) (string, error) {
	size, ok := curveSizes[crv]
	if !ok {
		return "", fmt.Errorf("dpop: unsupported EC curve %q", crv)
	}
	x, y = trimLeadingZeros(x), trimLeadingZeros(y)
	if len(x) > size || len(y) > size {
		return "", errors.New("dpop: EC coordinate longer than the curve size")
	}
	px := make([]byte, size)
	py := make([]byte, size)
	copy(px[size-len(x):], x)
	copy(py[size-len(y):], y)
	return thumbprintEC(crv, px, py), nil
}

// The canonical member sets of RFC 7638 §3.2, in lexicographic order. The
// caller passes curve names from a fixed set, so no JSON escaping is needed.
func thumbprintEC(crv string, x, y []byte) string {
	return hashJSON(`{"crv":"`, crv, `","kty":"EC","x":"`, b64.EncodeToString(x), `","y":"`, b64.EncodeToString(y), `"}`)
}

func thumbprintRSA(n, e []byte) string {
	return hashJSON(`{"e":"`, b64.EncodeToString(e), `","kty":"RSA","n":"`, b64.EncodeToString(n), `"}`)
}

func thumbprintOKP(crv string, x []byte) string {
	return hashJSON(`{"crv":"`, crv, `","kty":"OKP","x":"`, b64.EncodeToString(x), `"}`)
}

func hashJSON(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
	}
	var sum [sha256.Size]byte
	return b64.EncodeToString(h.Sum(sum[:0]))
}

func trimLeadingZeros(b []byte) []byte {
	for len(b) > 0 && b[0] == 0 {
		b = b[1:]
	}
	return b
}

// jsonString decodes a JSON string value; anything else (number, null,
// object, missing) is rejected.
func jsonString(raw json.RawMessage) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	// Fast path: no escapes and plain ASCII.
	plain := true
	for _, c := range raw[1 : len(raw)-1] {
		if c == '\\' || c == '"' || c < 0x20 || c >= 0x80 {
			plain = false
			break
		}
	}
	if plain && raw[len(raw)-1] == '"' {
		return string(raw[1 : len(raw)-1]), true
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

func b64Member(m map[string]json.RawMessage, name string) ([]byte, bool) {
	s, ok := jsonString(m[name])
	if !ok {
		return nil, false
	}
	b, err := b64.DecodeString(s)
	return b, err == nil
}
