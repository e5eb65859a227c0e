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
//
// A second table of the same size remembers whole protected headers (the
// base64url text before the first dot) whose proof verified: a client's
// proofs all carry the same header, so its later proofs skip the base64
// and JSON decoding of the header too. A header decodes to the same typ,
// alg, crit and jwk every time, so it passes the same checks; the
// signature and the claims are checked on every proof.
type keyCache struct {
	seed    maphash.Seed
	slots   [keyCacheSlots]atomic.Pointer[keyCacheEntry]
	headers [keyCacheSlots]atomic.Pointer[keyCacheEntry]
}

const (
	keyCacheSlots  = 1024
	keyCacheMaxJWK = 2048 // larger jwk headers (RSA > 8192 bits is refused anyway) are not cached
	// keyCacheMaxHeader bounds a cached protected header (base64url of a
	// header with a jwk of keyCacheMaxJWK bytes and typ, alg, kid).
	keyCacheMaxHeader = (keyCacheMaxJWK + 256) * 4 / 3
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

// header returns the alg and key of the protected header hdr (base64url)
// of a proof that verified before, or nils.
func (c *keyCache) header(hdr string) (*algInfo, *proofKey) {
	if c == nil || len(hdr) > keyCacheMaxHeader {
		return nil, nil
	}
	e := c.headers[maphash.String(c.seed, hdr)%keyCacheSlots].Load()
	if e == nil || e.raw != hdr {
		return nil, nil
	}
	return e.alg, e.key
}

// putHeader records the alg and key of a verified proof's header.
func (c *keyCache) putHeader(hdr string, alg *algInfo, key *proofKey) {
	if c == nil || len(hdr) > keyCacheMaxHeader {
		return
	}
	c.headers[maphash.String(c.seed, hdr)%keyCacheSlots].Store(&keyCacheEntry{raw: hdr, alg: alg, key: key})
}
