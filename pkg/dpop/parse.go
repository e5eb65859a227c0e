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
// with that key. Keys that verified a signature before are taken from keys
// (which may be nil). On failure it returns a safe description.
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

	hdrJSON, err := b64.DecodeString(hdrB64)
	if err != nil {
		return nil, "The DPoP proof header is not base64url."
	}
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(hdrJSON, &hdr); err != nil || hdr == nil {
		return nil, "The DPoP proof header is not a JSON object."
	}
	if typ, ok := jsonString(hdr["typ"]); !ok || typ != ProofType {
		return nil, "The DPoP proof typ must be dpop+jwt."
	}
	algName, ok := jsonString(hdr["alg"])
	if !ok {
		return nil, "The DPoP proof has no alg."
	}
	alg, ok := algs[algName]
	if !ok {
		return nil, "The DPoP proof alg is not allowed."
	}
	if _, ok := hdr["crit"]; ok {
		return nil, "The DPoP proof must not have critical headers."
	}
	rawJWK, ok := hdr["jwk"]
	if !ok {
		return nil, "The DPoP proof has no jwk header."
	}
	key := keys.get(rawJWK, alg)
	cached := key != nil
	if !cached {
		var desc string
		if key, desc = importJWK(rawJWK, alg); key == nil {
			return nil, "The DPoP proof " + desc + "."
		}
	}

	sig, err := b64.DecodeString(sigB64)
	if err != nil {
		return nil, "The DPoP proof signature is not base64url."
	}
	if !verifySignature(alg, key.pub, []byte(token[:dot2]), sig) {
		return nil, "The DPoP proof signature is invalid."
	}
	if !cached {
		keys.put(rawJWK, alg, key)
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

func decodeClaims(payload []byte, c *proofClaims) string {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(payload, &m); err != nil || m == nil {
		return "The DPoP proof payload is not a JSON object."
	}
	var ok bool
	if c.jti, ok = jsonString(m["jti"]); !ok || c.jti == "" {
		return "The DPoP proof jti must be a non-empty string."
	}
	if len(c.jti) > MaxJTILength {
		return "The DPoP proof jti is too long."
	}
	if c.htm, ok = jsonString(m["htm"]); !ok {
		return "The DPoP proof htm must be a string."
	}
	if c.htu, ok = jsonString(m["htu"]); !ok {
		return "The DPoP proof htu must be a string."
	}
	if c.iat, ok = numericDate(m["iat"]); !ok {
		return "The DPoP proof iat must be a JSON number."
	}
	if raw, present := m["ath"]; present {
		if c.ath, ok = jsonString(raw); !ok {
			return "The DPoP proof ath must be a string."
		}
		c.hasATH = true
	}
	if raw, present := m["nonce"]; present {
		if c.nonce, ok = jsonString(raw); !ok {
			return "The DPoP proof nonce must be a string."
		}
		c.hasNonce = true
	}
	return ""
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
