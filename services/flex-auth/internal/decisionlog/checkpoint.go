package decisionlog

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/go-json-experiment/json"
)

// Signed records. With a signing key (decisionLog.signingKeyFile) the log
// writes lines of its own beside the decisions, told apart by a "record"
// member (decisions have none, and "decision_id" instead):
//
//	checkpoint  every CheckpointInterval while decisions are written, and
//	            when the service is idle after some;
//	rotate      the last line of a file the log rotated away (built in, or
//	            a reopen after logrotate moved it);
//	close       the last line when the service stops cleanly.
//
// Each carries "key_id" and "sig": an Ed25519 or ECDSA P-256 (ASN.1,
// SHA-256) signature over RecordMessage, which names the record, its time
// and its place in the chain ("seq" and "prev"). As "prev" hashes the
// line before, a signature covers every line before it. Without a key the
// chain is still written, but a cut after the last line cannot be told
// from the end of the log.
const (
	RecordCheckpoint = "checkpoint"
	RecordRotate     = "rotate"
	RecordClose      = "close"
)

// RecordMessage is the text a signed record's signature covers.
func RecordMessage(kind string, t time.Time, seq int64, prev string) []byte {
	return fmt.Appendf(nil, "flex-auth decision log record v1\n%s\n%s\n%d\n%s", kind, t.UTC().Format(time.RFC3339Nano), seq, prev)
}

// Signer signs the log's records with an Ed25519 or P-256 private key.
type Signer struct {
	key   crypto.Signer
	keyID string
}

// LoadSigner reads a PEM private key (PKCS #8, or SEC 1 "EC PRIVATE
// KEY") of type Ed25519 or ECDSA P-256 from path.
func LoadSigner(path string) (*Signer, error) {
	b, err := os.ReadFile(path) //nolint:gosec // G304: the operator's configured key file
	if err != nil {
		return nil, fmt.Errorf("decision log signing key: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("decision log signing key %s: no PEM block", path)
	}
	var key any
	switch blk.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(blk.Bytes)
	default:
		return nil, fmt.Errorf("decision log signing key %s: PEM block %q, want PRIVATE KEY or EC PRIVATE KEY", path, blk.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("decision log signing key %s: %w", path, err)
	}
	s, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("decision log signing key %s: not a signing key", path)
	}
	if err := checkKeyType(s.Public()); err != nil {
		return nil, fmt.Errorf("decision log signing key %s: %w", path, err)
	}
	id, err := KeyID(s.Public())
	if err != nil {
		return nil, err
	}
	return &Signer{key: s, keyID: id}, nil
}

// KeyID names a public key in the records: the base64url SHA-256 of its
// SubjectPublicKeyInfo, first 16 characters.
func KeyID(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:12]), nil
}

// PublicKeyPEM returns the signer's public key as a PEM "PUBLIC KEY"
// block, for `flex-auth log verify --key`.
func (s *Signer) PublicKeyPEM() ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(s.key.Public())
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

func checkKeyType(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		return nil
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() {
			return nil
		}
	}
	return errors.New("the key must be Ed25519 or ECDSA P-256")
}

func (s *Signer) sign(msg []byte) ([]byte, error) {
	if _, ok := s.key.(ed25519.PrivateKey); ok {
		return s.key.Sign(rand.Reader, msg, crypto.Hash(0))
	}
	sum := sha256.Sum256(msg)
	return s.key.Sign(rand.Reader, sum[:], crypto.SHA256)
}

// record returns the unsealed line of a signed record of kind at t, to be
// sealed next after c.
func (s *Signer) record(kind string, t time.Time, c *chain) ([]byte, error) {
	sig, err := s.sign(RecordMessage(kind, t, c.seq+1, string(c.prev(nil))))
	if err != nil {
		return nil, fmt.Errorf("sign decision log %s: %w", kind, err)
	}
	line := append([]byte(`{"time":"`), t.UTC().AppendFormat(nil, time.RFC3339Nano)...)
	line = append(line, `","record":`...)
	line = strconv.AppendQuote(line, kind)
	line = append(line, `,"key_id":"`...)
	line = append(line, s.keyID...)
	line = append(line, `","sig":"`...)
	line = base64.RawURLEncoding.AppendEncode(line, sig)
	return append(line, `"}`...), nil
}

// LoadVerifyKey reads the public key that checks a log's records: a PEM
// "PUBLIC KEY", or the private key itself.
func LoadVerifyKey(path string) (crypto.PublicKey, error) {
	b, err := os.ReadFile(path) //nolint:gosec // G304: the file named on the command line
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%s: no PEM block", path)
	}
	if blk.Type != "PUBLIC KEY" {
		s, err := LoadSigner(path)
		if err != nil {
			return nil, err
		}
		return s.key.Public(), nil
	}
	pub, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := checkKeyType(pub); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return pub, nil
}

// verifySig checks sig (base64url) over msg with pub.
func verifySig(pub crypto.PublicKey, msg []byte, sig string) bool {
	raw, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		return false
	}
	switch k := pub.(type) {
	case ed25519.PublicKey:
		return ed25519.Verify(k, msg, raw)
	case *ecdsa.PublicKey:
		sum := sha256.Sum256(msg)
		return ecdsa.VerifyASN1(k, sum[:], raw)
	}
	return false
}

// members are the members of a line that the chain and the signed
// records use; the others are not read.
type members struct {
	Time       *time.Time `json:"time"`
	Seq        *int64     `json:"seq"`
	Prev       *string    `json:"prev"`
	Record     string     `json:"record"`
	KeyID      string     `json:"key_id"`
	Sig        string     `json:"sig"`
	DecisionID string     `json:"decision_id"`
}

// parseMembers reads line's chain members. Duplicate member names are
// refused, so a line cannot carry a second "seq" or "prev".
func parseMembers(line []byte) (members, error) {
	var m members
	err := json.Unmarshal(line, &m)
	return m, err
}
