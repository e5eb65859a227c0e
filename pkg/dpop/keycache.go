package dpop

import (
	"hash/maphash"
	"sync/atomic"
)

// keyCache remembers imported proof keys by the exact bytes of their jwk
// header, so a client that signs many proofs with one key pays for the
// JWK decoding, point validation and thumbprint once. It is a fixed-size,
// direct-mapped, lock-free table: a miss or a collision only costs a new
// import, so an attacker sending many keys merely evicts entries, and the
// memory stays bounded (keyCacheSlots entries of at most
// keyCacheMaxJWK bytes). Entries are immutable.
type keyCache struct {
	seed  maphash.Seed
	slots [keyCacheSlots]atomic.Pointer[keyCacheEntry]
}

const (
	keyCacheSlots  = 1024
	keyCacheMaxJWK = 2048 // larger jwk headers (RSA > 8192 bits is refused anyway) are not cached
)

type keyCacheEntry struct {
	raw string
	alg *algInfo
	key *proofKey
}

func newKeyCache() *keyCache { return &keyCache{seed: maphash.MakeSeed()} }

// get returns the key imported earlier from exactly raw for alg, or nil.
func (c *keyCache) get(raw []byte, alg *algInfo) *proofKey {
	if c == nil || len(raw) > keyCacheMaxJWK {
		return nil
	}
	e := c.slots[maphash.Bytes(c.seed, raw)%keyCacheSlots].Load()
	if e == nil || e.alg != alg || e.raw != string(raw) {
		return nil
	}
	return e.key
}

// put records the key imported from raw for alg.
func (c *keyCache) put(raw []byte, alg *algInfo, key *proofKey) {
	if c == nil || len(raw) > keyCacheMaxJWK {
		return
	}
	c.slots[maphash.Bytes(c.seed, raw)%keyCacheSlots].Store(&keyCacheEntry{raw: string(raw), alg: alg, key: key})
}
