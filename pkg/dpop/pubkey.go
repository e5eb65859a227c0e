package dpop

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"fmt"

	"filippo.io/edwards25519"
)

// MaxVerifyRSABits bounds RSA keys that sign Authority tokens (larger keys
// only cost verification time); proof keys are bounded by maxRSABits.
const MaxVerifyRSABits = 16384

// Errors of CheckPublicKey.
var (
	ErrWeakKey = errors.New("public key is not acceptable")
)

// CheckPublicKey rejects public keys that a signature check must never
// trust, whoever sent them (a proof's jwk header or an Authority's JWKS):
//   - Ed25519: a non-canonical encoding, a point not on the curve, or a
//     point of small order (the identity "01 00…00" and the other torsion
//     points verify forged signatures without any private key);
//   - EC: a point not on its curve (NIST P-256, P-384, P-521 only);
//   - RSA: a modulus under 2048 or over maxBits bits, an even or tiny
//     public exponent.
func CheckPublicKey(pub crypto.PublicKey, maxRSABits int) error {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		return checkEd25519(k)
	case *ecdsa.PublicKey:
		if k == nil || k.Curve == nil || k.X == nil || k.Y == nil { //nolint:staticcheck // nil coordinates must be refused before ECDH reads them
			return fmt.Errorf("%w: EC key is incomplete", ErrWeakKey)
		}
		switch k.Curve.Params().Name {
		case "P-256", "P-384", "P-521":
		default:
			return fmt.Errorf("%w: EC curve %s is not supported", ErrWeakKey, k.Curve.Params().Name)
		}
		if _, err := k.ECDH(); err != nil { // validates the point against the curve
			return fmt.Errorf("%w: EC point is not on the curve", ErrWeakKey)
		}
		return nil
	case *rsa.PublicKey:
		if k == nil || k.N == nil {
			return fmt.Errorf("%w: RSA key is incomplete", ErrWeakKey)
		}
		if bits := k.N.BitLen(); bits < minRSABits || bits > maxRSABits {
			return fmt.Errorf("%w: RSA key of %d bits (allowed: %d to %d)", ErrWeakKey, bits, minRSABits, maxRSABits)
		}
		if k.E < 3 || k.E%2 == 0 {
			return fmt.Errorf("%w: RSA exponent %d", ErrWeakKey, k.E)
		}
		return nil
	}
	return fmt.Errorf("%w: key type %T is not supported", ErrWeakKey, pub)
}

// checkEd25519 rejects encodings that are not canonical (y >= p, or x = 0
// with the sign bit set), that decode to no point, or whose point has
// small order (multiplied by the cofactor 8 it is the identity).
func checkEd25519(x []byte) error {
	if len(x) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: Ed25519 key is not 32 bytes", ErrWeakKey)
	}
	p, err := new(edwards25519.Point).SetBytes(x)
	if err != nil {
		return fmt.Errorf("%w: Ed25519 key is not a curve point", ErrWeakKey)
	}
	if !bytes.Equal(p.Bytes(), x) {
		return fmt.Errorf("%w: Ed25519 key is not canonically encoded", ErrWeakKey)
	}
	if new(edwards25519.Point).MultByCofactor(p).Equal(edwards25519.NewIdentityPoint()) == 1 {
		return fmt.Errorf("%w: Ed25519 key is a small-order point", ErrWeakKey)
	}
	return nil
}
