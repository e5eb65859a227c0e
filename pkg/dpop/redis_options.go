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
// apart) and 5 s timeouts: a refused connection is answered at once, a
// dial that hangs after RedisDialTimeout. A Redis that accepted the
// command gets RedisReadTimeout to answer, and a request waits at most
// RedisPoolTimeout for a connection of the pool (RedisPoolSize, more than
// the requests one replica serves at once): under full load on a busy
// host an answer or a free connection can take more than 200 ms, and a
// refusal then would be an error of the service, not of Redis. A URL
// query parameter (dial_timeout, read_timeout, write_timeout,
// pool_timeout, pool_size, max_retries) overrides these.
const (
	RedisDialTimeout  = 200 * time.Millisecond
	RedisReadTimeout  = time.Second
	RedisWriteTimeout = time.Second
	RedisPoolTimeout  = time.Second
	RedisPoolSize     = 64
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
	if opts.PoolSize == 0 {
		opts.PoolSize = RedisPoolSize
	}
	if opts.MaxRetries == 0 {
		opts.MaxRetries = redisNoRetries
	}
	// One dial attempt per command: a refused connection is an answer.
	opts.DialerRetries = 1
	return opts, nil
}
