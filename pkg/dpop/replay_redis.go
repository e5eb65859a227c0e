package dpop

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultRedisKeyPrefix prefixes the keys RedisReplayCache writes.
const DefaultRedisKeyPrefix = "dpop:jti:"

// RedisEpochKey is the name, after the prefix, of the epoch marker.
const RedisEpochKey = "epoch"

// RedisReplayCache is a ReplayCache shared by replicas through Redis. A
// claim is one round trip, one script run atomically (EVALSHA): SET key 1
// NX PXAT <expiresAt in ms>, so Redis keeps each entry until the proof's
// own expiry and drops it after, then GET of the epoch marker.
//
// The epoch marker (prefix + RedisEpochKey, no expiry) holds the Unix
// milliseconds at which the first claim found it missing, that is since
// when this Redis has held every entry: it disappears with the data (a
// restart without persistence, FLUSHALL, FLUSHDB), and the next claim
// starts a new epoch. Run Redis with maxmemory-policy noeviction: an
// evicted entry or marker would be a forgotten proof.
//
// Any error from Redis (unreachable, timeout, error reply, out of memory)
// is returned wrapped in ErrReplayStore, and the Verifier rejects the
// proof: a replay check that cannot be made never accepts.
//
// Redis expires keys by its own clock: keep it in sync with the
// verifiers' clocks (NTP), as with any shared expiry.
type RedisReplayCache struct {
	client redis.UniversalClient
	prefix string
	marker string
	now    func() time.Time
}

// NewRedisReplayCache returns a RedisReplayCache using client (for example
// redis.NewClient(opts) with opts from redis.ParseURL). An empty prefix
// means DefaultRedisKeyPrefix. The caller owns and closes client; bound
// the time a claim may take with the client's timeouts or the context.
func NewRedisReplayCache(client redis.UniversalClient, prefix string) *RedisReplayCache {
	if prefix == "" {
		prefix = DefaultRedisKeyPrefix
	}
	return &RedisReplayCache{client: client, prefix: prefix, marker: prefix + RedisEpochKey, now: time.Now}
}

// WithClock sets the clock that dates a new epoch (default time.Now) and
// returns c.
func (c *RedisReplayCache) WithClock(now func() time.Time) *RedisReplayCache {
	c.now = now
	return c
}

// claimScript records a claim and reads the epoch marker after it:
// {1 if the key was set else 0, the marker or nil}.
var claimScript = redis.NewScript(`
local set = redis.call('SET', KEYS[1], '1', 'NX', 'PXAT', ARGV[1])
if set then set = 1 else set = 0 end
return {set, redis.call('GET', KEYS[2])}
`)

// Claim implements ReplayCache.
func (c *RedisReplayCache) Claim(ctx context.Context, key ReplayKey, expiresAt time.Time) error {
	_, err := c.ClaimEpoch(ctx, key, expiresAt)
	return err
}

// ClaimEpoch implements EpochReplayCache.
func (c *RedisReplayCache) ClaimEpoch(ctx context.Context, key ReplayKey, expiresAt time.Time) (time.Time, error) {
	// Round up to the next millisecond so the key never expires early.
	ms := expiresAt.UnixMilli()
	if expiresAt.Sub(time.UnixMilli(ms)) > 0 {
		ms++
	}
	res, err := claimScript.Run(ctx, c.client, []string{c.prefix + key.String(), c.marker}, ms).Slice()
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %w", ErrReplayStore, err)
	}
	if len(res) != 2 {
		return time.Time{}, fmt.Errorf("%w: unexpected claim reply %v", ErrReplayStore, res)
	}
	if set, _ := res[0].(int64); set != 1 {
		err = ErrReplayed
	}
	get := redis.NewStringCmd(ctx)
	switch m := res[1].(type) {
	case nil:
		get.SetErr(redis.Nil)
	case string:
		get.SetVal(m)
	default:
		return time.Time{}, fmt.Errorf("%w: unexpected epoch reply %v", ErrReplayStore, m)
	}
	epoch, gerr := c.epoch(ctx, get)
	if gerr != nil {
		return time.Time{}, gerr
	}
	return epoch, err
}

// Epoch returns the current epoch, starting one when the marker is
// missing (a service calls it at start-up, so that its first clients
// find the epoch already begun).
func (c *RedisReplayCache) Epoch(ctx context.Context) (time.Time, error) {
	return c.epoch(ctx, c.client.Get(ctx, c.marker))
}

// epoch parses the marker read by get; when it is missing, it sets it to
// now unless another verifier did first, and reads it again.
func (c *RedisReplayCache) epoch(ctx context.Context, get *redis.StringCmd) (time.Time, error) {
	v, err := get.Result()
	if errors.Is(err, redis.Nil) {
		now := strconv.FormatInt(c.now().UnixMilli(), 10)
		if err := c.client.SetNX(ctx, c.marker, now, 0).Err(); err != nil {
			return time.Time{}, fmt.Errorf("%w: start epoch: %w", ErrReplayStore, err)
		}
		v, err = c.client.Get(ctx, c.marker).Result()
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: read epoch: %w", ErrReplayStore, err)
	}
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil || ms <= 0 {
		return time.Time{}, fmt.Errorf("%w: epoch marker %s holds %.40q, not Unix milliseconds", ErrReplayStore, c.marker, v)
	}
	return time.UnixMilli(ms), nil
}
