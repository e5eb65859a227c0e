package dpop

import (
	"container/heap"
	"context"
	"encoding/binary"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of MemoryReplayCache.
const (
	DefaultMemoryReplayEntries = 1 << 18
	DefaultSweepInterval       = 10 * time.Second
	memoryReplayShards         = 64
)

// MemoryOptions configures a MemoryReplayCache.
type MemoryOptions struct {
	// MaxEntries bounds the number of unexpired entries (default
	// DefaultMemoryReplayEntries). When it is reached, new entries are
	// rejected with ErrReplayCacheFull.
	MaxEntries int
	// SweepInterval is how often the background sweeper drops expired
	// entries (default DefaultSweepInterval). Expired entries are also
	// dropped whenever their shard is written to.
	SweepInterval time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// MemoryReplayCache is an in-process ReplayCache for a single replica.
// Entries expire individually at their expiresAt. When the cache holds
// MaxEntries unexpired entries it rejects new ones with ErrReplayCacheFull
// rather than evicting: evicting an unexpired entry would let its proof be
// replayed. Close (or cancelling the constructor's context) stops the
// sweeper goroutine.
type MemoryReplayCache struct {
	shards [memoryReplayShards]memoryShard
	count  atomic.Int64 // entries held, over all shards
	max    int64
	now    func() time.Time
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
}

type memoryShard struct {
	mu      sync.Mutex
	entries map[ReplayKey]int64 // key -> expiresAt (UnixNano)
	byTime  expiryHeap
}

type expiryEntry struct {
	at  int64
	key ReplayKey
}

// expiryHeap is a min-heap of entries by expiry, so expired entries are
// found without scanning the whole shard.
type expiryHeap []expiryEntry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(expiryEntry)) }
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// NewMemoryReplayCache starts a MemoryReplayCache whose sweeper runs until
// ctx is done or Close is called.
func NewMemoryReplayCache(ctx context.Context, opts MemoryOptions) *MemoryReplayCache {
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = DefaultMemoryReplayEntries
	}
	if opts.SweepInterval <= 0 {
		opts.SweepInterval = DefaultSweepInterval
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	c := &MemoryReplayCache{
		max:  int64(opts.MaxEntries),
		now:  opts.Now,
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	for i := range c.shards {
		c.shards[i].entries = make(map[ReplayKey]int64)
	}
	go c.sweeper(ctx, opts.SweepInterval)
	return c
}

// Claim implements ReplayCache.
func (c *MemoryReplayCache) Claim(ctx context.Context, key ReplayKey, expiresAt time.Time) error {
	if err := ctx.Err(); err != nil {
		return errors.Join(ErrReplayStore, err)
	}
	now := c.now().UnixNano()
	at := expiresAt.UnixNano()
	err := c.claim(key, at, now)
	if errors.Is(err, ErrReplayCacheFull) {
		// Expired entries of other shards may still be counted: drop them
		// and try once more before refusing.
		c.sweep(now)
		err = c.claim(key, at, now)
	}
	return err
}

func (c *MemoryReplayCache) claim(key ReplayKey, at, now int64) error {
	s := &c.shards[binary.LittleEndian.Uint64(key[:8])%memoryReplayShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	c.expire(s, now)
	if _, ok := s.entries[key]; ok {
		return ErrReplayed
	}
	if at < now {
		// Already expired: such a proof cannot pass the iat check, and the
		// entry would be dropped at once. Nothing to remember.
		return nil
	}
	if c.count.Add(1) > c.max {
		c.count.Add(-1)
		return ErrReplayCacheFull
	}
	s.entries[key] = at
	heap.Push(&s.byTime, expiryEntry{at: at, key: key})
	return nil
}

// expire drops the entries of s whose expiry is before now (an entry is
// kept through its expiresAt instant). The caller holds s.mu.
func (c *MemoryReplayCache) expire(s *memoryShard, now int64) {
	n := 0
	for len(s.byTime) > 0 && s.byTime[0].at < now {
		e := heap.Pop(&s.byTime).(expiryEntry)
		delete(s.entries, e.key)
		n++
	}
	if n > 0 {
		c.count.Add(int64(-n))
	}
	if len(s.entries) == 0 && cap(s.byTime) > 1024 {
		// Give back the memory of a past burst.
		s.byTime = nil
		s.entries = make(map[ReplayKey]int64)
	}
}

// Len returns the number of entries held, including expired entries not
// yet dropped.
func (c *MemoryReplayCache) Len() int { return int(c.count.Load()) }

// Sweep drops every expired entry now. The sweeper calls it periodically.
func (c *MemoryReplayCache) Sweep() { c.sweep(c.now().UnixNano()) }

func (c *MemoryReplayCache) sweep(now int64) {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		c.expire(s, now)
		s.mu.Unlock()
	}
}

// Close stops the sweeper and waits for it to exit. The cache still
// works afterwards, without background sweeping.
func (c *MemoryReplayCache) Close() error {
	c.once.Do(func() { close(c.stop) })
	<-c.done
	return nil
}

func (c *MemoryReplayCache) sweeper(ctx context.Context, every time.Duration) {
	defer close(c.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.stop:
			return
		case <-t.C:
			c.Sweep()
		}
	}
}
