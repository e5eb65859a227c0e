package faults

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/stellaops/authgate/pkg/testkit/proctest"
	"github.com/stellaops/authgate/pkg/testkit/redistest"
)

// TestReplayAfterRestart: proofs used before the replay store lost its
// entries are replayed after, for the memory cache (registry-token
// restarted) and for Redis (restarted, or FLUSHALL). Every replay is
// refused (401 use_dpop_nonce, reason proof_before_replay_epoch), while a
// client on pkg/dpop.Transport, which retries once with the nonce, sees
// no failed request (a restarted Redis is redialled first: that case
// waits for it).
func TestReplayAfterRestart(t *testing.T) {
	auth := startAuthority(t)
	ctx := context.Background()

	// use gets tokens through the Transport, all of which must succeed.
	use := func(t *testing.T, c *dpopClient, n int) {
		t.Helper()
		for i := range n {
			if an := c.get(ctx); an.Err != nil || an.Status != http.StatusOK || an.Token == "" {
				t.Fatalf("request %d: %d %s %v %.200s", i, an.Status, an.Reason, an.Err, an.Body)
			}
		}
	}
	before := func(t *testing.T, p *proctest.Proc) float64 {
		return rejected(t, p)["proof_before_replay_epoch"]
	}
	// check replays what was accepted before the loss, then uses the
	// client again.
	check := func(t *testing.T, p *proctest.Proc, c *dpopClient, lost time.Time) {
		t.Helper()
		captured := c.acceptedBetween(time.Time{}, lost)
		if len(captured) < 3 {
			t.Fatalf("%d proofs accepted before the loss", len(captured))
		}
		n0 := before(t, p)
		use(t, c, 3) // the first one after the loss is retried once with a nonce
		if bad := c.replay(ctx, captured); len(bad) > 0 {
			t.Fatalf("replays after the loss got through: %v", bad)
		}
		use(t, c, 3)
		if bad := c.replay(ctx, captured); len(bad) > 0 {
			t.Fatalf("replays at the end got through: %v", bad)
		}
		if got := before(t, p) - n0; got < float64(2*len(captured)) {
			t.Errorf("registry_token_rejected_total{reason=proof_before_replay_epoch} grew by %v, want at least %d", got, 2*len(captured))
		}
	}

	t.Run("memory, registry-token restarted", func(t *testing.T) {
		p := startRegistryToken(t, "registry-token-memory", writeConfig(t, t.TempDir(), auth, rtConfig{}), sharedPublicURL, "")
		c := newDPoPClient(t, auth, p.Addr)
		use(t, c, 3)
		lost := time.Now()
		p.Restart(t)
		check(t, p, c, lost)
	})

	for _, loss := range []string{"restart", "FLUSHALL"} {
		t.Run("redis "+loss, func(t *testing.T) {
			rd := redistest.Start(t)
			p := startRegistryToken(t, "registry-token-redis", writeConfig(t, t.TempDir(), auth, rtConfig{RedisURL: rd.URL()}), sharedPublicURL, "")
			c := newDPoPClient(t, auth, p.Addr)
			use(t, c, 3)
			lost := time.Now()
			if loss == "restart" {
				rd.Restart()
				// Connections to the old process fail once each: 503
				// replay_store_unavailable until the pool is redialled.
				waitFor(t, 10*time.Second, "registry-token redialled Redis", func() bool {
					an := c.get(ctx)
					if an.Status != http.StatusOK && an.Reason != "replay_store_unavailable" {
						t.Fatalf("after the Redis restart: %d %s %v %.200s", an.Status, an.Reason, an.Err, an.Body)
					}
					return an.Status == http.StatusOK
				})
			} else {
				opts, _ := redis.ParseURL(rd.URL())
				rc := redis.NewClient(opts)
				if err := rc.FlushAll(ctx).Err(); err != nil {
					t.Fatal(err)
				}
				_ = rc.Close()
			}
			check(t, p, c, lost)
		})
	}
}
