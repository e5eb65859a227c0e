package dpop

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// negativeCase is one way to get a proof, or its request, wrong.
type negativeCase struct {
	name  string
	proof func(p *proofSpec) // edits the default proof
	raw   func(t *testing.T) string
	req   func(r *Request) // edits the default request
	cfg   func(c *Config)
	want  *Error
	desc  string // substring of the expected Description
}

func negativeCases() []negativeCase {
	a, b := key("A"), key("B")
	set := func(m string, k string, v any) func(p *proofSpec) {
		return func(p *proofSpec) {
			if m == "h" {
				p.header[k] = v
			} else {
				p.claims[k] = v
			}
		}
	}
	del := func(m string, k string) func(p *proofSpec) {
		return func(p *proofSpec) {
			if m == "h" {
				delete(p.header, k)
			} else {
				delete(p.claims, k)
			}
		}
	}
	jwkEdit := func(edit func(j map[string]any)) func(p *proofSpec) {
		return func(p *proofSpec) { edit(p.header["jwk"].(map[string]any)) }
	}
	finish := func(f func(s string) string) func(p *proofSpec) {
		return func(p *proofSpec) { p.finish = f }
	}
	segments := func(s string) []string { return strings.Split(s, ".") }
	bad := ErrInvalidDPoPProof

	return []negativeCase{
		// The DPoP header itself.
		{name: "no DPoP header", req: func(r *Request) { r.ProofHeaders = nil }, want: bad, desc: "missing"},
		{name: "empty DPoP header", req: func(r *Request) { r.ProofHeaders = []string{""} }, want: bad, desc: "missing"},
		{name: "two DPoP headers", req: func(r *Request) { r.ProofHeaders = append(r.ProofHeaders, r.ProofHeaders[0]) }, want: bad, desc: "Exactly one"},
		{name: "two proofs in one header", req: func(r *Request) { r.ProofHeaders[0] += "," + r.ProofHeaders[0] }, want: bad, desc: "compact JWS"},
		{name: "larger than 8 KiB", proof: set("c", "pad", strings.Repeat("x", MaxProofSize)), want: bad, desc: "too large"},
		{name: "JSON serialization", raw: func(t *testing.T) string {
			s := segments(makeProof(t, nil))
			return `{"protected":"` + s[0] + `","payload":"` + s[1] + `","signature":"` + s[2] + `"}`
		}, want: bad, desc: "compact serialization"},
		{name: "two segments", proof: finish(func(s string) string { return s[:strings.LastIndexByte(s, '.')] }), want: bad, desc: "compact JWS"},
		{name: "four segments", proof: finish(func(s string) string { return s + ".AAAA" }), want: bad, desc: "compact JWS"},
		{name: "empty signature (unsecured JWS)", proof: finish(func(s string) string { return s[:strings.LastIndexByte(s, '.')+1] }), want: bad, desc: "compact JWS"},
		{name: "header with base64 padding", proof: finish(func(s string) string {
			p := segments(s)
			return p[0] + "=." + p[1] + "." + p[2]
		}), want: bad, desc: "header is not base64url"},
		{name: "header in standard base64", proof: func(p *proofSpec) {
			p.finish = func(s string) string {
				seg := segments(s)
				h, _ := b64.DecodeString(seg[0])
				return strings.TrimRight(base64.StdEncoding.EncodeToString(append(h, 0xfb, 0xff)), "=") + "." + seg[1] + "." + seg[2]
			}
		}, want: bad, desc: "header is not base64url"},
		{name: "header not JSON", proof: func(p *proofSpec) { p.rawHeader = "typ=dpop+jwt" }, want: bad, desc: "not a JSON object"},
		{name: "header a JSON array", proof: func(p *proofSpec) { p.rawHeader = `["dpop+jwt"]` }, want: bad, desc: "not a JSON object"},

		// typ.
		{name: "typ missing", proof: del("h", "typ"), want: bad, desc: "typ"},
		{name: "typ JWT", proof: set("h", "typ", "JWT"), want: bad, desc: "typ"},
		{name: "typ upper case", proof: set("h", "typ", "DPOP+JWT"), want: bad, desc: "typ"},
		{name: "typ with media type prefix", proof: set("h", "typ", "application/dpop+jwt"), want: bad, desc: "typ"},
		{name: "typ not a string", proof: set("h", "typ", 1), want: bad, desc: "typ"},
		{name: "typ only in other case", proof: func(p *proofSpec) {
			p.rawHeader = `{"TYP":"dpop+jwt","alg":"ES256","jwk":` + string(must(jsonMarshal(a.pub))) + `}`
		}, want: bad, desc: "typ"},

		// alg.
		{name: "alg missing", proof: func(p *proofSpec) { delete(p.header, "alg"); p.alg = "ES256" }, want: bad, desc: "no alg"},
		{name: "alg none", proof: func(p *proofSpec) { p.header["alg"] = "none" }, want: bad, desc: "alg is not allowed"},
		{name: "alg HS256 keyed with the public jwk", proof: func(p *proofSpec) {
			p.header["alg"] = "HS256"
			p.hmacKey = must(jsonMarshal(a.pub))
		}, want: bad, desc: "alg is not allowed"},
		{name: "alg ES384 not in the allow-list", proof: func(p *proofSpec) {
			p.signer = key("P384")
			p.header["alg"] = "ES384"
			p.header["jwk"] = copyMap(key("P384").pub)
		}, want: bad, desc: "alg is not allowed"},
		{name: "alg lower case", proof: func(p *proofSpec) { p.header["alg"] = "es256"; p.alg = "ES256" }, want: bad, desc: "alg is not allowed"},
		{name: "alg RS256 removed from the allow-list", cfg: func(c *Config) { c.Algorithms = []string{"ES256"} }, proof: func(p *proofSpec) {
			p.signer = key("RSA")
			p.header["alg"] = "RS256"
			p.header["jwk"] = copyMap(key("RSA").pub)
		}, want: bad, desc: "alg is not allowed"},

		// crit.
		{name: "crit header", proof: set("h", "crit", []string{"exp"}), want: bad, desc: "critical"},
		{name: "empty crit header", proof: set("h", "crit", []string{}), want: bad, desc: "critical"},

		// jwk.
		{name: "jwk missing", proof: del("h", "jwk"), want: bad, desc: "no jwk"},
		{name: "jwk not an object", proof: set("h", "jwk", "key"), want: bad, desc: "not a JSON object"},
		{name: "jwk private EC key", proof: func(p *proofSpec) {
			priv := must(jsonMarshal(a.key))
			p.rawHeader = `{"typ":"dpop+jwt","alg":"ES256","jwk":` + string(priv) + `}`
		}, want: bad, desc: "public key"},
		{name: "jwk private RSA key", proof: func(p *proofSpec) {
			p.signer = key("RSA")
			p.rawHeader = `{"typ":"dpop+jwt","alg":"RS256","jwk":` + string(must(jsonMarshal(key("RSA").key))) + `}`
			p.alg = "RS256"
		}, want: bad, desc: "public key"},
		{name: "jwk symmetric", proof: set("h", "jwk", map[string]any{"kty": "oct", "k": "c2VjcmV0"}), want: bad, desc: "public key"},
		{name: "jwk RSA 1024 bits", proof: func(p *proofSpec) {
			p.signer = key("RSA1024")
			p.header["alg"] = "RS256"
			p.header["jwk"] = copyMap(key("RSA1024").pub)
		}, want: bad, desc: "RSA key size"},
		{name: "jwk kty RSA with alg ES256", proof: set("h", "jwk", copyMap(key("RSA").pub)), want: bad, desc: "key type does not match"},
		{name: "jwk kty EC with alg RS256", proof: func(p *proofSpec) {
			p.signer = key("RSA")
			p.header["alg"] = "RS256"
		}, want: bad, desc: "key type does not match"},
		{name: "jwk P-384 with alg ES256", proof: set("h", "jwk", copyMap(key("P384").pub)), want: bad, desc: "curve does not match"},
		{name: "jwk X25519 with alg EdDSA", proof: func(p *proofSpec) {
			p.signer = key("Ed25519")
			p.header["alg"] = "EdDSA"
			j := copyMap(key("Ed25519").pub)
			j["crv"] = "X25519"
			p.header["jwk"] = j
		}, want: bad, desc: "curve does not match"},
		{name: "jwk kty missing", proof: jwkEdit(func(j map[string]any) { delete(j, "kty") }), want: bad, desc: "no kty"},
		{name: "jwk x coordinate truncated", proof: jwkEdit(func(j map[string]any) {
			x, _ := b64.DecodeString(j["x"].(string))
			j["x"] = b64.EncodeToString(x[1:])
		}), want: bad, desc: "coordinates are malformed"},
		{name: "jwk point not on the curve", proof: jwkEdit(func(j map[string]any) {
			y, _ := b64.DecodeString(j["y"].(string))
			y[len(y)-1] ^= 1
			j["y"] = b64.EncodeToString(y)
		}), want: bad, desc: "not on the curve"},
		{name: "jwk alg member differs from header alg", proof: jwkEdit(func(j map[string]any) { j["alg"] = "ES384" }), want: bad, desc: "jwk alg"},
		{name: "jwk use enc", proof: jwkEdit(func(j map[string]any) { j["use"] = "enc" }), want: bad, desc: "use"},

		// Signature.
		{name: "signed by key A, carrying key B's jwk", proof: set("h", "jwk", copyMap(b.pub)),
			req: func(r *Request) { r.TokenJKT = b.jkt }, want: bad, desc: "signature is invalid"},
		{name: "signature bit flipped", proof: finish(func(s string) string {
			i := strings.LastIndexByte(s, '.')
			sig, _ := b64.DecodeString(s[i+1:])
			sig[5] ^= 0x40
			return s[:i+1] + b64.EncodeToString(sig)
		}), want: bad, desc: "signature is invalid"},
		{name: "signature truncated", proof: finish(func(s string) string {
			i := strings.LastIndexByte(s, '.')
			sig, _ := b64.DecodeString(s[i+1:])
			return s[:i+1] + b64.EncodeToString(sig[:63])
		}), want: bad, desc: "signature is invalid"},
		{name: "ES256 signature in ASN.1 DER form", raw: func(t *testing.T) string {
			p := defaultSpec()
			input := b64.EncodeToString(must(jsonMarshal(p.header))) + "." + b64.EncodeToString(must(jsonMarshal(p.claims)))
			h := sha256Sum([]byte(input))
			der := must(ecdsa.SignASN1(rand.Reader, a.priv.(*ecdsa.PrivateKey), h[:]))
			return input + "." + b64.EncodeToString(der)
		}, want: bad, desc: "signature is invalid"},
		{name: "ES256 signature with r and s swapped out of range", raw: func(t *testing.T) string {
			p := defaultSpec()
			input := b64.EncodeToString(must(jsonMarshal(p.header))) + "." + b64.EncodeToString(must(jsonMarshal(p.claims)))
			sig := make([]byte, 64)
			for i := range sig {
				sig[i] = 0xff
			}
			return input + "." + b64.EncodeToString(sig)
		}, want: bad, desc: "signature is invalid"},
		{name: "payload changed after signing", proof: finish(func(s string) string {
			seg := segments(s)
			pay, _ := b64.DecodeString(seg[1])
			pay = []byte(strings.Replace(string(pay), `"htm":"GET"`, `"htm":"PUT"`, 1))
			return seg[0] + "." + b64.EncodeToString(pay) + "." + seg[2]
		}), req: func(r *Request) { r.Method = "PUT" }, want: bad, desc: "signature is invalid"},
		{name: "signature not base64url", proof: finish(func(s string) string { return s + "*" }), want: bad, desc: "signature is not base64url"},

		// Payload and claims.
		{name: "payload not JSON", proof: func(p *proofSpec) { p.rawClaims = "jti=1" }, want: bad, desc: "payload is not a JSON object"},
		{name: "jti missing", proof: del("c", "jti"), want: bad, desc: "jti"},
		{name: "jti empty", proof: set("c", "jti", ""), want: bad, desc: "jti"},
		{name: "jti a number", proof: set("c", "jti", 12345), want: bad, desc: "jti"},
		{name: "jti longer than 256 bytes", proof: set("c", "jti", strings.Repeat("j", MaxJTILength+1)), want: bad, desc: "jti is too long"},
		{name: "htm missing", proof: del("c", "htm"), want: bad, desc: "htm"},
		{name: "htm get for GET", proof: set("c", "htm", "get"), want: bad, desc: "htm does not match"},
		{name: "htm POST for GET", proof: set("c", "htm", "POST"), want: bad, desc: "htm does not match"},
		{name: "htm a number", proof: set("c", "htm", 1), want: bad, desc: "htm"},
		{name: "htu missing", proof: del("c", "htu"), want: bad, desc: "htu"},
		{name: "htu another host", proof: set("c", "htu", "https://evil.example.com/token"), want: bad, desc: "htu does not match"},
		{name: "htu another path", proof: set("c", "htu", testBaseURL+"/admin"), want: bad, desc: "htu does not match"},
		{name: "htu trailing slash", proof: set("c", "htu", testHTU+"/"), want: bad, desc: "htu does not match"},
		{name: "htu http for https", proof: set("c", "htu", "http://rt.example.com/token"), want: bad, desc: "htu does not match"},
		{name: "htu other port", proof: set("c", "htu", "https://rt.example.com:8443/token"), want: bad, desc: "htu does not match"},
		{name: "htu %2F is not a slash", proof: set("c", "htu", testBaseURL+"/v2/a%2Fb"),
			req: func(r *Request) { r.Path = "/v2/a/b" }, want: bad, desc: "htu does not match"},
		{name: "htu relative", proof: set("c", "htu", "/token"), want: bad, desc: "htu does not match"},
		{name: "htu with userinfo", proof: set("c", "htu", "https://user@rt.example.com/token"), want: bad, desc: "htu does not match"},
		{name: "htu a number", proof: set("c", "htu", 7), want: bad, desc: "htu"},
		{name: "iat missing", proof: del("c", "iat"), want: bad, desc: "iat"},
		{name: "iat a string", proof: set("c", "iat", "1700000000"), want: bad, desc: "iat must be a JSON number"},
		{name: "iat a boolean", proof: set("c", "iat", true), want: bad, desc: "iat must be a JSON number"},
		{name: "iat negative", proof: set("c", "iat", -1), want: bad, desc: "iat must be a JSON number"},
		{name: "iat too old", proof: set("c", "iat", testNow.Add(-DefaultMaxAge-DefaultClockSkew-time.Second).Unix()), want: bad, desc: "too old"},
		{name: "iat in the future", proof: set("c", "iat", testNow.Add(DefaultClockSkew+time.Second).Unix()), want: bad, desc: "future"},
		{name: "ath missing with an access token", proof: del("c", "ath"), want: bad, desc: "no ath"},
		{name: "ath of another token", proof: set("c", "ath", athOf("another-token")), want: bad, desc: "ath does not match"},
		{name: "ath in padded standard base64", proof: func(p *proofSpec) {
			sum := sha256Sum([]byte(testToken))
			p.claims["ath"] = base64.StdEncoding.EncodeToString(sum[:])
		}, want: bad, desc: "ath does not match"},
		{name: "ath a number", proof: set("c", "ath", 1), want: bad, desc: "ath must be a string"},
		{name: "nonce a number", proof: set("c", "nonce", 1), want: bad, desc: "nonce must be a string"},

		// Binding to the access token.
		{name: "attacker's own key with a stolen token and correct ath", proof: func(p *proofSpec) {
			p.signer = b
			p.header["jwk"] = copyMap(b.pub)
		}, want: ErrInvalidToken, desc: "key binding"},
		{name: "token not DPoP-bound", req: func(r *Request) { r.TokenJKT = "" }, want: ErrInvalidToken, desc: "not DPoP-bound"},
		{name: "cnf.jkt of another key", req: func(r *Request) { r.TokenJKT = b.jkt }, want: ErrInvalidToken, desc: "key binding"},

		// The request.
		{name: "request path without leading slash", req: func(r *Request) { r.Path = "token" }, want: ErrInvalidRequest, desc: "path"},
		{name: "method lower case in request", req: func(r *Request) { r.Method = "get" }, want: bad, desc: "htm does not match"},
	}
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }
