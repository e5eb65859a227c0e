package faults

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stellaops/authgate/pkg/testkit/proctest"
	"github.com/stellaops/authgate/pkg/testkit/redistest"
)

// sharedPublicURL is the one name both replicas serve behind (as behind a
// load balancer), so that one proof is valid at either.
const sharedPublicURL = "http://registry-token.test"

// TestReplicasShareReplayCache is scenario 1: two registry-token
// processes behind one real Redis. The same proof sent to both at once
// yields exactly one token; with Redis stopped under load every request
// is denied with a clear reason and counted; when Redis is back the
// replicas recover without a restart.
func TestReplicasShareReplayCache(t *testing.T) {
	rd := redistest.Start(t)
	auth := startAuthority(t)
	cfg := rtConfig{RedisURL: rd.URL()}
	a := startRegistryToken(t, "registry-token-a", writeConfig(t, t.TempDir(), auth, cfg), sharedPublicURL, "")
	b := startRegistryToken(t, "registry-token-b", writeConfig(t, t.TempDir(), auth, cfg), sharedPublicURL, "")
	replicas := []*proctest.Proc{a, b}
	realm := sharedPublicURL + "/token"
	callers := make([]*caller, 8)
	for i := range callers {
		callers[i] = newCaller(t, auth.Authority, realm)
	}
	client := newClient(32)
	defer client.CloseIdleConnections()
	ctx := context.Background()

	t.Run("same proof at both replicas", func(t *testing.T) {
		fig := proctest.NewFigures("1-same-proof")
		rounds := proctest.Pick(scale, 100, 1000)
		before := rejected(t, a)["proof_replayed"] + rejected(t, b)["proof_replayed"]
		var wg sync.WaitGroup
		for r := range rounds {
			c := callers[r%len(callers)]
			proof := c.proof(t)
			start := make(chan struct{})
			answers := make([]answer, 2)
			for i, p := range replicas {
				wg.Go(func() {
					<-start
					answers[i] = requestToken(ctx, client, p.URL, c, proof)
				})
			}
			close(start)
			wg.Wait()
			ok := 0
			for i, an := range answers {
				fig.Sent()
				switch {
				case an.Err == nil && an.Status == http.StatusOK && an.Token != "":
					ok++
					fig.Allowed()
				case an.Err == nil && an.Status == http.StatusUnauthorized && an.Code == "invalid_dpop_proof":
					fig.Denied()
				default:
					fig.Lost()
					t.Errorf("round %d replica %d: status %d err %v: %.200s", r, i, an.Status, an.Err, an.Body)
				}
			}
			if ok != 1 {
				fig.Lost()
				t.Errorf("round %d: one proof gave %d tokens, want exactly 1", r, ok)
			}
		}
		after := rejected(t, a)["proof_replayed"] + rejected(t, b)["proof_replayed"]
		if after-before != float64(rounds) {
			t.Errorf("registry_token_rejected_total{reason=proof_replayed} grew by %v over both replicas, want %d", after-before, rounds)
		}
		fig.Log(t)
	})

	t.Run("redis stopped under load", func(t *testing.T) {
		fig := proctest.NewFigures("1-redis-down")
		step := proctest.Pick[int64](scale, 600, 6_000)
		var (
			downFrom, downTo atomic.Int64 // unix nanos of the outage window
			stopping         atomic.Int64 // unix nanos when stopping Redis began
			mu               sync.Mutex
			refused          = map[int]float64{} // replica -> 503s
			firstOK          [2]time.Time        // per replica, after Redis is back
			unavailBefore    = []float64{rejected(t, a)["replay_store_unavailable"], rejected(t, b)["replay_store_unavailable"]}
		)
		downFrom.Store(1 << 62)
		stopping.Store(1 << 62)
		downTo.Store(1 << 62)
		// After Redis comes back empty, proofs are refused for clockSkew
		// (5s) plus up to 1s of iat rounding, counted from the new epoch.
		const epochWindow = 8 * time.Second
		var epochRefusals atomic.Int64
		var next atomic.Int64
		ctx, cancel := context.WithTimeout(ctx, proctest.Pick(scale, 2*time.Minute, 10*time.Minute))
		defer cancel()
		// Workers stop between requests, never by cancelling one in
		// flight: a request abandoned mid-claim would be counted by the
		// server but never seen by a client.
		var done atomic.Bool
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Go(func() {
				c := callers[w]
				for ctx.Err() == nil && !done.Load() {
					i := next.Add(1)
					if i > 100*step {
						return
					}
					ri := int(i % 2)
					an := requestToken(ctx, client, replicas[ri].URL, c, c.proof(t))
					if ctx.Err() != nil {
						return
					}
					fig.Sent()
					inOutage := an.Start.UnixNano() >= downFrom.Load() && an.At.UnixNano() <= downTo.Load()
					switch {
					case an.Err == nil && an.Status == http.StatusOK:
						fig.Allowed()
						if inOutage {
							fig.Lost()
							t.Errorf("token issued while Redis was down (request %d)", i)
						}
						mu.Lock()
						if an.Start.UnixNano() > downTo.Load() && firstOK[ri].IsZero() {
							firstOK[ri] = an.At
						}
						mu.Unlock()
					case an.Err == nil && an.Status == http.StatusServiceUnavailable && an.Code == "temporarily_unavailable" &&
						an.Reason == "replay_store_unavailable":
						fig.Denied()
						mu.Lock()
						refused[ri]++
						mu.Unlock()
						// Redis refuses connections while it shuts down,
						// before Stop returns.
						if an.At.UnixNano() < stopping.Load() {
							fig.Lost()
							t.Errorf("request %d refused before Redis went down: %.200s", i, an.Body)
						}
					case an.Err == nil && an.Status == http.StatusUnauthorized && an.Reason == "proof_before_replay_epoch" &&
						an.Start.UnixNano() > downTo.Load() && an.At.UnixNano() < downTo.Load()+int64(epochWindow):
						// The restarted Redis lost every entry: proofs dated
						// before the new epoch + clockSkew are refused.
						fig.Denied()
						epochRefusals.Add(1)
					default:
						fig.Denied()
						fig.Lost()
						t.Errorf("request %d: status %d err %v: %.200s", i, an.Status, an.Err, an.Body)
					}
				}
			})
		}
		sent := func() int64 { s, _, _, _ := fig.Counts(); return s }
		waitFor(t, time.Minute, "load before the fault", func() bool { return sent() >= step })
		stopping.Store(time.Now().UnixNano())
		rd.Stop()
		stopped := time.Now()
		downFrom.Store(stopped.UnixNano())
		// The Redis client neither retries nor redials (app/replay.go), so
		// a refusal comes at once; a quarter of a step is enough.
		at := sent()
		waitFor(t, 5*time.Minute, "load while Redis is down", func() bool { return sent() >= at+step/4 })
		restarting := time.Now()
		downTo.Store(restarting.UnixNano())
		rd.Restart()
		back := time.Now()
		waitFor(t, 10*time.Second+epochWindow, "both replicas issue tokens again after Redis is back", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return !firstOK[0].IsZero() && !firstOK[1].IsZero()
		})
		at = sent()
		waitFor(t, time.Minute, "load after recovery", func() bool { return sent() >= at+step })
		done.Store(true)
		wg.Wait()
		cancel()

		mu.Lock()
		recovery := max(firstOK[0].Sub(back), firstOK[1].Sub(back))
		mu.Unlock()
		fig.Disruption(recovery)
		for i, p := range replicas {
			got := rejected(t, p)["replay_store_unavailable"] - unavailBefore[i]
			if got != refused[i] || got == 0 {
				t.Errorf("%s: registry_token_rejected_total{reason=replay_store_unavailable} grew by %v, clients saw %v refusals", p.Name, got, refused[i])
			}
			if !p.Running() {
				t.Errorf("%s exited", p.Name)
			}
		}
		if epochRefusals.Load() == 0 {
			t.Error("no proof_before_replay_epoch refusal after Redis came back empty")
		}
		t.Logf("outage %s (Redis stopped, then restarted in %s); refused a=%v b=%v, then %d proofs dated before the new epoch; recovery after Redis answered PING: %s",
			restarting.Sub(stopped).Round(time.Millisecond), back.Sub(restarting).Round(time.Millisecond), refused[0], refused[1], epochRefusals.Load(), recovery.Round(time.Millisecond))
		fig.Log(t)
	})
}
