package dpop

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stellaops/authgate/pkg/testkit/redistest"
)

// newRedisClient returns a client that gives up quickly, so that tests of
// a stopped server do not wait for long retries.
func newRedisClient(t testing.TB, srv *redistest.Server) *redis.Client {
	opts, err := redis.ParseURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	opts.DialTimeout = 500 * time.Millisecond
	opts.ReadTimeout = 500 * time.Millisecond
	opts.WriteTimeout = 500 * time.Millisecond
	opts.MaxRetries = -1
	opts.DialerRetries = 1
	client := redis.NewClient(opts)
	t.Cleanup(func() { _ = client.Close() })
	return client
}

func TestRedisReplayCacheConformance(t *testing.T) {
	srv := redistest.Start(t)
	client := newRedisClient(t, srv)
	n := 0
	testReplayCache(t, func(t *testing.T) ReplayCache {
		n++ // a fresh key space per subtest
		return NewRedisReplayCache(client, "test"+string(rune('a'+n))+":")
	})
}

func TestRedisReplayCacheVerifier(t *testing.T) {
	srv := redistest.Start(t)
	client := newRedisClient(t, srv)
	testVerifierReplay(t, func(t *testing.T, _ func() time.Time) ReplayCache {
		if err := client.FlushAll(context.Background()).Err(); err != nil {
			t.Fatal(err)
		}
		return NewRedisReplayCache(client, "")
	})
}

func TestRedisReplayCacheExpiryFromIAT(t *testing.T) {
	srv := redistest.Start(t)
	client := newRedisClient(t, srv)
	base := time.Now().Truncate(time.Second)
	iat := base.Add(3 * time.Second) // future-dated within the skew
	v, err := NewVerifier(Config{PublicBaseURL: testBaseURL, Replay: NewRedisReplayCache(client, ""), Now: func() time.Time { return base }})
	if err != nil {
		t.Fatal(err)
	}
	proof := makeProof(t, func(p *proofSpec) { p.claims["iat"] = iat.Unix() })
	p, err := v.Verify(context.Background(), request(proof))
	if err != nil {
		t.Fatal(err)
	}
	key := DefaultRedisKeyPrefix + NewReplayKey(p.JKT, p.HTM, p.HTU, p.JTI).String()
	got, err := client.Do(context.Background(), "PEXPIRETIME", key).Int64()
	if err != nil {
		t.Fatal(err)
	}
	if want := iat.Add(DefaultMaxAge + DefaultClockSkew).UnixMilli(); got != want {
		t.Fatalf("PEXPIRETIME = %d, want iat+maxAge+skew = %d", got, want)
	}
}

func TestRedisStoppedFailsClosed(t *testing.T) {
	srv := redistest.Start(t)
	client := newRedisClient(t, srv)
	v, err := NewVerifier(Config{PublicBaseURL: testBaseURL, Replay: NewRedisReplayCache(client, ""), Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := v.Verify(ctx, request(makeProof(t, nil))); err != nil {
		t.Fatalf("with Redis up: %v", err)
	}

	srv.Stop()
	for i := range 3 {
		p, err := v.Verify(ctx, request(makeProof(t, nil)))
		if err == nil {
			t.Fatalf("attempt %d: proof accepted while Redis is down: %+v", i, p)
		}
		if !errors.Is(err, ErrTemporarilyUnavailable) || !errors.Is(err, ErrReplayStore) {
			t.Fatalf("attempt %d: %v, want ErrTemporarilyUnavailable wrapping ErrReplayStore", i, err)
		}
	}

	srv.Restart()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := v.Verify(ctx, request(makeProof(t, nil)))
		if err == nil {
			break
		}
		if !errors.Is(err, ErrReplayStore) || time.Now().After(deadline) {
			t.Fatalf("after restart: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
