package dpop

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stellaops/authgate/pkg/testkit/redistest"
)

// epochStore is one replay backend for testReplayEpoch: the cache to
// verify with, and a way to lose its entries (a restart) that returns the
// cache to use afterwards.
type epochStore struct {
	cache   EpochReplayCache
	restart func(t *testing.T) EpochReplayCache
}

// testReplayEpoch is the restart scenario, run on both backends: a proof
// is used, the store loses its entries, and the same proof is replayed.
// The clock is fake but starts at the real time, because Redis expires
// keys by its own clock.
func testReplayEpoch(t *testing.T, newStore func(t *testing.T, now func() time.Time) epochStore) {
	ctx := context.Background()
	base := time.Now().Truncate(time.Second)
	ck := newClock(base)
	st := newStore(t, ck.Now)
	newVerifier := func(c EpochReplayCache) *Verifier {
		v, err := NewVerifier(Config{PublicBaseURL: testBaseURL, Replay: c, ReplayEpoch: true, Now: ck.Now})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	proofNow := func() string {
		return makeProof(t, func(p *proofSpec) { p.claims["iat"] = ck.Now().Unix() })
	}
	beforeEpoch := func(err error) bool {
		return errors.Is(err, ErrInvalidDPoPProof) && errors.Is(err, ErrProofBeforeEpoch)
	}
	v := newVerifier(st.cache)

	// Right after the epoch starts, a proof dated before epoch+skew is
	// refused, even a fresh one: the cache cannot know it.
	if _, err := v.Verify(ctx, request(proofNow())); !beforeEpoch(err) {
		t.Fatalf("fresh proof at the epoch: %v, want ErrProofBeforeEpoch", err)
	}
	ck.Advance(DefaultClockSkew - time.Second)
	if _, err := v.Verify(ctx, request(proofNow())); !beforeEpoch(err) {
		t.Fatalf("proof dated one second before epoch+skew: %v, want ErrProofBeforeEpoch", err)
	}
	ck.Advance(time.Second)
	captured := proofNow() // dated exactly epoch+skew: accepted
	if _, err := v.Verify(ctx, request(captured)); err != nil {
		t.Fatalf("first use: %v", err)
	}
	if _, err := v.Verify(ctx, request(captured)); !errors.Is(err, ErrReplayed) {
		t.Fatalf("replay before the restart: %v, want ErrReplayed", err)
	}

	ck.Advance(2 * time.Second)
	v = newVerifier(st.restart(t))
	for i := range 2 {
		_, err := v.Verify(ctx, request(captured))
		if !beforeEpoch(err) {
			t.Fatalf("replay %d after the restart: %v, want ErrProofBeforeEpoch", i, err)
		}
		var e *Error
		if !errors.As(err, &e) || e.Status != 401 || e.Code != "invalid_dpop_proof" {
			t.Fatalf("replay %d after the restart: %#v, want a 401 invalid_dpop_proof", i, err)
		}
	}
	// A client signs a new proof; it passes once the new epoch is
	// ClockSkew old.
	if _, err := v.Verify(ctx, request(proofNow())); !beforeEpoch(err) {
		t.Fatalf("fresh proof right after the restart: %v, want ErrProofBeforeEpoch", err)
	}
	ck.Advance(DefaultClockSkew)
	fresh := proofNow()
	if _, err := v.Verify(ctx, request(fresh)); err != nil {
		t.Fatalf("new proof after the start-up window: %v", err)
	}
	if _, err := v.Verify(ctx, request(fresh)); !errors.Is(err, ErrReplayed) || beforeEpoch(err) {
		t.Fatalf("replay of the new proof: %v, want ErrReplayed", err)
	}
	if _, err := v.Verify(ctx, request(captured)); !beforeEpoch(err) {
		t.Fatalf("captured proof at the end: %v, want ErrProofBeforeEpoch", err)
	}
}

func TestMemoryReplayEpoch(t *testing.T) {
	testReplayEpoch(t, func(t *testing.T, now func() time.Time) epochStore {
		start := func(t *testing.T) EpochReplayCache {
			c := NewMemoryReplayCache(context.Background(), MemoryOptions{Now: now})
			t.Cleanup(func() { _ = c.Close() })
			if !c.Epoch().Equal(now()) {
				t.Fatalf("epoch %v, want the start %v", c.Epoch(), now())
			}
			return c
		}
		return epochStore{cache: start(t), restart: start}
	})
}

func TestRedisReplayEpoch(t *testing.T) {
	for _, loss := range []string{"restart", "FLUSHALL", "marker deleted"} {
		t.Run(loss, func(t *testing.T) {
			srv := redistest.Start(t)
			client := newRedisClient(t, srv)
			testReplayEpoch(t, func(t *testing.T, now func() time.Time) epochStore {
				c := NewRedisReplayCache(client, "").WithClock(now)
				if _, err := c.Epoch(context.Background()); err != nil { // begins the epoch, as a service does at start
					t.Fatal(err)
				}
				return epochStore{cache: c, restart: func(t *testing.T) EpochReplayCache {
					switch loss {
					case "restart":
						srv.Restart()
						waitRedis(t, c)
					case "FLUSHALL":
						if err := client.FlushAll(context.Background()).Err(); err != nil {
							t.Fatal(err)
						}
					default:
						if err := client.Del(context.Background(), DefaultRedisKeyPrefix+RedisEpochKey).Err(); err != nil {
							t.Fatal(err)
						}
					}
					return c
				}}
			})
		})
	}
}

// waitRedis polls until a restarted Redis answers through the client's
// pool (connections to the old process fail once each).
func waitRedis(t *testing.T, c *RedisReplayCache) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := c.client.Ping(context.Background()).Err()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis not back: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRedisEpochMarkerGarbageFailsClosed(t *testing.T) {
	srv := redistest.Start(t)
	client := newRedisClient(t, srv)
	ctx := context.Background()
	c := NewRedisReplayCache(client, "")
	for _, v := range []string{"yesterday", "-5", "0", "1e12"} {
		if err := client.Set(ctx, DefaultRedisKeyPrefix+RedisEpochKey, v, 0).Err(); err != nil {
			t.Fatal(err)
		}
		var k ReplayKey
		k[0] = v[0]
		_, err := c.ClaimEpoch(ctx, k, time.Now().Add(time.Minute))
		if !errors.Is(err, ErrReplayStore) {
			t.Fatalf("marker %q: %v, want ErrReplayStore", v, err)
		}
	}
}

func TestReplayEpochNeedsEpochCache(t *testing.T) {
	_, err := NewVerifier(Config{PublicBaseURL: testBaseURL, Replay: plainCache{}, ReplayEpoch: true})
	if err == nil {
		t.Fatal("ReplayEpoch accepted with a cache that keeps no epoch")
	}
	if _, err := NewVerifier(Config{PublicBaseURL: testBaseURL, Replay: plainCache{}}); err != nil {
		t.Fatalf("a plain ReplayCache without ReplayEpoch: %v", err)
	}
}

// TestMemoryEpochOff: without Config.ReplayEpoch a fresh proof is
// accepted at once (the behaviour for verifiers that do not opt in).
func TestMemoryEpochOff(t *testing.T) {
	ck := newClock(testNow)
	c := NewMemoryReplayCache(context.Background(), MemoryOptions{Now: ck.Now})
	t.Cleanup(func() { _ = c.Close() })
	v, err := NewVerifier(Config{PublicBaseURL: testBaseURL, Replay: c, Now: ck.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), request(makeProof(t, nil))); err != nil {
		t.Fatal(err)
	}
}

type plainCache struct{}

func (plainCache) Claim(context.Context, ReplayKey, time.Time) error { return nil }
