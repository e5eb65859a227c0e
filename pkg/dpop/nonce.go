package dpop

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
)

// NonceSource issues and checks server-provided DPoP nonces (RFC 9449 §8,
// §9). A Verifier uses it in two ways: with Config.RequireNonce every
// proof must carry a nonce that CheckNonce accepts, and with
// Config.ReplayEpoch a proof dated too close to the replay cache's epoch
// must carry one issued at or after the epoch. Otherwise Verify fails with
// ErrUseDPoPNonce carrying a fresh nonce from NewNonce (send it as the
// DPoP-Nonce header).
type NonceSource interface {
	// NewNonce returns a fresh nonce.
	NewNonce(now time.Time) (string, error)
	// CheckNonce reports whether nonce is currently acceptable, and when
	// it was issued.
	CheckNonce(nonce string, now time.Time) (issued time.Time, ok bool)
}

// HMACNonces is a stateless NonceSource: a nonce is its issuance time and
// an HMAC-SHA-256 tag over it, valid for a fixed lifetime. Replicas that
// share the key accept each other's nonces, so no shared store is needed.
// A nonce may be used for many proofs within its lifetime (RFC 9449 §8
// allows this; replay protection still comes from the ReplayCache).
//
// For rotation, nonces are issued with the first key and accepted with
// any key: add the new key second everywhere, then make it first, then
// drop the old one (each step once every replica runs the previous one).
type HMACNonces struct {
	keys     [][]byte
	lifetime time.Duration
}

// Limits of HMACNonces.
const (
	// MinNonceKeyLen is the shortest nonce key accepted, in bytes.
	MinNonceKeyLen = 32
	// MaxNonceKeys bounds the keys of a nonce key file.
	MaxNonceKeys = 8
	// DefaultNonceLifetime is how long a nonce stays acceptable.
	DefaultNonceLifetime = 5 * time.Minute
	// nonceFutureSkew tolerates replicas whose clocks run slightly behind
	// the one that issued the nonce.
	nonceFutureSkew = 5 * time.Second
	nonceTagLen     = 16
)

// NewHMACNonces returns a NonceSource that issues nonces keyed with key
// and accepts those of key and of every verifyOnly key (each at least 32
// bytes of secret randomness, shared by all replicas); nonces stay valid
// for lifetime.
func NewHMACNonces(key []byte, lifetime time.Duration, verifyOnly ...[]byte) (*HMACNonces, error) {
	n := &HMACNonces{lifetime: lifetime}
	for _, k := range append([][]byte{key}, verifyOnly...) {
		if len(k) < MinNonceKeyLen {
			return nil, fmt.Errorf("dpop: nonce key must be at least %d bytes", MinNonceKeyLen)
		}
		n.keys = append(n.keys, bytes.Clone(k))
	}
	if len(n.keys) > MaxNonceKeys {
		return nil, fmt.Errorf("dpop: at most %d nonce keys", MaxNonceKeys)
	}
	if lifetime <= 0 {
		return nil, errors.New("dpop: nonce lifetime must be positive")
	}
	return n, nil
}

// NewNonce implements NonceSource.
func (n *HMACNonces) NewNonce(now time.Time) (string, error) {
	// Dated to the millisecond, rounded up: never before now (a nonce
	// must not look older than the epoch it was issued in).
	ms := now.UnixMilli()
	if now.After(time.UnixMilli(ms)) {
		ms++
	}
	var buf [8 + nonceTagLen]byte
	binary.BigEndian.PutUint64(buf[:8], uint64(ms)) //nolint:gosec // G115: times after 1970
	copy(buf[8:], tag(n.keys[0], buf[:8]))
	return b64.EncodeToString(buf[:]), nil
}

// CheckNonce implements NonceSource.
func (n *HMACNonces) CheckNonce(nonce string, now time.Time) (time.Time, bool) {
	if len(nonce) != b64.EncodedLen(8+nonceTagLen) {
		return time.Time{}, false
	}
	buf, err := b64.DecodeString(nonce)
	if err != nil || len(buf) != 8+nonceTagLen {
		return time.Time{}, false
	}
	valid := 0
	for _, k := range n.keys {
		valid |= subtle.ConstantTimeCompare(buf[8:], tag(k, buf[:8]))
	}
	ms := binary.BigEndian.Uint64(buf[:8])
	if valid != 1 || ms > math.MaxInt64 {
		return time.Time{}, false
	}
	issued := time.UnixMilli(int64(ms))
	if issued.Before(now.Add(-n.lifetime)) || issued.After(now.Add(nonceFutureSkew)) {
		return time.Time{}, false
	}
	return issued, true
}

func tag(key, ts []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("dpop-nonce\x00"))
	m.Write(ts)
	return m.Sum(nil)[:nonceTagLen]
}

// ParseNonceKeys reads a nonce key file: one key a line, each the
// standard or URL-safe base64 (padded or not) of at least 32 bytes; blank
// lines and lines starting with # are ignored. The first key issues
// nonces, every key accepts them (see HMACNonces for rotation). Errors
// name the line but never repeat its content.
func ParseNonceKeys(data []byte) ([][]byte, error) {
	var (
		keys [][]byte
		errs []error
	)
	for i, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		k, err := decodeKey(string(line))
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("line %d: not base64", i+1))
		case len(k) < MinNonceKeyLen:
			errs = append(errs, fmt.Errorf("line %d: key of %d bytes, at least %d required", i+1, len(k), MinNonceKeyLen))
		default:
			keys = append(keys, k)
		}
	}
	if len(errs) == 0 && len(keys) == 0 {
		errs = append(errs, errors.New("no key"))
	}
	if len(keys) > MaxNonceKeys {
		errs = append(errs, fmt.Errorf("%d keys, at most %d", len(keys), MaxNonceKeys))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return keys, nil
}

func decodeKey(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.Strict().DecodeString(s); err == nil {
			return k, nil
		}
	}
	return nil, errors.New("not base64")
}

// randomNonces is HMACNonces with a random key of this process.
func randomNonces() (*HMACNonces, error) {
	key := make([]byte, MinNonceKeyLen)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("dpop: nonce key: %w", err)
	}
	return NewHMACNonces(key, DefaultNonceLifetime)
}
