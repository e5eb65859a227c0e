package loadgen

import (
	"context"
	"net/http"
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

func TestRunRejectsUnboundedDuration(t *testing.T) {
	if _, err := Run(context.Background(), Options{Duration: MaxDuration + time.Second, Dir: t.TempDir()}); err == nil {
		t.Fatal("a run longer than MaxDuration was accepted")
	}
}
