package jwks

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/stellaops/authgate/pkg/testkit/authoritytest"
)

// TestKeyWithoutAlg is the one rule of both services: a key without alg
// verifies every accepted algorithm of its type; a key with alg only that.
func TestKeyWithoutAlg(t *testing.T) {
	rsaNoAlg := &signer{kid: "rsa-any", priv: rsaKey()}
	rsaRS256 := &signer{kid: "rsa-rs256", priv: rsaKey()}
	ecNoAlg := ecSigner(t, "ec-any")
	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	edNoAlg := &signer{kid: "ed-any", priv: edPriv}
	a := authoritytest.NewEmpty(t)
	a.SetEntries(rsaNoAlg.public(t, ""), rsaRS256.public(t, "RS256"), ecNoAlg.public(t, ""), edNoAlg.public(t, ""))
	c := newCache(t, a, newClock(), nil)
	cases := []struct {
		s   *signer
		alg string
		ok  bool
	}{
		{rsaNoAlg, "RS256", true},
		{rsaNoAlg, "PS256", true},
		{rsaNoAlg, "PS512", true},
		{rsaRS256, "RS256", true},
		{rsaRS256, "PS256", false},
		{rsaRS256, "RS512", false},
		{ecNoAlg, "ES256", true},
		{edNoAlg, "EdDSA", true},
	}
	for _, tc := range cases {
		t.Run(tc.s.kid+"/"+tc.alg, func(t *testing.T) {
			_, err := c.Verify(context.Background(), tc.s.sign(t, tc.alg, map[string]any{}))
			if tc.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tc.ok && !errors.Is(err, ErrAlgorithm) {
				t.Fatalf("err = %v, want ErrAlgorithm", err)
			}
		})
	}
	// An EC P-256 key never verifies another curve's algorithm, and HMAC
	// or none never verify at all.
	for _, alg := range []string{"ES384", "HS256", "none"} {
		hdr := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"` + alg + `","kid":"ec-any"}`))
		if _, err := c.Verify(context.Background(), hdr+".e30.c2ln"); !errors.Is(err, ErrAlgorithm) {
			t.Errorf("alg %s: err = %v, want ErrAlgorithm", alg, err)
		}
	}
}

// TestUnusableAuthorityKeysDropped: JWKS entries that must never verify
// anything are left out at parse time, each for its reason.
func TestUnusableAuthorityKeysDropped(t *testing.T) {
	good := ecSigner(t, "good").public(t, "ES256")
	edIdentity := map[string]any{"kty": "OKP", "crv": "Ed25519", "kid": "ed-identity",
		"x": base64.RawURLEncoding.EncodeToString(append([]byte{1}, make([]byte, 31)...))}
	offCurve := ecSigner(t, "off-curve").public(t, "ES256")
	y, _ := base64.RawURLEncoding.DecodeString(offCurve["y"].(string))
	y[len(y)-1] ^= 1
	offCurve["y"] = base64.RawURLEncoding.EncodeToString(y)
	small := map[string]any{"kty": "RSA", "kid": "rsa-small", "e": "AQAB",
		"n": base64.RawURLEncoding.EncodeToString(append([]byte{0xc1}, make([]byte, 127)...))}
	noKid := ecSigner(t, "").public(t, "ES256")
	enc := ecSigner(t, "enc").public(t, "ES256")
	enc["use"] = "enc"
	mismatch := ecSigner(t, "mismatch").public(t, "RS256")
	oct := map[string]any{"kty": "oct", "kid": "oct", "k": "c2VjcmV0"}
	priv := map[string]any{"kty": "OKP", "crv": "Ed25519", "kid": "private",
		"x": base64.RawURLEncoding.EncodeToString(ed25519.NewKeyFromSeed(make([]byte, 32)).Public().(ed25519.PublicKey)),
		"d": base64.RawURLEncoding.EncodeToString(make([]byte, 32))}

	for _, tc := range []struct {
		kid, why string
		entry    map[string]any
	}{
		{"ed-identity", "small-order", edIdentity},
		{"off-curve", "", offCurve}, // refused by the JWK parser or by the check
		{"rsa-small", "RSA key of 1024 bits", small},
		{"", "no kid", noKid},
		{"enc", "use is not sig", enc},
		{"mismatch", "does not fit", mismatch},
		{"oct", "not supported", oct},
		{"private", "private key", priv},
	} {
		t.Run(tc.kid+tc.why, func(t *testing.T) {
			set, dropped, err := parseSet(mustJSON(t, map[string]any{"keys": []any{good, tc.entry}}))
			if err != nil {
				if tc.kid == "off-curve" {
					return // the JWK parser refused the whole set: nothing verifies with it
				}
				t.Fatal(err)
			}
			if set.Len() != 1 || len(dropped) != 1 || !strings.Contains(dropped[0].reason, tc.why) {
				t.Fatalf("kept %d, dropped %+v, want the entry dropped for %q", set.Len(), dropped, tc.why)
			}
		})
	}
	if _, _, err := parseSet(mustJSON(t, map[string]any{"keys": []any{edIdentity}})); err == nil || !strings.Contains(err.Error(), "no usable keys") {
		t.Fatalf("a JWKS of only unusable keys: err = %v", err)
	}
}

// FuzzParseSet: no JWKS document panics the parser, and every key it keeps
// is usable (a kid, a supported type, an acceptable public key).
func FuzzParseSet(f *testing.F) {
	f.Add([]byte(`{"keys":[]}`))
	f.Add([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"a","x":"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","kid":"b","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"RSA","kid":"c","e":"AQAB","n":"AQAB"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		set, _, err := parseSet(b)
		if err != nil {
			return
		}
		for i := 0; i < set.Len(); i++ {
			k, _ := set.Key(i)
			if reason := unusable(k); reason != "" {
				t.Fatalf("kept an unusable key: %s", reason)
			}
		}
	})
}
