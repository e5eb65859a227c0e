package dpop

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/hex"
	"errors"
	"math/big"
	"strings"
	"testing"
)

// forgedEd25519Proof builds a proof whose jwk is the Ed25519 public key x
// and whose signature is the identity point R with S = 0: for a key of
// small order, [S]B = R + [k]A holds without any private key.
func forgedEd25519Proof(t *testing.T, x []byte) (proof, jkt string) {
	t.Helper()
	jwk := map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64.EncodeToString(x)}
	p := defaultSpec()
	p.header = map[string]any{"typ": "dpop+jwt", "alg": "EdDSA", "jwk": jwk}
	input := b64.EncodeToString(must(jsonMarshal(p.header))) + "." + b64.EncodeToString(must(jsonMarshal(p.claims)))
	sig := make([]byte, ed25519.SignatureSize)
	sig[0] = 1 // R = identity (y = 1), S = 0
	return input + "." + b64.EncodeToString(sig), thumbprintOKP("Ed25519", x)
}

// TestForgedProofWithSmallOrderEd25519Key is the attack: a proof signed by
// nobody, with the identity point as its key, verifies under plain
// ed25519.Verify; an OpTok bound to that key would be a bearer token.
func TestForgedProofWithSmallOrderEd25519Key(t *testing.T) {
	identity := make([]byte, 32)
	identity[0] = 1
	proof, jkt := forgedEd25519Proof(t, identity)
	seg := strings.Split(proof, ".")
	sig := must(b64.DecodeString(seg[2]))
	if !ed25519.Verify(identity, []byte(seg[0]+"."+seg[1]), sig) {
		t.Fatal("the forged signature does not verify under crypto/ed25519; the attack premise changed")
	}
	f := newFixture(t, nil)
	req := request(proof)
	req.TokenJKT = jkt
	_, err := f.v.Verify(context.Background(), req)
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, ErrInvalidDPoPProof) || !strings.Contains(e.Description, "small-order") {
		t.Fatalf("forged proof: err = %v, want invalid_dpop_proof naming the small-order key", err)
	}
}

func ed25519Hex(s string) ed25519.PublicKey { return must(hex.DecodeString(s)) }

// TestCheckPublicKey covers each way a public key can be unacceptable,
// and keys that are fine.
func TestCheckPublicKey(t *testing.T) {
	p256 := key("A").priv.(*ecdsa.PrivateKey).PublicKey
	offCurve := p256
	offCurve.Y = new(big.Int).Add(p256.Y, big.NewInt(1)) //nolint:staticcheck // a point off the curve, on purpose
	rsaPub := key("RSA").priv.(*rsa.PrivateKey).PublicKey
	huge := &rsa.PublicKey{N: new(big.Int).Lsh(big.NewInt(1), 16400), E: 65537}
	huge.N.SetBit(huge.N, 0, 1)
	evenE := rsaPub
	evenE.E = 65536
	tiny := rsaPub
	tiny.E = 1
	cases := []struct {
		name string
		pub  any
		max  int
		want string // "" accepts
	}{
		{"Ed25519 generated", key("Ed25519").priv.Public(), maxRSABits, ""},
		{"Ed25519 identity 01 00..00", ed25519Hex("0100000000000000000000000000000000000000000000000000000000000000"), maxRSABits, "small-order"},
		{"Ed25519 order 2 (y = -1)", ed25519Hex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"), maxRSABits, "small-order"},
		{"Ed25519 order 4 (y = 0)", ed25519Hex("0000000000000000000000000000000000000000000000000000000000000000"), maxRSABits, "small-order"},
		{"Ed25519 order 8", ed25519Hex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"), maxRSABits, "small-order"},
		{"Ed25519 identity with sign bit (x = 0)", ed25519Hex("0100000000000000000000000000000000000000000000000000000000000080"), maxRSABits, "not canonically"},
		{"Ed25519 y = p + 3 (non-canonical)", ed25519Hex("f0ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"), maxRSABits, "not canonically"},
		{"Ed25519 y = p + 2 (no point)", ed25519Hex("efffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"), maxRSABits, "not a curve point"},
		{"Ed25519 31 bytes", ed25519.PublicKey(make([]byte, 31)), maxRSABits, "not 32 bytes"},
		{"P-256 generated", &p256, maxRSABits, ""},
		{"P-256 point off the curve", &offCurve, maxRSABits, "not on the curve"},
		{"P-224 curve", &ecdsa.PublicKey{Curve: elliptic.P224(), X: big.NewInt(1), Y: big.NewInt(1)}, maxRSABits, "not supported"}, //nolint:staticcheck // an unsupported curve, on purpose
		{"RSA 2048", &rsaPub, maxRSABits, ""},
		{"RSA 1024", &key("RSA1024").priv.(*rsa.PrivateKey).PublicKey, maxRSABits, "RSA key of 1024 bits"},
		{"RSA 16401 bits", huge, MaxVerifyRSABits, "RSA key of 16401 bits"},
		{"RSA even exponent", &evenE, maxRSABits, "exponent"},
		{"RSA exponent 1", &tiny, maxRSABits, "exponent"},
		{"symmetric key", []byte("secret"), maxRSABits, "not supported"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := CheckPublicKey(c.pub, c.max)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("rejected a good key: %v", err)
			case c.want != "" && (err == nil || !errors.Is(err, ErrWeakKey) || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("err = %v, want ErrWeakKey mentioning %q", err, c.want)
			}
		})
	}
}

// TestProofKeysCheckedAtParse: each small-order or non-canonical Ed25519
// jwk is refused when the proof is parsed, before any signature check.
func TestProofKeysCheckedAtParse(t *testing.T) {
	for _, x := range []string{
		"0100000000000000000000000000000000000000000000000000000000000000",
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
		"f0ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	} {
		proof, jkt := forgedEd25519Proof(t, must(hex.DecodeString(x)))
		f := newFixture(t, nil)
		req := request(proof)
		req.TokenJKT = jkt
		_, err := f.v.Verify(context.Background(), req)
		var e *Error
		if !errors.As(err, &e) || !strings.Contains(e.Description, "small-order or non-canonical") {
			t.Errorf("x=%s: err = %v, want the jwk refused", x, err)
		}
	}
}

// FuzzCheckEd25519 feeds arbitrary 32-byte keys: the check never panics,
// and a key it accepts is a canonical point of large order.
func FuzzCheckEd25519(f *testing.F) {
	f.Add(make([]byte, 32))
	f.Add(must(hex.DecodeString("0100000000000000000000000000000000000000000000000000000000000000")))
	f.Add([]byte(key("Ed25519").priv.Public().(ed25519.PublicKey)))
	f.Fuzz(func(t *testing.T, x []byte) {
		if err := CheckPublicKey(ed25519.PublicKey(x), maxRSABits); err == nil && len(x) != ed25519.PublicKeySize {
			t.Fatalf("accepted a %d-byte key", len(x))
		}
	})
}
