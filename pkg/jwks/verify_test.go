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

// TestVerifySignature: the signature is checked over the token's first two
// parts with the key its kid names, for every algorithm family; any change
// to the header, the payload or the signature is refused, and the payload
// of a valid token is returned as signed.
func TestVerifySignature(t *testing.T) {
	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	signers := []struct {
		s   *signer
		alg string
	}{
		{ecSigner(t, "ec"), "ES256"},
		{&signer{kid: "rsa", priv: rsaKey()}, "RS256"},
		{&signer{kid: "rsa", priv: rsaKey()}, "PS256"},
		{&signer{kid: "ed", priv: edPriv}, "EdDSA"},
	}
	a := authoritytest.NewEmpty(t)
	a.SetEntries(signers[0].s.public(t, ""), signers[1].s.public(t, ""), signers[3].s.public(t, ""))
	c := newCache(t, a, newClock(), nil)
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	for _, sg := range signers {
		t.Run(sg.alg, func(t *testing.T) {
			tok := sg.s.sign(t, sg.alg, map[string]any{"sub": "user-1"})
			v, err := c.Verify(context.Background(), tok)
			if err != nil {
				t.Fatalf("valid token refused: %v", err)
			}
			if string(v.Payload) != `{"sub":"user-1"}` || v.Alg != sg.alg || v.Key == nil {
				t.Fatalf("verified %+v", v)
			}
			parts := strings.Split(tok, ".")
			other := base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"user-2"}`))
			for name, bad := range map[string]string{
				"payload replaced":     parts[0] + "." + other + "." + parts[2],
				"signature altered":    parts[0] + "." + parts[1] + "." + flip(parts[2], len(parts[2])/2),
				"signature truncated":  parts[0] + "." + parts[1] + "." + parts[2][:len(parts[2])-4],
				"signature of another": parts[0] + "." + parts[1] + "." + strings.Split(sg.s.sign(t, sg.alg, map[string]any{"sub": "user-2"}), ".")[2],
			} {
				if _, err := c.Verify(context.Background(), bad); !errors.Is(err, ErrSignature) {
					t.Errorf("%s: err = %v, want ErrSignature", name, err)
				}
			}
			for name, bad := range map[string]string{
				"signature not base64url": parts[0] + "." + parts[1] + "." + parts[2][:len(parts[2])-1] + "+",
				"payload not base64url":   parts[0] + ".e30*." + parts[2],
			} {
				if _, err := c.Verify(context.Background(), bad); !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrSignature) {
					t.Errorf("%s: err = %v, want ErrMalformed or ErrSignature", name, err)
				}
			}
		})
	}
}
