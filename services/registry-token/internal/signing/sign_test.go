package signing_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/stellaops/authgate/services/registry-token/internal/signing"
)

// TestECDSASignaturesVerify signs many tokens with each curve, so that r
// and s with leading zero bytes (padded to the curve size, RFC 7518
// §3.4) occur, and verifies every one with jwx.
func TestECDSASignaturesVerify(t *testing.T) {
	for _, tc := range []struct {
		curve elliptic.Curve
		alg   jwa.SignatureAlgorithm
		size  int
	}{
		{elliptic.P256(), jwa.ES256, 32},
		{elliptic.P384(), jwa.ES384, 48},
		{elliptic.P521(), jwa.ES512, 66},
	} {
		t.Run(tc.alg.String(), func(t *testing.T) {
			ec, err := ecdsa.GenerateKey(tc.curve, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			k, err := signing.Load(signing.Options{File: write(t, "k.pem", pkcs8(t, ec), 0o600)})
			if err != nil {
				t.Fatal(err)
			}
			if k.Algorithm() != tc.alg.String() {
				t.Fatalf("alg %s", k.Algorithm())
			}
			s, err := signing.NewSigner(k)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 300 {
				tok, err := s.Sign(map[string]any{"i": i})
				if err != nil {
					t.Fatal(err)
				}
				msg, err := jws.Verify([]byte(tok), jws.WithKey(tc.alg, &ec.PublicKey))
				if err != nil {
					t.Fatalf("token %d does not verify: %v", i, err)
				}
				if len(msg) == 0 {
					t.Fatal("empty payload")
				}
				parsed, err := jws.Parse([]byte(tok))
				if err != nil {
					t.Fatal(err)
				}
				if got := len(parsed.Signatures()[0].Signature()); got != 2*tc.size {
					t.Fatalf("signature of %d bytes, want %d", got, 2*tc.size)
				}
			}
		})
	}
}
