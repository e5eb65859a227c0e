package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stellaops/authgate/pkg/testkit/proctest"
)

// scale is set by TestMain from -faults.scale before any test runs.
var scale proctest.Scale

func TestMain(m *testing.M) { os.Exit(proctest.MainScaled(m, &scale)) }

// Fixtures of the ops-warden deployment, relative to this package.
const (
	fixtureRegistry = "../../../../configs/ops-warden/production_registry_snapshot.json"
	fixturePolicy   = "../../../../configs/ops-warden/policy_package.md"
)

// Requests with known outcomes under the fixtures.
var (
	allowBody = []byte(`{"actor":"agt-state-hub-bridge","subject":"iam:agt-state-hub-bridge","action":"ssh.sign","principal":"agt-task-bridge","ttl_hours":24}`)
	denyBody  = []byte(`{"actor":"agt-state-hub-bridge","ttl_hours":1000}`)
)

// flexAuth is a flex-auth child with its files.
type flexAuth struct {
	*proctest.Proc
	Dir, Registry, Policy, Log string
}

// startFlexAuth copies the fixtures into a temp dir and serves them; log
// is the decision log path (empty: dir/decisions.jsonl).
func startFlexAuth(t *testing.T, log string, extra ...string) *flexAuth {
	t.Helper()
	bin := proctest.Build(t, "./services/flex-auth")
	dir := t.TempDir()
	f := &flexAuth{Dir: dir, Registry: filepath.Join(dir, "registry.json"), Policy: filepath.Join(dir, "policy.md"), Log: log}
	if f.Log == "" {
		f.Log = filepath.Join(dir, "decisions.jsonl")
	}
	copyFile(t, fixtureRegistry, f.Registry)
	copyFile(t, fixturePolicy, f.Policy)
	args := append([]string{"serve", "--addr", proctest.AddrArg, "--registry", f.Registry, "--policy", f.Policy,
		"--log", f.Log, "--log-level", "warn"}, extra...)
	f.Proc = proctest.Start(t, bin, proctest.Options{Name: "flex-auth", Args: args, Dir: dir})
	return f
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// envelope is the part of the decision envelope the scenarios check.
type envelope struct {
	DecisionID string `json:"decision_id"`
	Effect     string `json:"effect"`
	Reason     string `json:"reason"`
	Policy     struct {
		Digest string `json:"digest"`
	} `json:"policy"`
	Registry struct {
		Digest string `json:"digest"`
	} `json:"registry"`
}

// answer is one /v1/check outcome: a transport error (Err), or a status
// with the envelope (200) or problem body.
type answer struct {
	Status int
	Env    envelope
	Body   []byte
	Err    error
	At     time.Time
}

// pair is a (policy, registry) digest pair.
type pair struct{ Policy, Registry string }

func (e envelope) pair() pair { return pair{e.Policy.Digest, e.Registry.Digest} }

func newClient(conns int) *http.Client { return proctest.NewClient(conns, 10*time.Second) }

func check(ctx context.Context, c *http.Client, url string, body []byte) answer {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/v1/check", bytes.NewReader(body))
	if err != nil {
		return answer{Err: err, At: time.Now()}
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return answer{Err: err, At: time.Now()}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	a := answer{Status: resp.StatusCode, Body: b, Err: err, At: time.Now()}
	if err == nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, &a.Env); err != nil {
			a.Err = fmt.Errorf("decode envelope: %w", err)
		}
	}
	return a
}

// load runs workers until ctx is done or max requests were started; each
// request is body(i) for the i-th request, and every answer goes to
// observe (called concurrently).
type load struct {
	URL     string
	Workers int
	Max     int64
	Body    func(i int64) []byte
	Observe func(i int64, a answer)
}

func (l load) run(ctx context.Context) int64 {
	client := newClient(l.Workers)
	defer client.CloseIdleConnections()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range l.Workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= l.Max {
					return
				}
				a := check(ctx, client, l.URL, l.Body(i))
				if ctx.Err() != nil && a.Err != nil {
					return // cut by the end of the run, not by the service
				}
				l.Observe(i, a)
			}
		})
	}
	wg.Wait()
	return min(next.Load(), l.Max)
}

// health is the part of GET /healthz the scenarios check.
type health struct {
	Status   string `json:"status"`
	Registry struct {
		Digest string `json:"digest"`
	} `json:"registry"`
	Policy struct {
		Digest string `json:"digest"`
	} `json:"policy"`
	Reload struct {
		LastError string `json:"last_error"`
		Reloads   int64  `json:"reloads"`
		Failures  int64  `json:"failures"`
	} `json:"reload"`
	DecisionLog struct {
		LastError string `json:"last_error"`
	} `json:"decision_log"`
}

func getHealth(t *testing.T, url string) health {
	t.Helper()
	resp, err := http.Get(url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h health
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		t.Fatalf("/healthz: %v", err)
	}
	return h
}

// waitFor polls cond every 10 ms for at most d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	proctest.WaitFor(t, d, what, cond)
}

// logEntry is the part of a decision log line the scenarios check.
type logEntry struct {
	DecisionID string `json:"decision_id"`
	Effect     string `json:"effect"`
}

// readLog parses the decision log strictly: every line one JSON object
// with a decision id; a problem is reported with its line number.
func readLog(t *testing.T, path string) map[string]logEntry {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]logEntry{}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		t.Errorf("decision log %s does not end in a newline", path)
	}
	for n, line := range bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n")) {
		if len(b) == 0 {
			break
		}
		var e logEntry
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.UseNumber()
		if err := dec.Decode(&e); err != nil || e.DecisionID == "" {
			t.Errorf("decision log line %d is not a decision (%v): %.200q", n+1, err, line)
			continue
		}
		if _, dup := out[e.DecisionID]; dup {
			t.Errorf("decision log line %d repeats %s", n+1, e.DecisionID)
		}
		out[e.DecisionID] = e
	}
	return out
}

// waitSent waits until fig counts n requests sent (at most two minutes).
func waitSent(t *testing.T, fig *proctest.Figures, n int64) {
	t.Helper()
	waitFor(t, 2*time.Minute, fmt.Sprintf("%d requests sent", n), func() bool {
		sent, _, _, _ := fig.Counts()
		return sent >= n
	})
}
