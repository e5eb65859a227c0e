package authority

import (
	"sync"
	"time"
)

// Bounds of the verified-OpTok cache.
const (
	// MaxCachedClaimBytes bounds the claim text one cache entry keeps
	// (subject, plan, licence, client id, scopes, cnf): an OpTok with more
	// is verified on every request instead of cached.
	MaxCachedClaimBytes = 1 << 10
	// CacheEntryBytes is the most one entry costs, MaxCachedClaimBytes
	// included (TestTokenCacheMemoryBound measures it): the cache of
	// authority.tokenCacheSize entries holds at most that many times this.
	CacheEntryBytes = 2 << 10
)

// tokenCache keeps verified OpToks by the SHA-256 of the compact token
// (the whole serialization: a token differing in any byte, its signature
// included, is another entry). It holds at most capacity entries, dropped
// when they expire, when looked up after their key was withdrawn, by
// purge, or, when full, by a clock sweep: the sweep passes over entries
// used since its last pass once, and takes the first expired or unused
// one. Lookups, inserts and evictions are O(1) amortized.
type tokenCache struct {
	mu       sync.Mutex
	capacity int
	// skew: an entry lives until its exp plus the clock skew, as long as
	// the token is accepted.
	skew  time.Duration
	index map[[32]byte]int
	slots []cacheSlot // grows up to capacity; a nil tok is a free slot
	hand  int
}

type cacheSlot struct {
	sum  [32]byte
	tok  *OpTok
	used bool
}

func newTokenCache(capacity int, skew time.Duration) *tokenCache {
	return &tokenCache{capacity: capacity, skew: skew, index: make(map[[32]byte]int)}
}

func (c *tokenCache) expired(t *OpTok, now time.Time) bool {
	return !now.Before(t.times.Exp.Add(c.skew))
}

// get returns the entry of sum unless it expired at now (it is then
// dropped).
func (c *tokenCache) get(sum [32]byte, now time.Time) (*OpTok, bool) {
	if c.capacity <= 0 {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	i, ok := c.index[sum]
	if !ok {
		return nil, false
	}
	s := &c.slots[i]
	if c.expired(s.tok, now) {
		c.free(i)
		return nil, false
	}
	s.used = true
	return s.tok, true
}

// put stores t under sum, evicting an entry when the cache is full.
func (c *tokenCache) put(sum [32]byte, t *OpTok, now time.Time) {
	if c.capacity <= 0 || t.claimBytes() > MaxCachedClaimBytes {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if i, ok := c.index[sum]; ok {
		c.slots[i].tok = t
		return
	}
	var i int
	if len(c.slots) < c.capacity {
		c.slots = append(c.slots, cacheSlot{})
		i = len(c.slots) - 1
	} else {
		i = c.victim(now)
		if c.slots[i].tok != nil {
			c.free(i)
		}
	}
	c.slots[i] = cacheSlot{sum: sum, tok: t}
	c.index[sum] = i
}

// victim advances the clock hand to a free, expired or unused slot (within
// two turns: the first clears every used mark it passes).
func (c *tokenCache) victim(now time.Time) int {
	for {
		i := c.hand
		c.hand = (c.hand + 1) % len(c.slots)
		s := &c.slots[i]
		if s.tok == nil || c.expired(s.tok, now) || !s.used {
			return i
		}
		s.used = false
	}
}

// drop removes the entry of sum, if any.
func (c *tokenCache) drop(sum [32]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i, ok := c.index[sum]; ok {
		c.free(i)
	}
}

func (c *tokenCache) free(i int) {
	delete(c.index, c.slots[i].sum)
	c.slots[i] = cacheSlot{}
}

// purge drops every entry and releases their memory.
func (c *tokenCache) purge() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.index = make(map[[32]byte]int)
	c.slots, c.hand = nil, 0
}

// len is the number of entries.
func (c *tokenCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.index)
}
