package dpop

import (
	"context"
	"crypto/rand"
	"errors"
	"testing"
	"time"
)

// testWindow gives the memory caches of the tests 1 s buckets.
const testWindow = 8 * time.Second

func newTestMemoryCache(t *testing.T) ReplayCache {
	c := NewMemoryReplayCache(context.Background(), MemoryOptions{Window: testWindow})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestMemoryReplayCacheConformance(t *testing.T) {
	testReplayCache(t, newTestMemoryCache)
}

func TestMemoryReplayCacheVerifier(t *testing.T) {
	testVerifierReplay(t, func(t *testing.T, now func() time.Time) ReplayCache {
		c := NewMemoryReplayCache(context.Background(), MemoryOptions{Now: now})
		t.Cleanup(func() { _ = c.Close() })
		return c
	})
}

func TestMemoryReplayCacheFullRejects(t *testing.T) {
	ctx := context.Background()
	ck := newClock(testNow)
	c := NewMemoryReplayCache(ctx, MemoryOptions{MaxEntries: 100, Window: testWindow, Now: ck.Now})
	t.Cleanup(func() { _ = c.Close() })
	exp := testNow.Add(time.Minute)
	keys := make([]ReplayKey, 100)
	for i := range keys {
		_, _ = rand.Read(keys[i][:])
		if err := c.Claim(ctx, keys[i], exp); err != nil {
			t.Fatalf("claim %d: %v", i, err)
		}
	}
	var extra ReplayKey
	_, _ = rand.Read(extra[:])
	if err := c.Claim(ctx, extra, exp); !errors.Is(err, ErrReplayCacheFull) {
		t.Fatalf("claim into a full cache: %v, want ErrReplayCacheFull", err)
	}
	// Nothing was evicted to make room.
	for i, k := range keys {
		if err := c.Claim(ctx, k, exp); !errors.Is(err, ErrReplayed) {
			t.Fatalf("key %d after the full cache: %v, want ErrReplayed", i, err)
		}
	}
	// Once their bucket expires there is room again.
	ck.Set(exp.Add(testWindow / 8))
	if err := c.Claim(ctx, extra, exp.Add(time.Minute)); err != nil {
		t.Fatalf("claim after expiry: %v", err)
	}
	c.Sweep()
	if got := c.Len(); got != 1 {
		t.Errorf("Len() = %d, want 1", got)
	}
}

func TestVerifierFailsClosedWhenCacheFull(t *testing.T) {
	ck := newClock(testNow)
	c := NewMemoryReplayCache(context.Background(), MemoryOptions{MaxEntries: 1, Now: ck.Now})
	t.Cleanup(func() { _ = c.Close() })
	v, err := NewVerifier(Config{PublicBaseURL: testBaseURL, Replay: c, Now: ck.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), request(makeProof(t, nil))); err != nil {
		t.Fatal(err)
	}
	_, err = v.Verify(context.Background(), request(makeProof(t, nil)))
	if !errors.Is(err, ErrTemporarilyUnavailable) || !errors.Is(err, ErrReplayCacheFull) {
		t.Fatalf("Verify with a full cache: %v", err)
	}
	var e *Error
	if errors.As(err, &e); e.Status != 503 {
		t.Errorf("status = %d", e.Status)
	}
}

func TestMemoryReplayCacheExpiryIsInclusive(t *testing.T) {
	ctx := context.Background()
	ck := newClock(testNow)
	c := NewMemoryReplayCache(ctx, MemoryOptions{Window: testWindow, Now: ck.Now})
	t.Cleanup(func() { _ = c.Close() })
	width := testWindow / 8
	for _, exp := range []time.Time{
		testNow.Add(time.Second),                    // the first instant of a bucket
		testNow.Add(time.Second + width - 1),        // its last instant
		testNow.Add(2*time.Second + width/2 + 1234), // somewhere inside
	} {
		var k ReplayKey
		_, _ = rand.Read(k[:])
		ck.Set(testNow)
		if err := c.Claim(ctx, k, exp); err != nil {
			t.Fatal(err)
		}
		ck.Set(exp)
		if err := c.Claim(ctx, k, exp.Add(time.Minute)); !errors.Is(err, ErrReplayed) {
			t.Fatalf("claim at the expiry instant %v: %v, want ErrReplayed", exp, err)
		}
		// Kept at most one bucket width past its expiry.
		ck.Set(exp.Add(width))
		if err := c.Claim(ctx, k, exp.Add(time.Minute)); err != nil {
			t.Fatalf("claim one bucket width after expiry %v: %v", exp, err)
		}
	}
}

func TestMemoryReplayCacheSweeper(t *testing.T) {
	ctx := context.Background()
	ck := newClock(testNow)
	c := NewMemoryReplayCache(ctx, MemoryOptions{Window: testWindow, Now: ck.Now, SweepInterval: 5 * time.Millisecond})
	t.Cleanup(func() { _ = c.Close() })
	for range 500 {
		var k ReplayKey
		_, _ = rand.Read(k[:])
		if err := c.Claim(ctx, k, testNow.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	if c.Len() != 500 {
		t.Fatalf("Len() = %d", c.Len())
	}
	ck.Advance(3 * time.Second)
	// The sweeper, not a claim, drops the expired entries.
	deadline := time.Now().Add(10 * time.Second)
	for c.Len() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("sweeper left %d expired entries", c.Len())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestMemoryReplayCacheStops(t *testing.T) {
	t.Run("Close", func(t *testing.T) {
		c := NewMemoryReplayCache(context.Background(), MemoryOptions{})
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		_ = c.Close() // idempotent
		assertStopped(t, c)
	})
	t.Run("context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		c := NewMemoryReplayCache(ctx, MemoryOptions{})
		cancel()
		assertStopped(t, c)
		_ = c.Close()
	})
}

func assertStopped(t *testing.T, c *MemoryReplayCache) {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		t.Fatal("sweeper goroutine still running")
	}
}

// TestMemoryReplayCacheProofsPerSecond: the stated rate is what the cache
// holds when every entry is kept for the lifetime plus a bucket width.
func TestMemoryReplayCacheProofsPerSecond(t *testing.T) {
	ctx := context.Background()
	ck := newClock(testNow)
	const lifetime = 6 * time.Second
	c := NewMemoryReplayCache(ctx, MemoryOptions{MaxEntries: 9000, Window: testWindow, Now: ck.Now})
	t.Cleanup(func() { _ = c.Close() })
	rate := c.ProofsPerSecond(lifetime)
	if rate != 1285 { // 9000 / (6 s + 1 s)
		t.Fatalf("ProofsPerSecond = %d", rate)
	}
	// Claim at that rate for three lifetimes, 10 ms apart: never full.
	step := 10 * time.Millisecond
	per := rate / 100
	for tick := range int(3 * lifetime / step) {
		for i := range per {
			var k ReplayKey
			_, _ = rand.Read(k[:])
			if err := c.Claim(ctx, k, ck.Now().Add(lifetime)); err != nil {
				t.Fatalf("tick %d claim %d (%d held): %v", tick, i, c.Len(), err)
			}
		}
		ck.Advance(step)
	}
}
