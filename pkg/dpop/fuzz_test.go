package dpop

import (
	"crypto/x509"
	"encoding/json"
	"strings"
	"testing"
)

// FuzzParseProof feeds arbitrary DPoP header values to the proof parser.
// Seeds: testdata/fuzz/FuzzParseProof (valid proofs of every algorithm and
// malformed variants).
func FuzzParseProof(f *testing.F) {
	f.Add("")
	f.Add("a.b.c")
	f.Add(`{"protected":"e30","payload":"e30","signature":""}`)
	f.Add("eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6Im5vbmUifQ.e30.")
	keys := newKeyCache()
	f.Fuzz(func(t *testing.T, token string) {
		// Every supported algorithm is allowed, so fuzzing reaches every
		// key importer and signature verifier.
		p, desc := parseProof(token, algorithms, keys)
		if p == nil {
			if desc == "" {
				t.Fatal("rejected without a description")
			}
			return
		}
		// Whatever is accepted is structurally sound.
		if len(token) > MaxProofSize || strings.Count(token, ".") != 2 {
			t.Fatalf("accepted a malformed token %q", token)
		}
		if p.key == nil || len(p.key.jkt) != 43 || p.claims.jti == "" || len(p.claims.jti) > MaxJTILength {
			t.Fatalf("accepted proof with bad fields: %+v", p)
		}
		if !verifySignature(p.alg, p.key.pub, []byte(token[:strings.LastIndexByte(token, '.')]), mustB64(token[strings.LastIndexByte(token, '.')+1:])) {
			t.Fatal("accepted a proof whose signature does not verify")
		}
	})
}

func mustB64(s string) []byte {
	b, err := b64.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// FuzzNormalizeHTU checks that normalization never panics, is idempotent,
// and only yields absolute http(s) URIs without query or fragment.
// Seeds: testdata/fuzz/FuzzNormalizeHTU.
func FuzzNormalizeHTU(f *testing.F) {
	f.Add("https://rt.example.com/token")
	f.Add("HTTPS://RT.EXAMPLE.COM:443/a/../b/%2f%7E?q#f")
	f.Fuzz(func(t *testing.T, in string) {
		out, err := normalizeHTU(in)
		if err != nil {
			return
		}
		if !strings.HasPrefix(out, "https://") && !strings.HasPrefix(out, "http://") {
			t.Fatalf("normalizeHTU(%q) = %q: not http(s)", in, out)
		}
		if strings.ContainsAny(out, "?# \r\n") {
			t.Fatalf("normalizeHTU(%q) = %q: query, fragment or space left", in, out)
		}
		again, err := normalizeHTU(out)
		if err != nil || again != out {
			t.Fatalf("not idempotent: %q -> %q -> %q (%v)", in, out, again, err)
		}
		path := out[strings.Index(out, "://")+3:]
		path = path[strings.IndexByte(path, '/'):]
		for _, seg := range strings.Split(path, "/") {
			if seg == "." || seg == ".." {
				t.Fatalf("normalizeHTU(%q) = %q: dot segment left", in, out)
			}
		}
	})
}

// FuzzForwardedCert feeds arbitrary values to the forwarded client
// certificate parsers. Seeds: testdata/fuzz/FuzzForwardedCert.
func FuzzForwardedCert(f *testing.F) {
	f.Add(`By=spiffe://a;Hash=00;Cert="-----BEGIN%20CERTIFICATE-----%0A";Subject="CN=a,O=b\"c"`)
	f.Add(":AAAA:")
	f.Fuzz(func(t *testing.T, v string) {
		for _, parse := range []func(string) (*x509.Certificate, error){parseXFCC, parseRFC9440, parseEscapedPEM} {
			c, err := parse(v)
			if err == nil && c == nil {
				t.Fatal("nil certificate without error")
			}
		}
	})
}

// FuzzParseNonceKeys feeds arbitrary nonce key files to ParseNonceKeys.
func FuzzParseNonceKeys(f *testing.F) {
	f.Add([]byte("# current\n" + strings.Repeat("QUFB", 11) + "\n"))
	f.Add([]byte(strings.Repeat("a", 43) + "\n" + strings.Repeat("b", 44)))
	f.Add([]byte("short\n\n#"))
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := ParseNonceKeys(data)
		if err != nil {
			if keys != nil || strings.Contains(err.Error(), "\n\n") {
				t.Fatalf("keys with an error, or an empty problem: %v", err)
			}
			return
		}
		if len(keys) == 0 || len(keys) > MaxNonceKeys {
			t.Fatalf("%d keys accepted", len(keys))
		}
		for _, k := range keys {
			if len(k) < MinNonceKeyLen {
				t.Fatalf("short key accepted: %d bytes", len(k))
			}
		}
		if _, err := NewHMACNonces(keys[0], DefaultNonceLifetime, keys[1:]...); err != nil {
			t.Fatalf("parsed keys make no nonce source: %v", err)
		}
	})
}

// FuzzDecodeClaims checks the proof payload scanner against encoding/json:
// wherever scanClaims answers, decodeClaims gives what decodeClaimsJSON
// gives, and what it accepts is valid JSON.
func FuzzDecodeClaims(f *testing.F) {
	for _, s := range claimPayloads {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		checkDecodeClaims(t, payload)
	})
}

// checkDecodeClaims compares decodeClaims with decodeClaimsJSON on payload.
func checkDecodeClaims(t *testing.T, payload []byte) {
	t.Helper()
	var fast, ref proofClaims
	got, want := decodeClaims(payload, &fast), decodeClaimsJSON(payload, &ref)
	if got != want {
		t.Fatalf("payload %q: decodeClaims says %q, encoding/json %q", payload, got, want)
	}
	if got == "" && (fast.jti != ref.jti || fast.htm != ref.htm || fast.htu != ref.htu || !fast.iat.Equal(ref.iat) ||
		fast.ath != ref.ath || fast.nonce != ref.nonce || fast.hasATH != ref.hasATH || fast.hasNonce != ref.hasNonce) {
		t.Fatalf("payload %q: decodeClaims gives %+v, encoding/json %+v", payload, fast, ref)
	}
	var v claimValues
	if scanClaims(payload, &v) && !json.Valid(payload) {
		t.Fatalf("scanClaims accepted invalid JSON %q", payload)
	}
}
