package app

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/stellaops/authgate/pkg/dpop"
	"github.com/stellaops/authgate/services/registry-token/internal/config"
)

// Redis client limits. A replay claim is one round trip on the request
// path; while Redis is down every request is refused (fail closed), and
// the refusal should come at once rather than after go-redis's default
// retries (3, with backoff), dial retries (5, 100 ms apart) and 5 s
// timeouts. A redisUrl query parameter (dial_timeout, read_timeout,
// write_timeout, pool_timeout, max_retries) overrides these.
const (
	redisDialTimeout  = 200 * time.Millisecond
	redisReadTimeout  = 200 * time.Millisecond
	redisWriteTimeout = 200 * time.Millisecond
	redisPoolTimeout  = 200 * time.Millisecond
	// redisNoRetries is go-redis's "no retries" (0 means its default, 3).
	redisNoRetries = -1
)

// redisOptions parses authority.replayCache.redisUrl and applies the
// limits above where the URL sets none.
func redisOptions(raw string) (*redis.Options, error) {
	opts, err := redis.ParseURL(raw)
	if err != nil {
		return nil, fmt.Errorf("authority.replayCache.redisUrl: %s", config.Redact(raw))
	}
	setDefault(&opts.DialTimeout, redisDialTimeout)
	setDefault(&opts.ReadTimeout, redisReadTimeout)
	setDefault(&opts.WriteTimeout, redisWriteTimeout)
	setDefault(&opts.PoolTimeout, redisPoolTimeout)
	if opts.MaxRetries == 0 {
		opts.MaxRetries = redisNoRetries
	}
	// One dial attempt per command: a refused connection is an answer.
	opts.DialerRetries = 1
	return opts, nil
}

//nolint:unparam // the four Redis timeouts are separate settings that happen to share a value
func setDefault(d *time.Duration, v time.Duration) {
	if *d == 0 {
		*d = v
	}
}

// newReplayCache returns the configured replay cache and its closer. Any
// error of the store makes the verifier refuse the proof (fail closed).
func newReplayCache(ctx context.Context, rc config.ReplayCache, now func() time.Time) (dpop.ReplayCache, func(), error) {
	if rc.Backend == config.ReplayBackendRedis {
		opts, err := redisOptions(rc.RedisURL)
		if err != nil {
			return nil, nil, err
		}
		client := redis.NewClient(opts)
		return dpop.NewRedisReplayCache(client, "registry-token:dpop:"), func() { _ = client.Close() }, nil
	}
	c := dpop.NewMemoryReplayCache(ctx, dpop.MemoryOptions{MaxEntries: rc.MaxEntries, Now: now})
	return c, func() { _ = c.Close() }, nil
}
