package dpop

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"time"
)

// ReplayKey identifies one proof for replay detection: SHA-256 over the
// proof key's thumbprint, htm, normalized htu and jti (length-prefixed, so
// no two different tuples share a key).
type ReplayKey [sha256.Size]byte

// String returns the key in hex.
func (k ReplayKey) String() string { return hex.EncodeToString(k[:]) }

// NewReplayKey derives the replay key of a proof.
func NewReplayKey(jkt, htm, htu, jti string) ReplayKey {
	h := sha256.New()
	var n [4]byte
	for _, s := range [...]string{jkt, htm, htu, jti} {
		binary.BigEndian.PutUint32(n[:], uint32(len(s))) //nolint:gosec // G115: parts of a proof, which is at most MaxProofSize bytes
		h.Write(n[:])
		h.Write([]byte(s))
	}
	var k ReplayKey
	h.Sum(k[:0])
	return k
}

// ReplayCache remembers proofs until they could no longer pass the iat
// window check, so that each proof is accepted at most once.
//
// Claim must be atomic across every verifier sharing the cache: of any
// number of concurrent calls with the same key, exactly one returns nil.
// The others return ErrReplayed. The entry must be kept at least until
// expiresAt (inclusive); the Verifier passes iat + MaxAge + ClockSkew.
//
// Any other outcome is an error and the Verifier rejects the proof (fail
// closed): an implementation returns an error wrapping ErrReplayCacheFull
// when it cannot store a new entry without dropping an unexpired one, and
// one wrapping ErrReplayStore when its backing store fails.
type ReplayCache interface {
	Claim(ctx context.Context, key ReplayKey, expiresAt time.Time) error
}

// EpochReplayCache is a ReplayCache that knows since when it remembers
// claims: its epoch. A cache that loses its entries (a process restart, a
// Redis restart or flush) starts a new epoch, and cannot tell whether a
// proof accepted before it is being replayed. A Verifier with
// Config.ReplayEpoch refuses every proof whose iat is earlier than the
// epoch plus ClockSkew (ErrProofBeforeEpoch): no proof it could have
// accepted before the loss passes, and clients sign a new one.
//
// ClaimEpoch is Claim that also returns the epoch in force when the claim
// was made (also with ErrReplayed). An implementation must read the epoch
// no earlier than it records the claim, so that a loss between the two is
// seen as a new epoch.
type EpochReplayCache interface {
	ReplayCache
	ClaimEpoch(ctx context.Context, key ReplayKey, expiresAt time.Time) (epoch time.Time, err error)
}
