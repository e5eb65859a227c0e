package faults

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stellaops/authgate/pkg/testkit/proctest"
	"github.com/stellaops/authgate/pkg/testkit/redistest"
)

// TestRedisFailover: two registry-token replicas on a Redis that fails
// over, under load through the real HTTP path, with clients on
// pkg/dpop.Transport (one retry on use_dpop_nonce). The master is killed
// (SIGKILL: its last writes may never reach the replica promoted in its
// place). Every proof accepted in the 10 s before the kill is replayed
// afterwards and must be refused; no client request may fail (claims are
// held for replayCache.failoverWait while the new master is elected).
func TestRedisFailover(t *testing.T) {
	for _, backend := range []string{"redis-sentinel", "redis-cluster"} {
		t.Run(backend, func(t *testing.T) { testFailover(t, backend) })
	}
}

func testFailover(t *testing.T, backend string) {
	auth := startAuthority(t)
	var (
		replay map[string]any
		kill   func()
	)
	switch backend {
	case "redis-sentinel":
		s := redistest.StartSentinel(t, 2, 3)
		replay = map[string]any{"backend": backend, "sentinel": map[string]any{"masterName": redistest.MasterName, "addrs": s.SentinelAddrs()}}
		kill = func() { s.Master(t).Kill() }
	default:
		c := redistest.StartCluster(t, 3, 1)
		replay = map[string]any{"backend": backend, "cluster": map[string]any{"addrs": c.Addrs()}}
		// The master of the first key group of registry-token's keys.
		kill = func() { c.MasterOf(t, "{registry-token:dpop:00}epoch").Kill() }
	}
	replay["failoverWait"] = "20s"
	nonceKeys := writeNonceKeys(t)
	cfg := rtConfig{Edit: func(doc map[string]any) {
		a := doc["authority"].(map[string]any)
		a["replayCache"] = replay
		a["dpop"].(map[string]any)["nonceKeyFile"] = nonceKeys
	}}
	a := startRegistryToken(t, "registry-token-a", writeConfig(t, t.TempDir(), auth, cfg), sharedPublicURL, "")
	b := startRegistryToken(t, "registry-token-b", writeConfig(t, t.TempDir(), auth, cfg), sharedPublicURL, "")
	fig := proctest.NewFigures("failover-" + backend)

	clients := make([]*dpopClient, 4)
	for i := range clients {
		clients[i] = newDPoPClient(t, auth, a.Addr, b.Addr)
	}
	var (
		stop     atomic.Bool
		wg       sync.WaitGroup
		mu       sync.Mutex
		failures []string
		lastOK   time.Time
		gap      time.Duration
		okAfter  atomic.Int64 // successes after the kill
		killedAt atomic.Int64
	)
	ctx := context.Background()
	for _, c := range clients {
		wg.Go(func() {
			for !stop.Load() {
				an := c.get(ctx)
				fig.Sent()
				mu.Lock()
				if an.Err == nil && an.Status == http.StatusOK && an.Token != "" {
					fig.Allowed()
					if !lastOK.IsZero() && an.At.Sub(lastOK) > gap {
						gap = an.At.Sub(lastOK)
					}
					if an.At.After(lastOK) {
						lastOK = an.At
					}
					if k := killedAt.Load(); k != 0 && an.Start.UnixNano() > k {
						okAfter.Add(1)
					}
				} else {
					fig.Lost()
					failures = append(failures, an.Start.Format("15:04:05.000")+" "+an.Reason+" "+string(an.Body))
				}
				mu.Unlock()
			}
		})
	}
	sent := func() int64 { s, _, _, _ := fig.Counts(); return s }
	waitFor(t, time.Minute, "load before the kill", func() bool { return sent() >= 200 })
	time.Sleep(2 * time.Second)
	killed := time.Now()
	killedAt.Store(killed.UnixNano())
	kill()
	waitFor(t, 2*time.Minute, "tokens after the failover", func() bool { return okAfter.Load() >= 200 })
	stop.Store(true)
	wg.Wait()

	var accepted []string
	for _, c := range clients {
		mine := c.acceptedBetween(killed.Add(-10*time.Second), killed)
		accepted = append(accepted, mine...)
		if bad := c.replay(ctx, mine); len(bad) > 0 {
			t.Errorf("%d proofs accepted before the kill got a token again: %v", len(bad), bad[:min(5, len(bad))])
		}
	}
	if len(accepted) == 0 {
		t.Fatal("no proof accepted in the 10 s before the kill")
	}
	if len(failures) > 0 {
		t.Errorf("%d requests failed from the client's point of view: %v", len(failures), failures[:min(5, len(failures))])
	}
	fig.Disruption(gap)
	t.Logf("%s: replayed %d proofs accepted in the 10 s before the kill: all refused; %d failed requests; longest gap between tokens %s",
		backend, len(accepted), len(failures), gap.Round(time.Millisecond))
	fig.Log(t)
}

// writeNonceKeys writes a nonce key file the replicas share.
func writeNonceKeys(t *testing.T) string {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "nonce-keys")
	if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
