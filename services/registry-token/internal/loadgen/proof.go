package loadgen

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/stellaops/authgate/pkg/dpop"
)

// FastProver signs ES256 DPoP proofs for one key, method, URL and access
// token with the invariant parts (header, htm, htu, ath) encoded once, so
// that the load generator spends its CPU on little more than one ECDSA
// signature per request. Every proof still gets a fresh jti and iat.
// pkg/dpop's NewProof is the general builder; TestFastProverAccepted
// checks that pkg/dpop's Verifier accepts these proofs.
type FastProver struct {
	key    *ecdsa.PrivateKey
	jkt    string
	header string // base64url protected header
	claims string // `{"htm":...,"htu":...`
	prefix string // claims + `,"ath":...,"iat":`
	now    func() time.Time
}

// NewFastProver generates a P-256 key and prepares proofs for
// method + url; Bind sets the access token they carry the hash of.
func NewFastProver(method, url string, now func() time.Time) (*FastProver, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	x, y := make([]byte, 32), make([]byte, 32)
	pub, err := key.PublicKey.ECDH()
	if err != nil {
		return nil, err
	}
	raw := pub.Bytes() // 0x04 || X || Y
	copy(x, raw[1:33])
	copy(y, raw[33:65])
	jwk := map[string]string{"kty": "EC", "crv": "P-256", "x": base64.RawURLEncoding.EncodeToString(x), "y": base64.RawURLEncoding.EncodeToString(y)}
	hdr, err := json.Marshal(map[string]any{"typ": dpop.ProofType, "alg": "ES256", "jwk": jwk})
	if err != nil {
		return nil, err
	}
	fixed, err := json.Marshal(map[string]string{"htm": method, "htu": url}) // {"htm":..,"htu":..}
	if err != nil {
		return nil, err
	}
	// RFC 7638 thumbprint: members crv, kty, x, y in lexicographic order.
	tp := sha256.Sum256([]byte(`{"crv":"P-256","kty":"EC","x":"` + jwk["x"] + `","y":"` + jwk["y"] + `"}`))
	if now == nil {
		now = time.Now
	}
	return &FastProver{
		key:    key,
		jkt:    base64.RawURLEncoding.EncodeToString(tp[:]),
		header: base64.RawURLEncoding.EncodeToString(hdr),
		claims: string(fixed[:len(fixed)-1]),
		prefix: string(fixed[:len(fixed)-1]) + `,"iat":`,
		now:    now,
	}, nil
}

// Bind makes the following proofs carry the hash of accessToken (ath).
// It is not safe to call concurrently with Proof.
func (p *FastProver) Bind(accessToken string) {
	sum := sha256.Sum256([]byte(accessToken))
	p.prefix = p.claims + `,"ath":"` + base64.RawURLEncoding.EncodeToString(sum[:]) + `","iat":`
}

// JKT is the key's RFC 7638 thumbprint (for cnf.jkt).
func (p *FastProver) JKT() string { return p.jkt }

// Proof signs a fresh proof for the access token of Bind.
func (p *FastProver) Proof() (string, error) { return p.sign(p.prefix) }

// ProofFor signs a fresh proof for accessToken (Bind's token is left as
// it is: safe to call concurrently).
func (p *FastProver) ProofFor(accessToken string) (string, error) {
	sum := sha256.Sum256([]byte(accessToken))
	return p.sign(p.claims + `,"ath":"` + base64.RawURLEncoding.EncodeToString(sum[:]) + `","iat":`)
}

func (p *FastProver) sign(prefix string) (string, error) {
	var jti [12]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", err
	}
	payload := prefix + strconv.FormatInt(p.now().Unix(), 10) + `,"jti":"` + base64.RawURLEncoding.EncodeToString(jti[:]) + `"}`
	input := p.header + "." + base64.RawURLEncoding.EncodeToString([]byte(payload))
	digest := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, p.key, digest[:])
	if err != nil {
		return "", fmt.Errorf("loadgen: sign proof: %w", err)
	}
	var sig [64]byte
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + base64.RawURLEncoding.EncodeToString(sig[:]), nil
}
