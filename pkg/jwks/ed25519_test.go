package jwks

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"

	"github.com/stellaops/authgate/pkg/testkit/authoritytest"
)

// signEd25519 returns a compact JWS of claims signed by priv, with the
// header alg given (jwx signs no "Ed25519" alg, so it is built here).
func signEd25519(t testing.TB, priv ed25519.PrivateKey, kid, alg string, claims map[string]any) string {
	t.Helper()
	h, _ := json.Marshal(map[string]string{"alg": alg, "kid": kid})
	p, _ := json.Marshal(claims)
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p)
	return input + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(priv, []byte(input)))
}

// TestEd25519AlgorithmName (finding: the RFC 9864 name Ed25519 that
// standard Authorities can be configured to use was refused): a token
// whose alg is Ed25519 verifies wherever EdDSA does (an Ed25519 key
// without alg, with alg EdDSA or with alg Ed25519), and only with an
// Ed25519 key and a valid signature.
func TestEd25519AlgorithmName(t *testing.T) {
	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	noAlg := &signer{kid: "ed-any", priv: edPriv}
	algEdDSA := &signer{kid: "ed-eddsa", priv: edPriv}
	algEd25519 := &signer{kid: "ed-ed25519", priv: edPriv}
	ec := ecSigner(t, "ec")
	rsa := &signer{kid: "rsa", priv: rsaKey()}
	a := authoritytest.NewEmpty(t)
	a.SetEntries(noAlg.public(t, ""), algEdDSA.public(t, "EdDSA"), algEd25519.public(t, "Ed25519"),
		ec.public(t, ""), rsa.public(t, ""),
		ecSigner(t, "ec-says-ed25519").public(t, "Ed25519")) // dropped: alg does not fit the key
	c := newCache(t, a, newClock(), nil)
	claims := map[string]any{"sub": "x"}
	for _, tc := range []struct {
		name, kid, alg string
		want           error
	}{
		{"Ed25519 key without alg", "ed-any", "Ed25519", nil},
		{"Ed25519 key with alg EdDSA", "ed-eddsa", "Ed25519", nil},
		{"Ed25519 key with alg Ed25519", "ed-ed25519", "Ed25519", nil},
		{"EdDSA on a key with alg Ed25519", "ed-ed25519", "EdDSA", nil},
		{"EdDSA on a key without alg", "ed-any", "EdDSA", nil},
		{"Ed25519 naming an EC key", "ec", "Ed25519", ErrAlgorithm},
		{"Ed25519 naming an RSA key", "rsa", "Ed25519", ErrAlgorithm},
		{"an EC key whose JWKS alg is Ed25519 is not held", "ec-says-ed25519", "Ed25519", ErrUnknownKey},
		{"Ed448 is not Ed25519", "ed-any", "Ed448", ErrAlgorithm},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := c.Verify(context.Background(), signEd25519(t, edPriv, tc.kid, tc.alg, claims))
			if tc.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if v.Alg != tc.alg || string(v.Payload) != `{"sub":"x"}` {
					t.Fatalf("verified %q %s", v.Alg, v.Payload)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	// Signed by another Ed25519 key, or altered: the signature fails.
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	if _, err := c.Verify(context.Background(), signEd25519(t, other, "ed-any", "Ed25519", claims)); !errors.Is(err, ErrSignature) {
		t.Errorf("another key: err = %v, want ErrSignature", err)
	}
	tok := signEd25519(t, edPriv, "ed-any", "Ed25519", claims)
	altered := tok[:len(tok)-2] + map[bool]string{true: "AA", false: "BB"}[tok[len(tok)-2:] != "AA"]
	if _, err := c.Verify(context.Background(), altered); !errors.Is(err, ErrSignature) {
		t.Errorf("altered signature: err = %v, want ErrSignature", err)
	}
}
