package app

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/stellaops/authgate/pkg/dpop"
	"github.com/stellaops/authgate/services/registry-token/internal/config"
)

// redisOptions parses authority.replayCache.redisUrl (see
// dpop.RedisOptions for the client limits).
func redisOptions(raw string) (*redis.Options, error) {
	opts, err := dpop.RedisOptions(raw)
	if err != nil {
		return nil, fmt.Errorf("authority.replayCache.redisUrl: %s", config.Redact(raw))
	}
	return opts, nil
}

// replayStore is the configured replay cache with what the service
// needs around it.
type replayStore struct {
	cache dpop.ReplayCache
	close func()
	// readyAt is the first whole second at which a fresh proof (iat =
	// now) passes the epoch check: the epoch plus dpop.clockSkew, rounded
	// up. The service does not report ready before it.
	readyAt time.Time
	// logFields describe the store in the start-up log.
	logFields []zap.Field
}

// newReplayCache returns the configured replay cache and its closer. Any
// error of the store makes the verifier refuse the proof (fail closed).
// For Redis it begins the epoch now if the marker is missing (a new or
// emptied Redis), so that the start-up window is passed before the
// service reports ready; a Redis that cannot be reached at start is
// logged by the caller and leaves readiness to the other checks.
func newReplayCache(ctx context.Context, a config.Authority, now func() time.Time) (*replayStore, error) {
	rc := a.ReplayCache
	if rc.Backend == config.ReplayBackendRedis {
		opts, err := redisOptions(rc.RedisURL)
		if err != nil {
			return nil, err
		}
		client := redis.NewClient(opts)
		c := dpop.NewRedisReplayCache(client, redisKeyPrefix).WithClock(now)
		st := &replayStore{cache: c, close: func() { _ = client.Close() }}
		epoch, err := c.Epoch(ctx)
		if err != nil {
			st.logFields = append(st.logFields, zap.NamedError("epoch_error", err))
			return st, nil
		}
		st.readyAt = readyAfter(epoch, a.DPoP.ClockSkew)
		st.logFields = append(st.logFields, zap.Time("replay_epoch", epoch), zap.String("epoch_key", redisKeyPrefix+dpop.RedisEpochKey))
		return st, nil
	}
	c := dpop.NewMemoryReplayCache(ctx, dpop.MemoryOptions{
		MaxEntries: rc.MaxEntries,
		Window:     a.DPoP.MaxAge + 2*a.DPoP.ClockSkew,
		Now:        now,
	})
	return &replayStore{
		cache:   c,
		close:   func() { _ = c.Close() },
		readyAt: readyAfter(c.Epoch(), a.DPoP.ClockSkew),
		logFields: []zap.Field{
			zap.Int("max_proofs_per_second", c.ProofsPerSecond(a.DPoP.MaxAge+a.DPoP.ClockSkew)),
			zap.Int("max_entries", rc.MaxEntries),
			zap.Time("replay_epoch", c.Epoch()),
		},
	}, nil
}

// redisKeyPrefix prefixes registry-token's keys in a shared Redis.
const redisKeyPrefix = "registry-token:dpop:"

// readyAfter is epoch + skew rounded up to a whole second: proofs carry
// iat in whole seconds, so the first fresh proof that passes is dated then.
func readyAfter(epoch time.Time, skew time.Duration) time.Time {
	t := epoch.Add(skew)
	if r := t.Truncate(time.Second); !r.Equal(t) {
		return r.Add(time.Second)
	}
	return t
}
