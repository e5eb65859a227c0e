package loadgen

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestRunShort drives a real in-process registry-token for one second and
// checks that every request got a token. It asserts no throughput or
// latency figure (those depend on the machine).
func TestRunShort(t *testing.T) {
	rep, err := Run(context.Background(), Options{Duration: time.Second, Connections: 4, Callers: 2, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK == 0 || rep.Errors != 0 || rep.ByStatus[http.StatusOK] != rep.OK {
		t.Fatalf("report: %s", rep)
	}
	if !rep.InProcess || rep.Memory.RSS <= 0 || rep.Memory.Peak <= 0 {
		t.Fatalf("memory not measured: %+v", rep.Memory)
	}
	if rep.P50 <= 0 || rep.P99 < rep.P50 || rep.Max < rep.P99 {
		t.Fatalf("percentiles out of order: p50=%s p99=%s max=%s", rep.P50, rep.P99, rep.Max)
	}
}

// TestRunShortFreshOpToks: with FreshOpToks every request brings a new
// OpTok, and every one is accepted; the crypto floor is measured in the
// same run.
func TestRunShortFreshOpToks(t *testing.T) {
	rep, err := Run(context.Background(), Options{Duration: time.Second, Connections: 4, Dir: t.TempDir(),
		FreshOpToks: true, FloorDuration: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK == 0 || rep.Errors != 0 || !rep.FreshOpToks {
		t.Fatalf("report: %s", rep)
	}
	if rep.Floor.Verify <= 0 || rep.Floor.Sign <= 0 || rep.FloorRatio() <= 0 {
		t.Fatalf("floor not measured: %+v", rep.Floor)
	}
	if !strings.Contains(rep.String(), "OpToks: a new one per request") {
		t.Fatalf("report does not say the OpToks were fresh: %s", rep)
	}
}

func TestRunRejectsUnboundedDuration(t *testing.T) {
	if _, err := Run(context.Background(), Options{Duration: MaxDuration + time.Second, Dir: t.TempDir()}); err == nil {
		t.Fatal("a run longer than MaxDuration was accepted")
	}
}

// TestRunShortRedis drives registry-token on the Redis replay cache (a
// redis-server child) and checks that Redis's costs are reported.
func TestRunShortRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("a -short run starts no redis-server (the full suite, go tool task test, does)")
	}
	rep, err := Run(context.Background(), Options{Duration: time.Second, Connections: 4, Callers: 2, Dir: t.TempDir(), Replay: "redis"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK == 0 || rep.Errors != 0 {
		t.Fatalf("report: %s", rep)
	}
	if rep.Redis == nil || rep.Redis.Keys < rep.OK || rep.Redis.Commands < rep.OK || rep.Redis.RSS <= 0 {
		t.Fatalf("redis figures: %+v (ok=%d)", rep.Redis, rep.OK)
	}
}

func TestRunRejectsUnknownBackend(t *testing.T) {
	if _, err := Run(context.Background(), Options{Replay: "memcached", Dir: t.TempDir()}); err == nil {
		t.Fatal("an unknown replay backend was accepted")
	}
}

// TestDriveCountsErrorsByReason: failed requests are counted by status
// and the problem's reason member.
func TestDriveCountsErrorsByReason(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		switch n.Add(1) % 3 {
		case 0:
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"error":"temporarily_unavailable","reason":"replay_cache_full"}`))
		case 1:
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"invalid_dpop_proof"}`))
		default:
			_, _ = w.Write([]byte(`{"token":"t"}`))
		}
	}))
	defer srv.Close()
	p, err := NewFastProver(http.MethodGet, srv.URL+"/token", nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := Drive(context.Background(), DriveOptions{Client: srv.Client(), Realm: srv.URL + "/token",
		Callers: []Caller{{Prover: p, OpTok: "tok"}}, Connections: 2, Duration: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	full, proof := st.ByReason["503 replay_cache_full"], st.ByReason["401 invalid_dpop_proof"]
	if full == 0 || proof == 0 || full+proof != st.Errors || st.OK == 0 {
		t.Fatalf("stats: %s", st)
	}
	if !strings.Contains(st.String(), "503 replay_cache_full: ") {
		t.Fatalf("report does not list the reasons: %s", st)
	}
}
