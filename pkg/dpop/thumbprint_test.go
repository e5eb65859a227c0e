package dpop

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/json"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwk"
)

// RFC 7638 §3.1: the example RSA key and its SHA-256 thumbprint.
const (
	rfc7638Key = `{"kty":"RSA",
      "n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
      "e":"AQAB",
      "alg":"RS256",
      "kid":"2011-04-29"}`
	rfc7638Thumbprint = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
)

func TestThumbprintRFC7638Vector(t *testing.T) {
	k, err := jwk.ParseKey([]byte(rfc7638Key))
	if err != nil {
		t.Fatal(err)
	}
	got, err := Thumbprint(k)
	if err != nil || got != rfc7638Thumbprint {
		t.Fatalf("Thumbprint = %q, %v; want %q", got, err, rfc7638Thumbprint)
	}
	// The proof path computes the same value from the raw JWK.
	pk, desc := importJWK(json.RawMessage(rfc7638Key), algorithms["RS256"])
	if pk == nil || pk.jkt != rfc7638Thumbprint {
		t.Fatalf("importJWK: %v %q", pk, desc)
	}
}

// A fixed P-256 key whose x and y both start with a zero byte.
const (
	zeroLeadKey        = `{"crv":"P-256","kty":"EC","x":"ABy42qyjRiLLxFrU1Jmi3c3z-VpMkCPwZMPH0lxMCmE","y":"APDdXXSscbiniCULuO_8nsdPNFO3Cbm3ri11_7qToiU"}`
	zeroLeadThumbprint = "VcBrZQLKM9v7iuYId0prYJ09J6vrfEIBYwISPxbc_0M"
)

func TestThumbprintLeadingZeroVector(t *testing.T) {
	k, err := jwk.ParseKey([]byte(zeroLeadKey))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := Thumbprint(k); err != nil || got != zeroLeadThumbprint {
		t.Fatalf("Thumbprint = %q, %v; want %q", got, err, zeroLeadThumbprint)
	}
	pk, desc := importJWK(json.RawMessage(zeroLeadKey), algorithms["ES256"])
	if pk == nil || pk.jkt != zeroLeadThumbprint {
		t.Fatalf("importJWK = %v, %q", pk, desc)
	}
	// The same point with the zero bytes dropped (a common encoder bug)
	// has the same thumbprint, but is not accepted in a proof.
	x, _ := b64.DecodeString("ABy42qyjRiLLxFrU1Jmi3c3z-VpMkCPwZMPH0lxMCmE")
	y, _ := b64.DecodeString("APDdXXSscbiniCULuO_8nsdPNFO3Cbm3ri11_7qToiU")
	short := `{"crv":"P-256","kty":"EC","x":"` + b64.EncodeToString(x[1:]) + `","y":"` + b64.EncodeToString(y[1:]) + `"}`
	sk, err := jwk.ParseKey([]byte(short))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := Thumbprint(sk); got != zeroLeadThumbprint {
		t.Errorf("Thumbprint(unpadded) = %q, want %q", got, zeroLeadThumbprint)
	}
	if pk, _ := importJWK(json.RawMessage(short), algorithms["ES256"]); pk != nil {
		t.Error("importJWK accepted unpadded coordinates")
	}
}

// expectedECThumbprint computes an EC thumbprint by the letter of RFC 7638
// and RFC 7518 §6.2.1.2: coordinates as full-length 32-byte strings.
func expectedECThumbprint(t *testing.T, k *ecdsa.PublicKey) string {
	t.Helper()
	point, err := k.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	canonical := `{"crv":"P-256","kty":"EC","x":"` + b64.EncodeToString(point[1:33]) + `","y":"` + b64.EncodeToString(point[33:]) + `"}`
	sum := sha256.Sum256([]byte(canonical))
	return b64.EncodeToString(sum[:])
}

func TestThumbprintECLeadingZeros(t *testing.T) {
	for _, tc := range []struct {
		name string
		y    bool
	}{{"x", false}, {"y", true}} {
		t.Run(tc.name, func(t *testing.T) {
			priv := ecKeyWithLeadingZero(t, tc.y)
			want := expectedECThumbprint(t, &priv.PublicKey)

			k, err := jwk.FromRaw(&priv.PublicKey)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := Thumbprint(k); err != nil || got != want {
				t.Fatalf("Thumbprint = %q, %v; want %q", got, err, want)
			}
			// Same for the private key, and the same as jwx computes.
			pk, _ := jwk.FromRaw(priv)
			if got, _ := Thumbprint(pk); got != want {
				t.Errorf("Thumbprint(private) = %q, want %q", got, want)
			}
			if raw, err := k.Thumbprint(crypto.SHA256); err != nil || b64.EncodeToString(raw) != want {
				t.Errorf("jwx thumbprint differs: %v", err)
			}

			// A JWK with unpadded coordinates (as big.Int.Bytes gives) still
			// thumbprints correctly...
			point, _ := priv.PublicKey.Bytes()
			x, y := point[1:33], point[33:]
			short := map[string]string{"kty": "EC", "crv": "P-256", "x": b64.EncodeToString(trimLeadingZeros(x)), "y": b64.EncodeToString(trimLeadingZeros(y))}
			sk, err := jwk.ParseKey(must(json.Marshal(short)))
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := Thumbprint(sk); got != want {
				t.Errorf("Thumbprint(unpadded JWK) = %q, want %q", got, want)
			}
			// ...but is refused in a proof (RFC 7518 requires full length),
			// while the padded form is accepted with the same thumbprint.
			if pk, _ := importJWK(must(json.Marshal(short)), algorithms["ES256"]); pk != nil {
				t.Error("importJWK accepted unpadded coordinates")
			}
			full := map[string]string{"kty": "EC", "crv": "P-256", "x": b64.EncodeToString(x), "y": b64.EncodeToString(y)}
			pk2, desc := importJWK(must(json.Marshal(full)), algorithms["ES256"])
			if pk2 == nil || pk2.jkt != want {
				t.Fatalf("importJWK(padded) = %v, %q", pk2, desc)
			}
		})
	}
}

func TestThumbprintMatchesJWX(t *testing.T) {
	for name, k := range testKeys() {
		t.Run(name, func(t *testing.T) {
			raw, err := k.key.Thumbprint(crypto.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			if want := b64.EncodeToString(raw); k.jkt != want {
				t.Fatalf("Thumbprint = %q, jwx = %q", k.jkt, want)
			}
		})
	}
}

func TestThumbprintUnsupported(t *testing.T) {
	sym, err := jwk.FromRaw([]byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Thumbprint(sym); err == nil {
		t.Error("Thumbprint of a symmetric key succeeded")
	}
	if _, err := Thumbprint(nil); err == nil {
		t.Error("Thumbprint(nil) succeeded")
	}
}
