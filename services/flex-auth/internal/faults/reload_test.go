package faults

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stellaops/authgate/pkg/testkit/filetest"
	"github.com/stellaops/authgate/pkg/testkit/proctest"
	"github.com/stellaops/authgate/services/flex-auth/internal/engine"
)

// fileState is one content of the registry and policy files.
type fileState struct {
	registry, policy []byte
	want             pair // digests when the pair is valid
}

// TestReloadStorm is scenario 6: 100 SIGHUPs while clients send checks,
// every second one with a broken snapshot or policy file. No request may
// fail, every envelope must carry one of the valid (policy, registry)
// digest pairs, the active pair must stay the last good one after a
// broken reload, and /healthz must report the last failure.
func TestReloadStorm(t *testing.T) {
	fig := proctest.NewFigures("6")
	fa := startFlexAuth(t, "")
	reg0, err := os.ReadFile(fa.Registry)
	if err != nil {
		t.Fatal(err)
	}
	pol0, err := os.ReadFile(fa.Policy)
	if err != nil {
		t.Fatal(err)
	}

	// Four valid states that differ in both digests, their digests
	// computed by the engine's own loader.
	valid := map[pair]bool{}
	var good []fileState
	for i := range 4 {
		s := fileState{
			registry: bytes.Replace(reg0, []byte(`"generated_at": "2026-06-23T00:00:00Z"`),
				fmt.Appendf(nil, `"generated_at": "2026-06-23T00:00:0%dZ"`, i), 1),
			policy: bytes.Replace(pol0, []byte(`version: "1.0.0"`), fmt.Appendf(nil, `version: "1.0.%d"`, i), 1),
		}
		if i > 0 && (bytes.Equal(s.registry, reg0) || bytes.Equal(s.policy, pol0)) {
			t.Fatal("fixture changed: the variants are not different files")
		}
		s.want = digests(t, s)
		valid[s.want] = true
		good = append(good, s)
	}
	initial := digests(t, fileState{registry: reg0, policy: pol0})
	valid[initial] = true
	if len(valid) != 4 {
		t.Fatalf("variants do not give distinct digest pairs: %v", valid)
	}
	brokenRegistry := []byte(`{"version": 1, "actors": [{"name": "half-written`)
	brokenPolicy := bytes.Replace(pol0, []byte("default_reason: no_rule_matched"), []byte("default_reason: [unterminated"), 1)

	// Clients check all the time; every answer must be 200 with a valid
	// pair.
	ctx, cancel := context.WithTimeout(context.Background(), proctest.Pick(scale, 2*time.Minute, 10*time.Minute))
	defer cancel()
	var mu sync.Mutex
	seen := map[pair]int{}
	done := make(chan int64, 1)
	go func() {
		done <- load{URL: fa.URL, Workers: 8, Max: proctest.Pick[int64](scale, 200_000, 2_000_000),
			Body: func(i int64) []byte {
				if i%3 == 2 {
					return denyBody
				}
				return allowBody
			},
			Observe: func(i int64, a answer) {
				fig.Sent()
				if a.Err != nil || a.Status != http.StatusOK {
					fig.Lost()
					fig.Disrupted(a.At)
					t.Errorf("request %d failed during the storm: status %d err %v %.200s", i, a.Status, a.Err, a.Body)
					return
				}
				fig.Served(a.At)
				if a.Env.Effect == "allow" {
					fig.Allowed()
				} else {
					fig.Denied()
				}
				p := a.Env.pair()
				mu.Lock()
				seen[p]++
				mu.Unlock()
				if !valid[p] {
					fig.Lost()
					t.Errorf("request %d answered with pair %+v, not a valid pair", i, p)
				}
			}}.run(ctx)
	}()

	signals := 100
	active := initial
	var failures int64
	for i := range signals {
		var wantErr string
		if i%2 == 0 {
			s := good[(i/2)%len(good)]
			filetest.Replace(t, fa.Registry, s.registry)
			filetest.Replace(t, fa.Policy, s.policy)
			active = s.want
		} else if i%4 == 1 {
			filetest.Replace(t, fa.Registry, brokenRegistry)
			wantErr = "registry " + fa.Registry
			failures++
		} else {
			filetest.Replace(t, fa.Policy, brokenPolicy)
			wantErr = "policy " + fa.Policy
			failures++
		}
		if err := fa.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		var h health
		waitFor(t, 30*time.Second, fmt.Sprintf("reload %d", i+1), func() bool {
			h = getHealth(t, fa.URL)
			return h.Reload.Reloads == int64(i+2) // the initial load counts one
		})
		// /healthz reads the active pair before the reload status, so the
		// answer that first shows the new count may still show the pair
		// before it; the next one is settled.
		h = getHealth(t, fa.URL)
		got := pair{h.Policy.Digest, h.Registry.Digest}
		if got != active {
			t.Errorf("after SIGHUP %d the active pair is %+v, want %+v", i+1, got, active)
		}
		switch {
		case wantErr == "" && (h.Reload.LastError != "" || h.Status != "ok"):
			t.Errorf("after good SIGHUP %d /healthz says %s: %q", i+1, h.Status, h.Reload.LastError)
		case wantErr != "" && (!strings.Contains(h.Reload.LastError, wantErr) || h.Status != "degraded"):
			t.Errorf("after broken SIGHUP %d /healthz says %s: %q, want an error about %s", i+1, h.Status, h.Reload.LastError, wantErr)
		}
		if h.Reload.Failures != failures {
			t.Errorf("after SIGHUP %d /healthz counts %d failures, want %d", i+1, h.Reload.Failures, failures)
		}
		// Let some requests through on each pair.
		sent, _, _, _ := fig.Counts()
		waitSent(t, fig, sent+proctest.Pick[int64](scale, 20, 200))
	}
	cancel()
	<-done

	h := getHealth(t, fa.URL)
	if h.Status != "degraded" || !strings.Contains(h.Reload.LastError, "policy "+fa.Policy) {
		t.Errorf("/healthz after the storm does not report the last failure: %+v", h)
	}
	m, err := fa.Metrics(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if ok, bad := m.Value("flex_auth_reloads_total", "result", "success"), m.Value("flex_auth_reloads_total", "result", "failure"); ok != float64(1+signals/2) || bad != float64(signals/2) {
		t.Errorf("flex_auth_reloads_total success=%v failure=%v, want %d and %d", ok, bad, 1+signals/2, signals/2)
	}
	var per []string
	for p, n := range seen {
		per = append(per, fmt.Sprintf("%.15s/%.15s=%d", p.Policy, p.Registry, n))
	}
	t.Logf("SIGHUPs=%d (half broken), answers per (policy/registry) pair: %s", signals, strings.Join(per, " "))
	fig.Log(t)
}

func digests(t *testing.T, s fileState) pair {
	t.Helper()
	dir := t.TempDir()
	reg, pol := filepath.Join(dir, "registry.json"), filepath.Join(dir, "policy.md")
	filetest.Replace(t, reg, s.registry)
	filetest.Replace(t, pol, s.policy)
	p, err := engine.Load(reg, pol, time.Now())
	if err != nil {
		t.Fatalf("variant does not load: %v", err)
	}
	return pair{p.First.Digest(), p.Snapshot.Digest()}
}
