package dpop

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
)

// parsedProof is a proof whose structure, header and signature are valid.
type parsedProof struct {
	alg    *algInfo
	key    *proofKey
	claims proofClaims
}

type proofClaims struct {
	jti, htm, htu    string
	iat              time.Time
	ath, nonce       string
	hasATH, hasNonce bool
}

// parseProof decodes and checks a compact JWS proof exactly once: the
// header and payload are each base64url- and JSON-decoded a single time,
// the key is imported from the jwk header, and the signature is verified
// with that key. Headers and keys that verified a signature before are
// taken from keys (which may be nil). On failure it returns a safe
// description.
func parseProof(token string, algs map[string]*algInfo, keys *keyCache) (*parsedProof, string) {
	if len(token) > MaxProofSize {
		return nil, "The DPoP proof is too large."
	}
	if strings.HasPrefix(strings.TrimLeft(token, " \t"), "{") {
		return nil, "The DPoP proof must use the JWS compact serialization."
	}
	dot1 := strings.IndexByte(token, '.')
	if dot1 < 0 {
		return nil, "The DPoP proof is not a compact JWS."
	}
	dot2 := dot1 + 1 + strings.IndexByte(token[dot1+1:], '.')
	if dot2 <= dot1 || strings.IndexByte(token[dot2+1:], '.') >= 0 {
		return nil, "The DPoP proof is not a compact JWS."
	}
	hdrB64, payB64, sigB64 := token[:dot1], token[dot1+1:dot2], token[dot2+1:]
	if hdrB64 == "" || payB64 == "" || sigB64 == "" {
		return nil, "The DPoP proof is not a compact JWS."
	}

	alg, key := keys.header(hdrB64)
	headerCached := key != nil
	var h header
	if !headerCached {
		if h = parseHeader(hdrB64, algs, keys); h.key == nil {
			return nil, h.desc
		}
		alg, key = h.alg, h.key
	}

	sig, err := b64.DecodeString(sigB64)
	if err != nil {
		return nil, "The DPoP proof signature is not base64url."
	}
	if !verifySignature(alg, key.pub, []byte(token[:dot2]), sig) {
		return nil, "The DPoP proof signature is invalid."
	}
	if !headerCached {
		keys.putHeader(hdrB64, alg, key)
		if !h.jwkCached {
			keys.put(h.jwk, alg, key)
		}
	}

	payJSON, err := b64.DecodeString(payB64)
	if err != nil {
		return nil, "The DPoP proof payload is not base64url."
	}
	p := &parsedProof{alg: alg, key: key}
	if desc := decodeClaims(payJSON, &p.claims); desc != "" {
		return nil, desc
	}
	return p, ""
}

// claimValues are the raw JSON values of the claims a proof is checked
// on (nil: absent), as json.RawMessage holds them: the exact bytes of the
// value in the payload.
type claimValues struct {
	jti, htm, htu, iat, ath, nonce json.RawMessage
}

// header is a decoded protected header.
type header struct {
	alg *algInfo
	key *proofKey // nil when the header is refused
	// jwk is the jwk member; jwkCached tells whether key came from keys.
	jwk       json.RawMessage
	jwkCached bool
	desc      string // why the header is refused
}

// parseHeader decodes and checks the protected header: typ, an allowed
// alg, no crit, and the public key of the jwk member (from keys when that
// jwk verified a proof before). On failure h.desc is a safe description.
func parseHeader(hdrB64 string, algs map[string]*algInfo, keys *keyCache) header {
	fail := func(desc string) header { return header{desc: desc} }
	hdrJSON, err := b64.DecodeString(hdrB64)
	if err != nil {
		return fail("The DPoP proof header is not base64url.")
	}
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(hdrJSON, &hdr); err != nil || hdr == nil {
		return fail("The DPoP proof header is not a JSON object.")
	}
	if typ, ok := jsonString(hdr["typ"]); !ok || typ != ProofType {
		return fail("The DPoP proof typ must be dpop+jwt.")
	}
	algName, ok := jsonString(hdr["alg"])
	if !ok {
		return fail("The DPoP proof has no alg.")
	}
	alg, ok := algs[algName]
	if !ok {
		return fail("The DPoP proof alg is not allowed.")
	}
	if _, ok := hdr["crit"]; ok {
		return fail("The DPoP proof must not have critical headers.")
	}
	rawJWK, ok := hdr["jwk"]
	if !ok {
		return fail("The DPoP proof has no jwk header.")
	}
	if key := keys.get(rawJWK, alg); key != nil {
		return header{alg: alg, key: key, jwk: rawJWK, jwkCached: true}
	}
	key, desc := importJWK(rawJWK, alg)
	if key == nil {
		return fail("The DPoP proof " + desc + ".")
	}
	return header{alg: alg, key: key, jwk: rawJWK}
}

// decodeClaims decodes the proof's payload into c, or returns a safe
// description of what is wrong with it. Payloads as clients write them
// take scanClaims; anything else (escapes, non-ASCII, nested values, a
// repeated claim) is decoded by encoding/json, with the same result:
// FuzzDecodeClaims checks that both agree wherever scanClaims answers.
func decodeClaims(payload []byte, c *proofClaims) string {
	var v claimValues
	if !scanClaims(payload, &v) {
		return decodeClaimsJSON(payload, c)
	}
	return checkClaimValues(&v, c)
}

// decodeClaimsJSON is decodeClaims by encoding/json.
func decodeClaimsJSON(payload []byte, c *proofClaims) string {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(payload, &m); err != nil || m == nil {
		return "The DPoP proof payload is not a JSON object."
	}
	return checkClaimValues(&claimValues{jti: m["jti"], htm: m["htm"], htu: m["htu"], iat: m["iat"], ath: m["ath"], nonce: m["nonce"]}, c)
}

func checkClaimValues(v *claimValues, c *proofClaims) string {
	var ok bool
	if c.jti, ok = jsonString(v.jti); !ok || c.jti == "" {
		return "The DPoP proof jti must be a non-empty string."
	}
	if len(c.jti) > MaxJTILength {
		return "The DPoP proof jti is too long."
	}
	if c.htm, ok = jsonString(v.htm); !ok {
		return "The DPoP proof htm must be a string."
	}
	if c.htu, ok = jsonString(v.htu); !ok {
		return "The DPoP proof htu must be a string."
	}
	if c.iat, ok = numericDate(v.iat); !ok {
		return "The DPoP proof iat must be a JSON number."
	}
	if v.ath != nil {
		if c.ath, ok = jsonString(v.ath); !ok {
			return "The DPoP proof ath must be a string."
		}
		c.hasATH = true
	}
	if v.nonce != nil {
		if c.nonce, ok = jsonString(v.nonce); !ok {
			return "The DPoP proof nonce must be a string."
		}
		c.hasNonce = true
	}
	return ""
}

// scanClaims reads a payload that is a flat JSON object whose names and
// string values are printable ASCII without escapes and whose other
// values are numbers, true, false or null, each claim of claimValues at
// most once; it reports false for anything else (which may still be
// valid JSON), leaving it to encoding/json. What it accepts is valid
// JSON, and v receives the bytes json.RawMessage would.
func scanClaims(p []byte, v *claimValues) bool {
	i := skipSpace(p, 0)
	if i >= len(p) || p[i] != '{' {
		return false
	}
	i = skipSpace(p, i+1)
	if i < len(p) && p[i] == '}' {
		return skipSpace(p, i+1) == len(p)
	}
	for {
		name, j, ok := scanString(p, i)
		if !ok {
			return false
		}
		i = skipSpace(p, j)
		if i >= len(p) || p[i] != ':' {
			return false
		}
		i = skipSpace(p, i+1)
		end, ok := scanValue(p, i)
		if !ok {
			return false
		}
		if slot := v.slot(name); slot != nil {
			if *slot != nil {
				return false // a repeated claim: encoding/json keeps the last
			}
			*slot = p[i:end:end]
		}
		i = skipSpace(p, end)
		if i >= len(p) {
			return false
		}
		switch p[i] {
		case ',':
			i = skipSpace(p, i+1)
		case '}':
			return skipSpace(p, i+1) == len(p)
		default:
			return false
		}
	}
}

func (v *claimValues) slot(name []byte) *json.RawMessage {
	switch string(name) {
	case "jti":
		return &v.jti
	case "htm":
		return &v.htm
	case "htu":
		return &v.htu
	case "iat":
		return &v.iat
	case "ath":
		return &v.ath
	case "nonce":
		return &v.nonce
	}
	return nil
}

func skipSpace(p []byte, i int) int {
	for i < len(p) && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r') {
		i++
	}
	return i
}

// scanString reads a string of printable ASCII without escapes at p[i]
// and returns its content and the index after it.
func scanString(p []byte, i int) ([]byte, int, bool) {
	if i >= len(p) || p[i] != '"' {
		return nil, 0, false
	}
	for j := i + 1; j < len(p); j++ {
		switch c := p[j]; {
		case c == '"':
			return p[i+1 : j], j + 1, true
		case c == '\\' || c < 0x20 || c > 0x7e:
			return nil, 0, false
		}
	}
	return nil, 0, false
}

// scanValue returns the end of the value at p[i]: a string as
// scanString reads it, a JSON number, true, false or null.
func scanValue(p []byte, i int) (int, bool) {
	if i >= len(p) {
		return 0, false
	}
	switch c := p[i]; {
	case c == '"':
		_, end, ok := scanString(p, i)
		return end, ok
	case c == '-' || c >= '0' && c <= '9':
		return scanNumber(p, i)
	}
	for _, lit := range []string{"true", "false", "null"} {
		if len(p)-i >= len(lit) && string(p[i:i+len(lit)]) == lit {
			return i + len(lit), true
		}
	}
	return 0, false
}

// scanNumber reads a JSON number (RFC 8259 §6) at p[i].
func scanNumber(p []byte, i int) (int, bool) {
	if p[i] == '-' {
		i++
	}
	switch {
	case i < len(p) && p[i] == '0':
		i++
	case i < len(p) && p[i] >= '1' && p[i] <= '9':
		i = digits(p, i)
	default:
		return 0, false
	}
	if i < len(p) && p[i] == '.' {
		j := digits(p, i+1)
		if j == i+1 {
			return 0, false
		}
		i = j
	}
	if i < len(p) && (p[i] == 'e' || p[i] == 'E') {
		i++
		if i < len(p) && (p[i] == '+' || p[i] == '-') {
			i++
		}
		j := digits(p, i)
		if j == i {
			return 0, false
		}
		i = j
	}
	return i, true
}

func digits(p []byte, i int) int {
	for i < len(p) && p[i] >= '0' && p[i] <= '9' {
		i++
	}
	return i
}

// maxNumericDate bounds iat (year 2500) so time arithmetic cannot overflow.
const maxNumericDate = 16725225600

// numericDate decodes a JSON number (RFC 7519 NumericDate, possibly with a
// fraction or exponent) as a time; strings and other types are rejected.
func numericDate(raw json.RawMessage) (time.Time, bool) {
	if len(raw) == 0 || raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
		return time.Time{}, false
	}
	s := string(raw)
	if !bytes.ContainsAny(raw, ".eE") {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 || n > maxNumericDate {
			return time.Time{}, false
		}
		return time.Unix(n, 0), true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > maxNumericDate {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true
}
