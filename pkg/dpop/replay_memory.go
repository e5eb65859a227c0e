package dpop

import (
	"context"
	"encoding/binary"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of MemoryReplayCache.
const (
	// DefaultMemoryReplayEntries bounds the entries of a MemoryReplayCache
	// (8 bytes each, in tables kept at most three quarters full): with the
	// default window it sustains about 28,000 proofs/s.
	DefaultMemoryReplayEntries = 1 << 21
	// DefaultReplayWindow is the longest a Verifier with the default MaxAge
	// and ClockSkew keeps a proof: a proof may be dated ClockSkew ahead and
	// is kept until iat + MaxAge + ClockSkew.
	DefaultReplayWindow  = DefaultMaxAge + 2*DefaultClockSkew
	DefaultSweepInterval = 10 * time.Second
	// memoryBuckets is the number of time buckets that cover the window.
	memoryBuckets      = 8
	memoryReplayShards = 16
	minBucketSlots     = 64
)

// MemoryOptions configures a MemoryReplayCache.
type MemoryOptions struct {
	// MaxEntries bounds the number of entries held (default
	// DefaultMemoryReplayEntries). When it is reached, new entries are
	// rejected with ErrReplayCacheFull.
	MaxEntries int
	// Window is the longest time from a claim to its expiresAt: the
	// Verifier's MaxAge + 2×ClockSkew (default DefaultReplayWindow). Entries
	// are kept in time buckets of Window/8 that expire whole; a claim
	// further ahead still works.
	Window time.Duration
	// SweepInterval is how often the background sweeper drops expired
	// buckets (default DefaultSweepInterval). Expired buckets are also
	// dropped whenever their shard is written to.
	SweepInterval time.Duration
	// Now is the clock (default time.Now). The cache's epoch is Now() at
	// construction.
	Now func() time.Time
}

// MemoryReplayCache is an in-process ReplayCache for a single replica.
//
// Each entry is an 8-byte fingerprint of the ReplayKey in an
// open-addressing table of the time bucket of its expiresAt; a bucket
// (Window/8 wide) is dropped whole once its last instant has passed, so an
// entry is kept through its expiresAt and at most one bucket width longer.
// Two different proofs with the same fingerprint (a 2^-64 chance) make the
// second one look replayed: the cache errs on the side of refusing.
//
// When the cache holds MaxEntries entries it rejects new ones with
// ErrReplayCacheFull rather than evicting: evicting an unexpired entry
// would let its proof be replayed. Its epoch (ClaimEpoch) is its start:
// it knows nothing of proofs accepted before. Close (or cancelling the
// constructor's context) stops the sweeper goroutine.
type MemoryReplayCache struct {
	shards [memoryReplayShards]memoryShard
	count  atomic.Int64 // entries held, over all shards
	max    int64
	width  int64 // bucket width, ns
	epoch  time.Time
	now    func() time.Time
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
}

type memoryShard struct {
	mu      sync.Mutex
	buckets []*replayBucket // live buckets, in no particular order
	spare   []uint64        // the cleared table of the last dropped bucket
	hint    int             // entries of the last dropped bucket
	_       [64]byte        // keep shards on separate cache lines
}

// replayBucket holds the fingerprints of the entries whose expiresAt
// falls in [slot×width, (slot+1)×width): a power-of-two table with linear
// probing, 0 marking a free slot.
type replayBucket struct {
	slot int64
	keys []uint64
	n    int
}

// NewMemoryReplayCache starts a MemoryReplayCache whose sweeper runs until
// ctx is done or Close is called.
func NewMemoryReplayCache(ctx context.Context, opts MemoryOptions) *MemoryReplayCache {
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = DefaultMemoryReplayEntries
	}
	if opts.Window <= 0 {
		opts.Window = DefaultReplayWindow
	}
	if opts.SweepInterval <= 0 {
		opts.SweepInterval = DefaultSweepInterval
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	c := &MemoryReplayCache{
		max:   int64(opts.MaxEntries),
		width: max(int64(opts.Window/memoryBuckets), int64(time.Millisecond)),
		epoch: opts.Now(),
		now:   opts.Now,
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	go c.sweeper(ctx, opts.SweepInterval)
	return c
}

// Claim implements ReplayCache.
func (c *MemoryReplayCache) Claim(ctx context.Context, key ReplayKey, expiresAt time.Time) error {
	_, err := c.ClaimEpoch(ctx, key, expiresAt)
	return err
}

// ClaimEpoch implements EpochReplayCache: the epoch is the cache's start.
func (c *MemoryReplayCache) ClaimEpoch(ctx context.Context, key ReplayKey, expiresAt time.Time) (time.Time, error) {
	if err := ctx.Err(); err != nil {
		return c.epoch, errors.Join(ErrReplayStore, err)
	}
	now := c.now().UnixNano()
	at := expiresAt.UnixNano()
	err := c.claim(key, at, now)
	if errors.Is(err, ErrReplayCacheFull) {
		// Expired buckets of other shards may still be counted: drop them
		// and try once more before refusing.
		c.sweep(now)
		err = c.claim(key, at, now)
	}
	return c.epoch, err
}

// Epoch returns the cache's start: proofs accepted before it are unknown
// to the cache.
func (c *MemoryReplayCache) Epoch() time.Time { return c.epoch }

// ProofsPerSecond is how many claims a second the cache takes for ever
// when each is kept for lifetime (the Verifier's MaxAge + ClockSkew):
// MaxEntries over lifetime plus one bucket width.
func (c *MemoryReplayCache) ProofsPerSecond(lifetime time.Duration) int {
	return int(float64(c.max) / (lifetime + time.Duration(c.width)).Seconds())
}

func fingerprint(key ReplayKey) uint64 {
	fp := binary.LittleEndian.Uint64(key[8:16])
	if fp == 0 {
		fp = 1
	}
	return fp
}

func (c *MemoryReplayCache) claim(key ReplayKey, at, now int64) error {
	s := &c.shards[binary.LittleEndian.Uint64(key[:8])%memoryReplayShards]
	fp := fingerprint(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	c.expire(s, now)
	for _, b := range s.buckets {
		if b.has(fp) {
			return ErrReplayed
		}
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
	s.bucket(floorDiv(at, c.width)).insert(fp)
	return nil
}

// expire drops the buckets of s whose last instant is before now (an
// entry is kept through its expiresAt instant). The caller holds s.mu.
func (c *MemoryReplayCache) expire(s *memoryShard, now int64) {
	live := s.buckets[:0]
	for _, b := range s.buckets {
		if (b.slot+1)*c.width > now {
			live = append(live, b)
			continue
		}
		c.count.Add(int64(-b.n))
		s.hint = b.n
		if len(b.keys) > len(s.spare) {
			clear(b.keys)
			s.spare = b.keys
		}
	}
	clear(s.buckets[len(live):])
	s.buckets = live
	if len(live) == 0 {
		// Idle: give back the memory of past traffic.
		s.spare, s.hint, s.buckets = nil, 0, nil
	}
}

// bucket returns the bucket of slot, creating it (sized like the last
// dropped one, reusing its table) when needed. The caller holds s.mu.
func (s *memoryShard) bucket(slot int64) *replayBucket {
	for _, b := range s.buckets {
		if b.slot == slot {
			return b
		}
	}
	size := minBucketSlots
	for size*3 < s.hint*4 {
		size *= 2
	}
	b := &replayBucket{slot: slot}
	if len(s.spare) >= size {
		b.keys, s.spare = s.spare, nil
	} else {
		b.keys = make([]uint64, size)
	}
	s.buckets = append(s.buckets, b)
	return b
}

func (b *replayBucket) has(fp uint64) bool {
	mask := uint64(len(b.keys) - 1) //nolint:gosec // len(b.keys) is a power of two, at least 1
	for i := fp & mask; ; i = (i + 1) & mask {
		switch b.keys[i] {
		case fp:
			return true
		case 0:
			return false
		}
	}
}

// insert adds fp, which is not in b, growing the table past 3/4 full.
func (b *replayBucket) insert(fp uint64) {
	if (b.n+1)*4 > len(b.keys)*3 {
		old := b.keys
		b.keys = make([]uint64, 2*len(old))
		for _, k := range old {
			if k != 0 {
				b.put(k)
			}
		}
	}
	b.put(fp)
	b.n++
}

func (b *replayBucket) put(fp uint64) {
	mask := uint64(len(b.keys) - 1) //nolint:gosec // len(b.keys) is a power of two, at least 1
	i := fp & mask
	for b.keys[i] != 0 {
		i = (i + 1) & mask
	}
	b.keys[i] = fp
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// Len returns the number of entries held, including expired entries not
// yet dropped.
func (c *MemoryReplayCache) Len() int { return int(c.count.Load()) }

// Sweep drops every expired bucket now. The sweeper calls it periodically.
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
