package authority

import (
	"crypto/sha256"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/authgate/pkg/jwks"
)

func cachedTok(i int, exp time.Time, claim int) *OpTok {
	pad := strings.Repeat("x", claim)
	return &OpTok{
		Subject: fmt.Sprintf("user-%d-%s", i, pad), Plan: "community", License: "lic",
		Scopes: []string{"openid", "registry.token.issue"}, JKT: strings.Repeat("j", 43),
		Hash: strings.Repeat("h", 43), kid: "kid-1", times: jwks.Times{Exp: exp},
	}
}

func sumOf(i int) [32]byte { return sha256.Sum256([]byte(fmt.Sprint(i))) }

// A full cache evicts entries not used since the sweep last passed, so a
// token in use stays while others come and go; expired entries go first.
func TestTokenCacheEviction(t *testing.T) {
	now := time.Unix(1_750_000_000, 0)
	c := newTokenCache(4, 0)
	for i := range 4 {
		c.put(sumOf(i), cachedTok(i, now.Add(time.Hour), 0), now)
	}
	for i := 10; i < 30; i++ {
		if _, ok := c.get(sumOf(0), now); !ok {
			t.Fatalf("the token in use was evicted before insert %d", i)
		}
		c.put(sumOf(i), cachedTok(i, now.Add(time.Hour), 0), now)
		if c.len() != 4 {
			t.Fatalf("%d entries, want 4", c.len())
		}
	}
	// An expired entry is taken before an unexpired unused one.
	c = newTokenCache(3, 0)
	c.put(sumOf(1), cachedTok(1, now.Add(time.Hour), 0), now)
	c.put(sumOf(2), cachedTok(2, now.Add(time.Minute), 0), now)
	c.put(sumOf(3), cachedTok(3, now.Add(time.Hour), 0), now)
	for _, i := range []int{1, 3} {
		c.get(sumOf(i), now)
	}
	later := now.Add(2 * time.Minute)
	c.put(sumOf(4), cachedTok(4, now.Add(time.Hour), 0), later)
	for _, i := range []int{1, 3, 4} {
		if _, ok := c.get(sumOf(i), later); !ok {
			t.Fatalf("entry %d evicted instead of the expired one", i)
		}
	}
	// Claims above the bound are not cached.
	c.put(sumOf(5), cachedTok(5, now.Add(time.Hour), MaxCachedClaimBytes), now)
	if _, ok := c.get(sumOf(5), now); ok {
		t.Fatal("an entry above MaxCachedClaimBytes was cached")
	}
}

// A full cache of entries at MaxCachedClaimBytes costs at most
// CacheEntryBytes each, the figure the configuration reference states.
func TestTokenCacheMemoryBound(t *testing.T) {
	const n = 10000
	now := time.Unix(1_750_000_000, 0)
	base := cachedTok(n, now, 0).claimBytes() // the claims besides the padding
	toks := make([]*OpTok, n)
	sums := make([][32]byte, n)
	for i := range toks {
		sums[i] = sumOf(i)
	}
	before := heapInUse()
	c := newTokenCache(n, 0)
	for i := range toks {
		toks[i] = cachedTok(i, now.Add(time.Hour), MaxCachedClaimBytes-base)
		if toks[i].claimBytes() > MaxCachedClaimBytes {
			t.Fatalf("test entry of %d claim bytes is above the bound", toks[i].claimBytes())
		}
		c.put(sums[i], toks[i], now)
	}
	if c.len() != n {
		t.Fatalf("%d entries, want %d", c.len(), n)
	}
	used := heapInUse() - before
	t.Logf("%d entries: %d bytes, %d per entry (bound %d)", n, used, used/n, CacheEntryBytes)
	if used > n*CacheEntryBytes {
		t.Fatalf("%d entries use %d bytes, above %d x CacheEntryBytes", n, used, n)
	}
	runtime.KeepAlive(c)
}

func heapInUse() int {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int(m.HeapAlloc)
}
