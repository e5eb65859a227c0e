package dpop

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"math"
	"time"
)

// NonceSource issues and checks server-provided DPoP nonces (RFC 9449 §8,
// §9). When Config.Nonces is set, every proof must carry a nonce that
// CheckNonce accepts; otherwise Verify fails with ErrUseDPoPNonce carrying
// a fresh nonce from NewNonce (send it as the DPoP-Nonce header).
type NonceSource interface {
	// NewNonce returns a fresh nonce.
	NewNonce(now time.Time) (string, error)
	// CheckNonce reports whether nonce is currently acceptable.
	CheckNonce(nonce string, now time.Time) bool
}

// HMACNonces is a stateless NonceSource: a nonce is a timestamp and an
// HMAC-SHA-256 tag over it, valid for a fixed lifetime. Replicas that share
// the key accept each other's nonces, so no shared store is needed.
// A nonce may be used for many proofs within its lifetime (RFC 9449 §8
// allows this; replay protection still comes from the ReplayCache).
type HMACNonces struct {
	key      []byte
	lifetime time.Duration
}

// Limits of HMACNonces.
const (
	minNonceKeyLen = 32
	// nonceFutureSkew tolerates replicas whose clocks run slightly behind
	// the one that issued the nonce.
	nonceFutureSkew = 5 * time.Second
	nonceTagLen     = 16
)

// NewHMACNonces returns a NonceSource keyed with key (at least 32 bytes of
// secret randomness, shared by all replicas) whose nonces stay valid for
// lifetime.
func NewHMACNonces(key []byte, lifetime time.Duration) (*HMACNonces, error) {
	if len(key) < minNonceKeyLen {
		return nil, errors.New("dpop: nonce key must be at least 32 bytes")
	}
	if lifetime <= 0 {
		return nil, errors.New("dpop: nonce lifetime must be positive")
	}
	return &HMACNonces{key: append([]byte(nil), key...), lifetime: lifetime}, nil
}

// NewNonce implements NonceSource.
func (n *HMACNonces) NewNonce(now time.Time) (string, error) {
	var buf [8 + nonceTagLen]byte
	binary.BigEndian.PutUint64(buf[:8], uint64(now.UnixMilli()))
	copy(buf[8:], n.tag(buf[:8]))
	return b64.EncodeToString(buf[:]), nil
}

// CheckNonce implements NonceSource.
func (n *HMACNonces) CheckNonce(nonce string, now time.Time) bool {
	if len(nonce) != b64.EncodedLen(8+nonceTagLen) {
		return false
	}
	buf, err := b64.DecodeString(nonce)
	if err != nil || len(buf) != 8+nonceTagLen {
		return false
	}
	if subtle.ConstantTimeCompare(buf[8:], n.tag(buf[:8])) != 1 {
		return false
	}
	ms := binary.BigEndian.Uint64(buf[:8])
	if ms > math.MaxInt64 {
		return false
	}
	issued := time.UnixMilli(int64(ms))
	return !issued.Before(now.Add(-n.lifetime)) && !issued.After(now.Add(nonceFutureSkew))
}

func (n *HMACNonces) tag(ts []byte) []byte {
	m := hmac.New(sha256.New, n.key)
	m.Write([]byte("dpop-nonce\x00"))
	m.Write(ts)
	return m.Sum(nil)[:nonceTagLen]
}
