package dpop

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// NewProof signs a DPoP proof (RFC 9449 §4.2) for a request, for clients
// and tests. key is the client's private key, alg one of the supported
// algorithms (matching the key), method the HTTP method and url the
// request URL (its query and fragment are dropped). accessToken, when not
// empty, is hashed into ath; nonce, when not empty, is the server's
// DPoP-Nonce. The jti is 128 random bits; iat is now.
func NewProof(key jwk.Key, alg, method, url, accessToken, nonce string, now time.Time) (string, error) {
	if _, ok := algorithms[alg]; !ok {
		return "", fmt.Errorf("dpop: unsupported proof algorithm %q", alg)
	}
	if key == nil {
		return "", errors.New("dpop: nil key")
	}
	if ok, err := jwk.IsPrivateKey(key); err != nil || !ok {
		return "", errors.New("dpop: NewProof needs a private key")
	}
	pub, err := key.PublicKey()
	if err != nil {
		return "", fmt.Errorf("dpop: public key: %w", err)
	}
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", err
	}
	if i := strings.IndexByte(url, '#'); i >= 0 {
		url = url[:i]
	}
	if i := strings.IndexByte(url, '?'); i >= 0 {
		url = url[:i]
	}
	claims := struct {
		JTI   string `json:"jti"`
		HTM   string `json:"htm"`
		HTU   string `json:"htu"`
		IAT   int64  `json:"iat"`
		ATH   string `json:"ath,omitempty"`
		Nonce string `json:"nonce,omitempty"`
	}{JTI: b64.EncodeToString(jti[:]), HTM: method, HTU: url, IAT: now.Unix(), Nonce: nonce}
	if accessToken != "" {
		sum := sha256.Sum256([]byte(accessToken))
		claims.ATH = b64.EncodeToString(sum[:])
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	hdr := jws.NewHeaders()
	if err := hdr.Set(jws.TypeKey, ProofType); err != nil {
		return "", err
	}
	if err := hdr.Set(jws.JWKKey, pub); err != nil {
		return "", err
	}
	signed, err := jws.Sign(payload, jws.WithKey(jwa.SignatureAlgorithm(alg), key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		return "", fmt.Errorf("dpop: sign proof: %w", err)
	}
	return string(signed), nil
}
