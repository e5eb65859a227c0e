package authority

import (
	"sync"
	"time"
)

// tokenCache keeps verified OpToks by the SHA-256 of the raw token until
// they expire. It holds at most max entries: when full, expired entries are
// swept, and if none expired one arbitrary entry is dropped.
type tokenCache struct {
	mu      sync.Mutex
	max     int
	entries map[[32]byte]*OpTok
}

func newTokenCache(capacity int) *tokenCache {
	return &tokenCache{max: capacity, entries: make(map[[32]byte]*OpTok)}
}

func (c *tokenCache) get(sum [32]byte, now time.Time) (*OpTok, bool) {
	if c.max <= 0 {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.entries[sum]
	if !ok {
		return nil, false
	}
	if !now.Before(t.Expiry) {
		delete(c.entries, sum)
		return nil, false
	}
	return t, true
}

func (c *tokenCache) put(sum [32]byte, t *OpTok, now time.Time) {
	if c.max <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		for k, e := range c.entries {
			if !now.Before(e.Expiry) {
				delete(c.entries, k)
			}
		}
		for k := range c.entries {
			if len(c.entries) < c.max {
				break
			}
			delete(c.entries, k)
		}
	}
	c.entries[sum] = t
}
