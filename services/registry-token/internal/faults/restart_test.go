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

// TestReplayAfterRestart: a proof captured after its first use is
// replayed after the replay store lost its entries, for the memory cache
// (registry-token restarted) and for Redis (restarted, or FLUSHALL). The
// replay is refused, 401 with reason proof_before_replay_epoch; a new
// proof is then accepted.
func TestReplayAfterRestart(t *testing.T) {
	auth := startAuthority(t)
	client := newClient(4)
	defer client.CloseIdleConnections()
	ctx := context.Background()

	// use sends the captured proof for its first use and its replay.
	use := func(t *testing.T, p *proctest.Proc, c *caller, captured string) {
		t.Helper()
		if an := requestToken(ctx, client, p.URL, c, captured); an.Err != nil || an.Status != http.StatusOK || an.Token == "" {
			t.Fatalf("first use: %d %v %.200s", an.Status, an.Err, an.Body)
		}
		if an := requestToken(ctx, client, p.URL, c, captured); an.Status != http.StatusUnauthorized || an.Reason != "proof_replayed" {
			t.Fatalf("replay before the restart: %d %s %.200s", an.Status, an.Reason, an.Body)
		}
	}
	// refused checks that the replay after the restart is refused with
	// its own reason (retrying while a restarted Redis is redialled).
	refused := func(t *testing.T, p *proctest.Proc, c *caller, captured string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			an := requestToken(ctx, client, p.URL, c, captured)
			if an.Reason == "replay_store_unavailable" && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
				continue
			}
			if an.Err != nil || an.Status != http.StatusUnauthorized || an.Code != "invalid_dpop_proof" || an.Reason != "proof_before_replay_epoch" {
				t.Fatalf("replay after the restart: %d %s %s %v %.200s", an.Status, an.Code, an.Reason, an.Err, an.Body)
			}
			return
		}
	}
	before := func(t *testing.T, p *proctest.Proc) float64 {
		return rejected(t, p)["proof_before_replay_epoch"]
	}

	t.Run("memory, registry-token restarted", func(t *testing.T) {
		p := startRegistryToken(t, "registry-token-memory", writeConfig(t, t.TempDir(), auth, rtConfig{}), sharedPublicURL, "")
		c := newCaller(t, auth.Authority, sharedPublicURL+"/token")
		captured := c.proof(t)
		use(t, p, c, captured)
		p.Restart(t) // ready only once fresh proofs pass the epoch check
		refused(t, p, c, captured)
		if an := requestToken(ctx, client, p.URL, c, c.proof(t)); an.Status != http.StatusOK || an.Token == "" {
			t.Fatalf("new proof after the restart (the process is ready): %d %s %.200s", an.Status, an.Reason, an.Body)
		}
		refused(t, p, c, captured)
		if got := before(t, p); got != 2 {
			t.Errorf("registry_token_rejected_total{reason=proof_before_replay_epoch} = %v, want 2", got)
		}
	})

	for _, loss := range []string{"restart", "FLUSHALL"} {
		t.Run("redis "+loss, func(t *testing.T) {
			rd := redistest.Start(t)
			p := startRegistryToken(t, "registry-token-redis", writeConfig(t, t.TempDir(), auth, rtConfig{RedisURL: rd.URL()}), sharedPublicURL, "")
			c := newCaller(t, auth.Authority, sharedPublicURL+"/token")
			captured := c.proof(t)
			use(t, p, c, captured)
			n0 := before(t, p)
			if loss == "restart" {
				rd.Restart()
			} else {
				opts, _ := redis.ParseURL(rd.URL())
				rc := redis.NewClient(opts)
				if err := rc.FlushAll(ctx).Err(); err != nil {
					t.Fatal(err)
				}
				_ = rc.Close()
			}
			refused(t, p, c, captured)
			// New proofs pass once the new epoch is dpop.clockSkew old;
			// until then they are refused with the same reason.
			deadline := time.Now().Add(15 * time.Second)
			for {
				an := requestToken(ctx, client, p.URL, c, c.proof(t))
				if an.Err == nil && an.Status == http.StatusOK && an.Token != "" {
					break
				}
				if an.Reason != "proof_before_replay_epoch" || time.Now().After(deadline) {
					t.Fatalf("new proof after the %s: %d %s %v %.200s", loss, an.Status, an.Reason, an.Err, an.Body)
				}
				time.Sleep(200 * time.Millisecond)
			}
			refused(t, p, c, captured)
			if got := before(t, p) - n0; got < 2 {
				t.Errorf("registry_token_rejected_total{reason=proof_before_replay_epoch} grew by %v, want at least 2", got)
			}
		})
	}
}
