package replaystore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/metric"

	"github.com/stellaops/authgate/pkg/dpop"
)

// checkInterval is how often a Redis store is checked for readiness.
const checkInterval = time.Second

// Deps is what Open needs besides the Config.
type Deps struct {
	// KeyPrefix keeps the service's keys apart in a shared Redis.
	KeyPrefix string
	// Memory configures the memory backend (MaxEntries and Now are set
	// from the Config and Deps.Now).
	Memory dpop.MemoryOptions
	// Meter gets the gauge MetricUp (1 while the store answers, else 0).
	Meter    metric.Meter
	MetricUp string
	Now      func() time.Time
}

// Store is the opened replay cache.
type Store struct {
	// Cache is what the DPoP verifier claims proofs in.
	Cache dpop.EpochReplayCache
	// Epoch is the cache's epoch at start (zero when Redis could not be
	// asked: EpochErr says why).
	Epoch    time.Time
	EpochErr error

	redis  *dpop.RedisReplayCache // nil for memory
	client redis.UniversalClient
	memory *dpop.MemoryReplayCache
	up     atomic.Bool
	stop   context.CancelFunc
	wg     sync.WaitGroup
}

// Open opens the store of cfg (validated) and, for Redis, checks it every
// second until Close, for Ready and the MetricUp gauge. A Redis that is
// unreachable at start is no error: the store is then not ready, and
// claims fail (closed) until it answers.
func Open(ctx context.Context, cfg Config, deps Deps) (*Store, error) {
	if deps.Now == nil {
		deps.Now = time.Now
	}
	s := &Store{}
	if !cfg.IsRedis() {
		deps.Memory.Now, deps.Memory.MaxEntries = deps.Now, cfg.MaxEntries
		s.memory = dpop.NewMemoryReplayCache(ctx, deps.Memory)
		s.Cache, s.Epoch = s.memory, s.memory.Epoch()
		s.up.Store(true)
	} else {
		client, err := cfg.client()
		if err != nil {
			return nil, err
		}
		s.client = client
		s.redis = dpop.NewRedisReplayCache(client, deps.KeyPrefix).WithClock(deps.Now)
		if cfg.Backend != BackendRedis {
			s.redis.WithFailoverWait(cfg.FailoverWait)
		}
		s.Cache = s.redis
		s.Epoch, s.EpochErr = s.redis.Epoch(ctx)
		s.up.Store(s.EpochErr == nil)
		cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		s.stop = cancel
		s.wg.Go(func() { s.watch(cctx) })
	}
	if deps.Meter != nil && deps.MetricUp != "" {
		if _, err := deps.Meter.Int64ObservableGauge(deps.MetricUp, metric.WithUnit("1"),
			metric.WithDescription("1 while the DPoP replay store answers (always for memory), 0 while it does not: tokens are refused with 503."),
			metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
				v := int64(0)
				if s.up.Load() {
					v = 1
				}
				o.Observe(v)
				return nil
			})); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// ReadyAt is the first whole second at which a fresh proof (iat = now)
// passes the epoch check without a nonce: the epoch plus skew, rounded up
// (proofs carry iat in whole seconds). Zero when the epoch is unknown. A
// service stays unready until then, so that a new replica costs no
// client a retry.
func (s *Store) ReadyAt(skew time.Duration) time.Time {
	if s.Epoch.IsZero() {
		return time.Time{}
	}
	t := s.Epoch.Add(skew)
	if r := t.Truncate(time.Second); !r.Equal(t) {
		return r.Add(time.Second)
	}
	return t
}

// Ready reports whether the store answered its latest check.
func (s *Store) Ready() bool { return s.up.Load() }

// Close stops the checks and releases the store.
func (s *Store) Close() {
	if s.stop != nil {
		s.stop()
		s.wg.Wait()
	}
	if s.client != nil {
		_ = s.client.Close()
	}
	if s.memory != nil {
		_ = s.memory.Close()
	}
}

func (s *Store) watch(ctx context.Context) {
	t := time.NewTicker(checkInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cctx, cancel := context.WithTimeout(ctx, checkInterval)
		err := s.redis.Check(cctx)
		cancel()
		s.up.Store(err == nil)
	}
}

// client builds the go-redis client of a Redis backend, with the limits
// of dpop.RedisOptions.
func (c Config) client() (redis.UniversalClient, error) {
	tlsCfg, err := c.tlsConfig()
	if err != nil {
		return nil, err
	}
	var user, pass, sentinelPass string
	if c.UsernameFile != "" {
		if user, err = readSecret(c.UsernameFile); err != nil {
			return nil, fmt.Errorf("usernameFile: %w", err)
		}
	}
	if c.PasswordFile != "" {
		if pass, err = readSecret(c.PasswordFile); err != nil {
			return nil, fmt.Errorf("passwordFile: %w", err)
		}
	}
	if c.Sentinel.PasswordFile != "" {
		if sentinelPass, err = readSecret(c.Sentinel.PasswordFile); err != nil {
			return nil, fmt.Errorf("sentinel.passwordFile: %w", err)
		}
	}
	// The limits of a single-server client, carried over.
	lim, err := dpop.RedisOptions("redis://localhost")
	if err != nil {
		return nil, err
	}
	switch c.Backend {
	case BackendRedis:
		o, err := dpop.RedisOptions(c.RedisURL)
		if err != nil {
			return nil, errors.New("redisUrl: not a redis:// or rediss:// URL")
		}
		if user != "" {
			o.Username = user
		}
		if pass != "" {
			o.Password = pass
		}
		if o.TLSConfig != nil && tlsCfg != nil {
			o.TLSConfig.RootCAs = tlsCfg.RootCAs
			if tlsCfg.ServerName != "" {
				o.TLSConfig.ServerName = tlsCfg.ServerName
			}
		}
		return redis.NewClient(o), nil
	case BackendRedisSentinel:
		return redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName: c.Sentinel.MasterName, SentinelAddrs: c.Sentinel.Addrs, SentinelPassword: sentinelPass,
			Username: user, Password: pass, TLSConfig: tlsCfg,
			DialTimeout: lim.DialTimeout, ReadTimeout: lim.ReadTimeout, WriteTimeout: lim.WriteTimeout,
			PoolTimeout: lim.PoolTimeout, PoolSize: lim.PoolSize, MaxRetries: lim.MaxRetries,
		}), nil
	case BackendRedisCluster:
		return redis.NewClusterClient(&redis.ClusterOptions{
			Addrs: c.Cluster.Addrs, Username: user, Password: pass, TLSConfig: tlsCfg,
			DialTimeout: lim.DialTimeout, ReadTimeout: lim.ReadTimeout, WriteTimeout: lim.WriteTimeout,
			PoolTimeout: lim.PoolTimeout, PoolSize: lim.PoolSize, MaxRetries: lim.MaxRetries,
		}), nil
	}
	return nil, fmt.Errorf("backend %q is not a Redis backend", c.Backend)
}
