package app

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stellaops/authgate/pkg/dpop"
	"github.com/stellaops/authgate/services/registry-token/internal/config"
)

func TestRedisOptions(t *testing.T) {
	for _, tc := range []struct {
		name, url               string
		dial, read, write, pool time.Duration
		retries                 int
	}{
		{name: "defaults", url: "redis://127.0.0.1:6379/0",
			dial: dpop.RedisDialTimeout, read: dpop.RedisReadTimeout, write: dpop.RedisWriteTimeout, pool: dpop.RedisPoolTimeout, retries: -1},
		{name: "the URL overrides", url: "redis://127.0.0.1:6379/0?dial_timeout=1s&read_timeout=2s&write_timeout=3s&pool_timeout=4s&max_retries=2",
			dial: time.Second, read: 2 * time.Second, write: 3 * time.Second, pool: 4 * time.Second, retries: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := dpop.RedisOptions(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			if o.DialTimeout != tc.dial || o.ReadTimeout != tc.read || o.WriteTimeout != tc.write || o.PoolTimeout != tc.pool || o.MaxRetries != tc.retries {
				t.Fatalf("dial %s read %s write %s pool %s retries %d", o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolTimeout, o.MaxRetries)
			}
			if o.DialerRetries != 1 {
				t.Fatalf("dialer retries %d, want 1", o.DialerRetries)
			}
		})
	}
	if _, err := dpop.RedisOptions("http://[::1"); err == nil {
		t.Fatal("bad URL accepted")
	}
}

// A Redis that drops every connection: the claim fails closed with
// ErrReplayStore after one attempt, not after go-redis's retries.
func TestRedisReplayClaimFailsOnceAndClosed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			_ = c.Close()
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a := config.Defaults().Authority
	a.ReplayCache = config.ReplayCache{Backend: config.ReplayBackendRedis, RedisURL: "redis://" + ln.Addr().String() + "/0"}
	st, err := newReplayCache(ctx, a, nil, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if !st.readyAt.IsZero() {
		t.Fatalf("readyAt %v with Redis unreachable at start, want none", st.readyAt)
	}
	before := conns.Load() // the epoch read at start
	err = st.Cache.Claim(ctx, dpop.NewReplayKey("jkt", "GET", "https://x/token", "jti-1"), time.Now().Add(time.Minute))
	if !errors.Is(err, dpop.ErrReplayStore) {
		t.Fatalf("claim error %v, want ErrReplayStore", err)
	}
	if n := conns.Load() - before; n != 1 {
		t.Fatalf("%d connections for one claim, want 1 (no retries)", n)
	}
}

// authority.replayCache.maxEntries reaches the memory cache.
func TestMemoryReplayCacheMaxEntries(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a := config.Defaults().Authority
	a.ReplayCache = config.ReplayCache{Backend: config.ReplayBackendMemory, MaxEntries: 2}
	st, err := newReplayCache(ctx, a, nil, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rc := st.Cache
	exp := time.Now().Add(time.Minute)
	for i, want := range []error{nil, nil, dpop.ErrReplayCacheFull} {
		err := rc.Claim(ctx, dpop.NewReplayKey("jkt", "GET", "https://x/token", string(rune('a'+i))), exp)
		if !errors.Is(err, want) {
			t.Fatalf("claim %d: %v, want %v", i, err, want)
		}
	}
}
