package dpop

import (
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis client limits for a replay cache. A replay claim is one round trip
// on the request path; while Redis is down every request is refused (fail
// closed), and the refusal should come at once rather than after
// go-redis's default retries (3, with backoff), dial retries (5, 100 ms
// apart) and 5 s timeouts. A URL query parameter (dial_timeout,
// read_timeout, write_timeout, pool_timeout, max_retries) overrides these.
const (
	RedisDialTimeout  = 200 * time.Millisecond
	RedisReadTimeout  = 200 * time.Millisecond
	RedisWriteTimeout = 200 * time.Millisecond
	RedisPoolTimeout  = 200 * time.Millisecond
	// redisNoRetries is go-redis's "no retries" (0 means its default, 3).
	redisNoRetries = -1
)

// RedisOptions parses a redis:// or rediss:// URL for a replay cache and
// applies the limits above where the URL sets none. The error never
// repeats the URL (it may hold a password).
func RedisOptions(raw string) (*redis.Options, error) {
	opts, err := redis.ParseURL(raw)
	if err != nil {
		return nil, errors.New("not a redis:// or rediss:// URL")
	}
	for _, d := range []struct {
		field *time.Duration
		def   time.Duration
	}{
		{&opts.DialTimeout, RedisDialTimeout}, {&opts.ReadTimeout, RedisReadTimeout},
		{&opts.WriteTimeout, RedisWriteTimeout}, {&opts.PoolTimeout, RedisPoolTimeout},
	} {
		if *d.field == 0 {
			*d.field = d.def
		}
	}
	if opts.MaxRetries == 0 {
		opts.MaxRetries = redisNoRetries
	}
	// One dial attempt per command: a refused connection is an answer.
	opts.DialerRetries = 1
	return opts, nil
}
