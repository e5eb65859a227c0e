package jwks

import (
	"crypto"
	"errors"
	"fmt"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/stellaops/authgate/pkg/dpop"
)

// The rule for a key's alg member, the same in both services:
//   - a key with alg is used only with that algorithm;
//   - a key without alg is used with every accepted algorithm of its type:
//     RSA keys with RS256, RS384, RS512, PS256, PS384 and PS512; EC keys with
//     the ES algorithm of their curve (P-256: ES256, P-384: ES384, P-521:
//     ES512); Ed25519 keys with EdDSA and its fully-specified name Ed25519
//     (RFC 9864), the same signature. For an Ed25519 key, alg EdDSA and
//     alg Ed25519 are the same (either accepts both names); Ed448 keys are
//     not supported under any name.
//
// Tokens signed with none or an HMAC algorithm are never accepted.

// algorithmsFor lists the algorithms a key without alg accepts.
func algorithmsFor(k jwk.Key) []string {
	switch k.KeyType() {
	case jwa.RSA:
		return []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
	case jwa.EC:
		if ec, ok := k.(jwk.ECDSAPublicKey); ok {
			switch ec.Crv() {
			case jwa.P256:
				return []string{"ES256"}
			case jwa.P384:
				return []string{"ES384"}
			case jwa.P521:
				return []string{"ES512"}
			}
		}
	case jwa.OKP:
		if o, ok := k.(jwk.OKPPublicKey); ok && o.Crv() == jwa.Ed25519 {
			return []string{"EdDSA", "Ed25519"}
		}
	}
	return nil
}

// Accepts reports whether k may verify a token signed with alg, by the
// rule above.
func Accepts(k jwk.Key, alg string) bool {
	if a := k.Algorithm(); a != nil && a.String() != "" {
		return dpop.SameAlgorithm(a.String(), alg) && contains(algorithmsFor(k), alg)
	}
	return contains(algorithmsFor(k), alg)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// droppedKey is a JWKS entry that is never used, and why.
type droppedKey struct{ kid, reason string }

// parseSet parses a JWKS and keeps the keys that can verify signatures:
// public keys with a kid, use absent or "sig", of a supported type, whose
// public key passes dpop.CheckPublicKey (EC points on their curve, RSA
// 2048 to 16384 bits, Ed25519 canonical and not of small order). The others
// are returned as dropped; a set without usable keys is an error.
func parseSet(body []byte) (jwk.Set, []droppedKey, error) {
	set, err := jwk.Parse(body)
	if err != nil {
		return nil, nil, err
	}
	keep := jwk.NewSet()
	var dropped []droppedKey
	for i := 0; i < set.Len(); i++ {
		k, _ := set.Key(i)
		if reason := unusable(k); reason != "" {
			dropped = append(dropped, droppedKey{kid: k.KeyID(), reason: reason})
			continue
		}
		_ = keep.AddKey(k)
	}
	if keep.Len() == 0 {
		if len(dropped) > 0 {
			return nil, dropped, fmt.Errorf("no usable keys (%d ignored, the first: %s)", len(dropped), dropped[0].reason)
		}
		return nil, nil, errors.New("no keys")
	}
	return keep, dropped, nil
}

// keepUnchanged returns next with each key whose kid and material (RFC
// 7638 thumbprint) are those of a key in prev replaced by prev's key, so
// that a refresh that publishes the same keys keeps them (Holds).
func keepUnchanged(prev, next jwk.Set) jwk.Set {
	out := jwk.NewSet()
	for i := 0; i < next.Len(); i++ {
		k, _ := next.Key(i)
		if old, ok := prev.LookupKeyID(k.KeyID()); ok && sameMaterial(old, k) {
			k = old
		}
		_ = out.AddKey(k)
	}
	return out
}

func sameMaterial(a, b jwk.Key) bool {
	ta, errA := a.Thumbprint(crypto.SHA256)
	tb, errB := b.Thumbprint(crypto.SHA256)
	return errA == nil && errB == nil && string(ta) == string(tb) && a.KeyType() == b.KeyType() &&
		algString(a) == algString(b) && a.KeyUsage() == b.KeyUsage()
}

func algString(k jwk.Key) string {
	if a := k.Algorithm(); a != nil {
		return a.String()
	}
	return ""
}

func unusable(k jwk.Key) string {
	if k.KeyID() == "" {
		return "no kid"
	}
	if u := k.KeyUsage(); u != "" && u != string(jwk.ForSignature) {
		return "use is not sig"
	}
	if algorithmsFor(k) == nil {
		return fmt.Sprintf("key type %s is not supported", k.KeyType())
	}
	if a := k.Algorithm(); a != nil && a.String() != "" && !contains(algorithmsFor(k), a.String()) {
		return fmt.Sprintf("alg %s does not fit the key", a)
	}
	if _, ok := k.(interface{ D() []byte }); ok {
		return "a private key"
	}
	var raw any
	if err := k.Raw(&raw); err != nil {
		return "key material is malformed"
	}
	if err := dpop.CheckPublicKey(raw, dpop.MaxVerifyRSABits); err != nil {
		return err.Error()
	}
	return ""
}
