package faults

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stellaops/authgate/pkg/testkit/proctest"
)

// TestDecisionLogUnwritable is scenario 5: the decision log cannot be
// written, first because its file system is full (a 64 KiB tmpfs, when
// this process may mount one), then because a rotation left a directory
// where the file should be. Checks must answer 503 deny while it lasts,
// allows must resume once it is fixed, and no allow may be answered
// without its log line.
func TestDecisionLogUnwritable(t *testing.T) {
	t.Run("disk full", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "tmpfs")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
			// Not root (or no mount namespace): the directory case below
			// covers the unwritable log on its own.
			t.Logf("no tmpfs (%v: %s); the disk-full case is not run here", err, out)
			return
		}
		t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
		log := filepath.Join(dir, "decisions.jsonl")
		// The free-space floor would take the service out of readiness
		// long before: off, so that the writes themselves fail.
		cfg := filepath.Join(t.TempDir(), "flex-auth.yaml")
		if err := os.WriteFile(cfg, []byte("decisionLog:\n  minFreeBytes: 0\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		// About 110 decision lines fit in 64 KiB.
		unwritable(t, "5-disk-full", log, 40, nil, func(fa *flexAuth) {
			out, err := exec.Command("mount", "-o", "remount,size=4m", dir).CombinedOutput()
			if err != nil {
				t.Fatalf("remount: %v: %s", err, out)
			}
		}, []string{log}, "--config", cfg)
	})
	t.Run("directory instead of file", func(t *testing.T) {
		dir := t.TempDir()
		log := filepath.Join(dir, "decisions.jsonl")
		rotated := log + ".1"
		unwritable(t, "5-directory", log, proctest.Pick[int64](scale, 400, 4_000), func(fa *flexAuth) {
			// A rotation that moved the log away and left a directory in
			// its place; SIGUSR1 makes flex-auth reopen the path.
			if err := os.Rename(log, rotated); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(log, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := fa.Signal(syscall.SIGUSR1); err != nil {
				t.Fatal(err)
			}
		}, func(fa *flexAuth) {
			if err := os.Remove(log); err != nil {
				t.Fatal(err)
			}
		}, []string{rotated, log})
	})
}

// unwritable runs the phases: normal load, break (nil: the load itself
// fills the disk), load that must be denied 503, fix, load that must be
// allowed again. logs are the files whose union must hold every answered
// decision.
func unwritable(t *testing.T, scenario, log string, before int64, breakIt, fix func(*flexAuth), logs []string, extra ...string) {
	fig := proctest.NewFigures(scenario)
	fa := startFlexAuth(t, log, append([]string{"--log-sync", "always"}, extra...)...)
	n := proctest.Pick[int64](scale, 400, 4_000)

	var mu sync.Mutex
	answered := map[string]bool{} // allowed decision ids
	var unavailable int64
	phase := func(name string, count int64) (ok, refused int64) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		var pmu sync.Mutex
		load{URL: fa.URL, Workers: 8, Max: count, Body: func(int64) []byte { return allowBody },
			Observe: func(i int64, a answer) {
				fig.Sent()
				switch {
				case a.Err == nil && a.Status == http.StatusOK && a.Env.Effect == "allow":
					fig.Allowed()
					mu.Lock()
					answered[a.Env.DecisionID] = true
					mu.Unlock()
					pmu.Lock()
					ok++
					pmu.Unlock()
				case a.Err == nil && a.Status == http.StatusServiceUnavailable && isLogDeny(a.Body):
					fig.Denied()
					pmu.Lock()
					refused++
					unavailable++
					pmu.Unlock()
				default:
					fig.Lost()
					t.Errorf("%s: request %d: status %d err %v: %.300s", name, i, a.Status, a.Err, a.Body)
				}
			}}.run(ctx)
		t.Logf("%s: %d allowed, %d denied 503", name, ok, refused)
		return ok, refused
	}

	if ok, _ := phase("before", before); ok != before {
		t.Fatalf("before the fault: %d of %d allowed", ok, before)
	}
	if breakIt != nil {
		breakIt(fa)
	}
	// Fill the disk (or meet the directory): the load runs until 503s
	// come, then a whole phase must be denied (a rare allow can still fit
	// in the space a cut torn line freed; it is logged like any other).
	brokenAt := time.Now()
	waitFor(t, 2*time.Minute, "decision log failures", func() bool {
		_, refused := phase("until failure", 50)
		return refused > 0
	})
	failedAt := time.Now()
	if ok, refused := phase("broken", n); refused == 0 || ok > refused/10 {
		t.Errorf("while the log is unwritable: %d allowed, %d denied", ok, refused)
	}
	h := getHealth(t, fa.URL)
	if h.DecisionLog.LastError == "" || h.Status != "degraded" {
		t.Errorf("/healthz while the log is unwritable: %+v", h)
	}
	m, err := fa.Metrics(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if v := m.Value("flex_auth_decision_log_write_errors_total"); v == 0 {
		t.Error("flex_auth_decision_log_write_errors_total did not count the failures")
	}
	if v := m.Value("flex_auth_decisions_total", "reason", "decision_log_unavailable"); v == 0 {
		t.Error("flex_auth_decisions_total{reason=decision_log_unavailable} is 0")
	}

	fix(fa)
	fixedAt := time.Now()
	var recoveredAt time.Time
	waitFor(t, time.Minute, "allows after the fix", func() bool {
		if ok, _ := phase("until recovery", 8); ok > 0 {
			recoveredAt = time.Now()
			return true
		}
		return false
	})
	fig.Disruption(recoveredAt.Sub(fixedAt))
	if ok, _ := phase("after", n); ok != n {
		t.Errorf("after the fix: %d of %d allowed", ok, n)
	}
	if h := getHealth(t, fa.URL); h.DecisionLog.LastError != "" {
		t.Errorf("/healthz after recovery still reports %q", h.DecisionLog.LastError)
	}
	fa.Stop()

	logged := map[string]logEntry{}
	for _, f := range logs {
		for id, e := range readLog(t, f) {
			logged[id] = e
		}
	}
	missing := 0
	for id := range answered {
		if e, ok := logged[id]; !ok || e.Effect != "allow" {
			missing++
			if missing <= 5 {
				t.Errorf("allow %s answered without its log line", id)
			}
		}
	}
	fig.AddLost(int64(missing))
	t.Logf("allowed=%d logged=%d denied_503=%d; broken after %s, outage %s, recovered %s after the fix",
		len(answered), len(logged), unavailable, failedAt.Sub(brokenAt).Round(time.Millisecond),
		fixedAt.Sub(failedAt).Round(time.Millisecond), recoveredAt.Sub(fixedAt).Round(time.Millisecond))
	fig.Log(t)
}

// isLogDeny reports whether a 503 body is the fail-closed deny of an
// unwritable decision log.
func isLogDeny(body []byte) bool {
	var p struct {
		Error  string `json:"error"`
		Effect string `json:"effect"`
		Reason string `json:"reason"`
	}
	return json.Unmarshal(body, &p) == nil && p.Effect == "deny" && p.Reason == "decision_log_unavailable"
}
