package dpop

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultRedisKeyPrefix prefixes the keys RedisReplayCache writes.
const DefaultRedisKeyPrefix = "dpop:jti:"

// RedisReplayCache is a ReplayCache shared by replicas through Redis. A
// claim is one atomic command, SET key 1 NX PXAT <expiresAt in ms>, so
// Redis keeps each entry until the proof's own expiry and drops it after.
// Any error from Redis (unreachable, timeout, error reply) is returned
// wrapped in ErrReplayStore, and the Verifier rejects the proof: a replay
// check that cannot be made never accepts.
//
// Redis expires keys by its own clock: keep it in sync with the
// verifiers' clocks (NTP), as with any shared expiry.
type RedisReplayCache struct {
	client redis.UniversalClient
	prefix string
}

// NewRedisReplayCache returns a RedisReplayCache using client (for example
// redis.NewClient(opts) with opts from redis.ParseURL). An empty prefix
// means DefaultRedisKeyPrefix. The caller owns and closes client; bound
// the time a claim may take with the client's timeouts or the context.
func NewRedisReplayCache(client redis.UniversalClient, prefix string) *RedisReplayCache {
	if prefix == "" {
		prefix = DefaultRedisKeyPrefix
	}
	return &RedisReplayCache{client: client, prefix: prefix}
}

// Claim implements ReplayCache.
func (c *RedisReplayCache) Claim(ctx context.Context, key ReplayKey, expiresAt time.Time) error {
	// Round up to the next millisecond so the key never expires early.
	ms := expiresAt.UnixMilli()
	if expiresAt.Sub(time.UnixMilli(ms)) > 0 {
		ms++
	}
	res, err := c.client.Do(ctx, "SET", c.prefix+key.String(), "1", "NX", "PXAT", ms).Text()
	switch {
	case errors.Is(err, redis.Nil):
		return ErrReplayed
	case err != nil:
		return fmt.Errorf("%w: %w", ErrReplayStore, err)
	case res != "OK":
		return fmt.Errorf("%w: unexpected reply %q to SET", ErrReplayStore, res)
	}
	return nil
}
