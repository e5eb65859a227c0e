package faults

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stellaops/authgate/pkg/testkit/proctest"
)

// The registry policy package and snapshot flex-auth serves in scenario 7.
const (
	registryPolicy   = "../../../../configs/registry-policy/policy_package.md"
	registrySnapshot = "../../../../configs/registry-policy/registry_snapshot.json"
	policyTimeout    = time.Second
)

// TestPolicyOutages is scenario 7: registry-token asks the real flex-auth
// (run as a binary) about every granted access. With flex-auth killed,
// hung (SIGSTOP, and a test server that answers after the timeout) or
// answering garbage, every request is denied fail-closed with a distinct
// reason (policy_unavailable, policy_timeout, policy_invalid_response),
// counted in registry_token_rejected_total, and service resumes when
// flex-auth is back.
func TestPolicyOutages(t *testing.T) {
	fig := proctest.NewFigures("7")
	auth := startAuthority(t)
	fa := startPolicyFlexAuth(t)
	startRT := func(name, url string) *proctest.Proc {
		cfg := writeConfig(t, t.TempDir(), auth, rtConfig{Policy: map[string]any{
			"url": url, "timeout": policyTimeout.String(), "failClosed": true}})
		return startRegistryToken(t, name, cfg, "", "")
	}
	rt := startRT("registry-token", fa.URL)
	n := proctest.Pick(scale, 200, 2_000)
	client := newClient(8)
	defer client.CloseIdleConnections()

	// burst sends count requests from 8 workers to p and expects every
	// answer to be want ("ok" or a rejection reason); it returns the
	// longest answer time.
	burst := func(phase string, p *proctest.Proc, count int, want string) time.Duration {
		realm := p.URL + "/token"
		callers := make([]*caller, 8)
		for i := range callers {
			callers[i] = newCaller(t, auth.Authority, realm)
		}
		var next, late atomic.Int64
		var slowest atomic.Int64
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Go(func() {
				c := callers[w]
				for next.Add(1) <= int64(count) {
					an := requestToken(context.Background(), client, p.URL, c, c.proof(t))
					fig.Sent()
					d := an.At.Sub(an.Start)
					for old := slowest.Load(); int64(d) > old; old = slowest.Load() {
						if slowest.CompareAndSwap(old, int64(d)) {
							break
						}
					}
					got := reasonOf(an)
					if got == "ok" {
						fig.Allowed()
						fig.Served(an.At)
					} else {
						fig.Denied()
					}
					if want == "ok" && got == "policy_timeout" {
						// flex-auth slower than policy.timeout on a loaded
						// machine: denied, fail-closed, as it must be.
						fig.Disrupted(an.Start)
						late.Add(1)
						continue
					}
					if got != want {
						fig.Lost()
						t.Errorf("%s: want %s, got status %d %s err %v: %.200s", phase, want, an.Status, got, an.Err, an.Body)
					}
					if want != "ok" && an.Status == http.StatusServiceUnavailable && !strings.Contains(string(an.Body), want) {
						t.Errorf("%s: body does not name %s: %.200s", phase, want, an.Body)
					}
				}
			})
		}
		wg.Wait()
		d := time.Duration(slowest.Load())
		t.Logf("%s: %d requests, %s (%d timed out in an ok phase), slowest answer %s", phase, count, want, late.Load(), d.Round(time.Millisecond))
		return d
	}

	burst("flex-auth up", rt, n, "ok")

	// Down: killed, then started again on the same port.
	fa.Kill()
	burst("flex-auth killed", rt, n, "policy_unavailable")
	fa.StartAgain(t)
	back := time.Now()
	recovered := func(phase string) {
		realm := rt.URL + "/token"
		waitFor(t, 15*time.Second, phase, func() bool {
			c := newCaller(t, auth.Authority, realm)
			an := requestToken(context.Background(), client, rt.URL, c, c.proof(t))
			fig.Sent()
			if got := reasonOf(an); got != "ok" {
				fig.Denied()
				if !strings.HasPrefix(got, "policy_") {
					fig.Lost()
					t.Errorf("%s: %s", phase, got)
				}
				return false
			}
			fig.Allowed()
			return true
		})
	}
	recovered("first token after flex-auth is back")
	fig.Disruption(time.Since(back))
	burst("flex-auth back", rt, n, "ok")

	// Hung: the real process stopped (connections accepted by the kernel,
	// nothing answered), then a test server that answers too late.
	if err := fa.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "flex-auth stopped", func() bool { return fa.State() == "T" })
	if d := burst("flex-auth stopped (SIGSTOP)", rt, n/5, "policy_timeout"); d > policyTimeout+3*time.Second {
		t.Errorf("a hung flex-auth held requests for %s (policy.timeout %s)", d, policyTimeout)
	}
	if err := fa.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	cont := time.Now()
	recovered("first token after SIGCONT")
	fig.Disruption(time.Since(cont))
	burst("flex-auth continued", rt, n, "ok")

	slow := startFakePolicy(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(4 * policyTimeout):
		case <-r.Context().Done():
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"decision_id":"decision:0123456789abcdef","effect":"allow","reason":"late"}`)
	})
	rtSlow := startRT("registry-token-slow", slow)
	if d := burst("slow policy server", rtSlow, n/5, "policy_timeout"); d > policyTimeout+3*time.Second {
		t.Errorf("a slow policy server held requests for %s (policy.timeout %s)", d, policyTimeout)
	}

	// Garbage: each answer is wrong in another way.
	garbage := []func(w http.ResponseWriter){
		func(w http.ResponseWriter) { fmt.Fprint(w, "<html>not json</html>") },
		func(w http.ResponseWriter) { fmt.Fprint(w, `{"effect":"allow","reason":"no id"}`) },
		func(w http.ResponseWriter) {
			fmt.Fprint(w, `{"decision_id":"decision:0123456789abcdef","effect":"maybe","reason":"x"}`)
		},
		func(w http.ResponseWriter) {
			fmt.Fprint(w, `{"decision_id":"decision:0123456789abcdef","effect":"allow"`)
		},
		func(w http.ResponseWriter) { w.WriteHeader(http.StatusInternalServerError); fmt.Fprint(w, "oops") },
		func(w http.ResponseWriter) {
			fmt.Fprint(w, `{"decision_id":"decision:0123456789abcdef","effect":"allow","reason":"`+strings.Repeat("a", 1<<20)+`"}`)
		},
		func(w http.ResponseWriter) {
			fmt.Fprint(w, `{"decision_id":"decision:0123456789abcdef","effect":"allow","reason":"x"} {"effect":"allow"}`)
		},
	}
	var k atomic.Int64
	bad := startFakePolicy(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		garbage[int(k.Add(1))%len(garbage)](w)
	})
	rtBad := startRT("registry-token-garbage", bad)
	burst("policy server answering garbage", rtBad, n, "policy_invalid_response")

	// Each reason is counted where it happened.
	for _, c := range []struct {
		p      *proctest.Proc
		reason string
		want   float64
	}{
		{rt, "policy_unavailable", float64(n)},
		{rtSlow, "policy_timeout", float64(n / 5)}, {rtBad, "policy_invalid_response", float64(n)},
	} {
		if got := rejected(t, c.p)[c.reason]; got != c.want {
			t.Errorf("%s: registry_token_rejected_total{reason=%s} = %v, want %v", c.p.Name, c.reason, got, c.want)
		}
	}
	fig.Log(t)
}

// reasonOf returns "ok" for an issued token, else the rejection reason
// named in the problem body (or the error code).
func reasonOf(an answer) string {
	if an.Err == nil && an.Status == http.StatusOK && an.Token != "" {
		return "ok"
	}
	for _, r := range []string{"policy_unavailable", "policy_timeout", "policy_invalid_response", "policy_denied"} {
		if strings.Contains(string(an.Body), `"`+r+`"`) {
			return r
		}
	}
	if an.Err != nil {
		return "error: " + an.Err.Error()
	}
	return fmt.Sprintf("%d %s", an.Status, an.Code)
}

// startPolicyFlexAuth runs the real flex-auth with the registry policy.
func startPolicyFlexAuth(t *testing.T) *proctest.Proc {
	t.Helper()
	bin := proctest.Build(t, "./services/flex-auth")
	dir := t.TempDir()
	pol, err := filepath.Abs(registryPolicy)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := filepath.Abs(registrySnapshot)
	if err != nil {
		t.Fatal(err)
	}
	return proctest.Start(t, bin, proctest.Options{Name: "flex-auth", Dir: dir, Args: []string{
		"serve", "--addr", proctest.AddrArg, "--registry", snap, "--policy", pol,
		"--log", filepath.Join(dir, "decisions.jsonl"), "--log-level", "warn"}})
}

// startFakePolicy serves h on a loopback port in this process, standing
// in for a misbehaving flex-auth; it returns the base URL.
func startFakePolicy(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}
