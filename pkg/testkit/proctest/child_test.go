package proctest

import (
	"io"
	"net/http"
	"os"
	"testing"
	"time"
)

// serveEnv, when set in the environment, makes the test binary an HTTP
// server on that address answering 200 to everything (a fixed usage on
// /metrics): the child of the tests below.
const serveEnv = "PROCTEST_TEST_SERVE"

func TestMain(m *testing.M) {
	if addr := os.Getenv(serveEnv); addr != "" {
		srv := &http.Server{Addr: addr, ReadHeaderTimeout: 5 * time.Second,
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/metrics" {
					w.Header().Set("Content-Type", "text/plain; version=0.0.4")
					_, _ = io.WriteString(w, "go_goroutines 5\nprocess_resident_memory_bytes 1e+07\n")
				}
			})}
		_ = srv.ListenAndServe()
		os.Exit(1)
	}
	os.Exit(Main(m))
}

func startChild(t *testing.T) *Proc {
	t.Helper()
	return Start(t, os.Args[0], Options{Name: "child", Env: []string{serveEnv + "=" + AddrArg}})
}

func TestPauseResume(t *testing.T) {
	p := startChild(t)
	client := &http.Client{Timeout: 300 * time.Millisecond}
	p.Pause(t)
	if got := p.State(); got != "T" {
		t.Errorf("state after Pause = %q, want T", got)
	}
	if resp, err := client.Get(p.URL); err == nil {
		resp.Body.Close()
		t.Fatalf("a paused child answered %d", resp.StatusCode)
	}
	p.Resume(t)
	WaitReady(t, p.URL, 5*time.Second)
	p.Kill()
	if p.Running() {
		t.Error("running after Kill")
	}
}

func TestSoakRun(t *testing.T) {
	p := startChild(t)
	fig := NewFigures("soak-child")
	client := NewClient(2, 5*time.Second)
	defer client.CloseIdleConnections()
	do := func(int64) {
		fig.Sent()
		resp, err := client.Get(p.URL + "/")
		if err != nil {
			fig.Lost()
			return
		}
		_ = resp.Body.Close()
		fig.Allowed()
	}
	Soak{Workers: 2, Bench: 100 * time.Millisecond, Duration: 300 * time.Millisecond, Unit: "requests"}.Run(t, p, fig, do)
	if sent, allowed, _, lost := fig.Counts(); sent == 0 || allowed != sent || lost != 0 {
		t.Errorf("sent %d allowed %d lost %d", sent, allowed, lost)
	}
}

func TestWaitForAndRepeat(t *testing.T) {
	n := 0
	WaitFor(t, time.Second, "third call", func() bool { n++; return n == 3 })
	b, err := io.ReadAll(io.LimitReader(Repeat('x'), 5))
	if err != nil || string(b) != "xxxxx" {
		t.Errorf("Repeat: %q, %v", b, err)
	}
}
