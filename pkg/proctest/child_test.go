package proctest

import (
	"net/http"
	"os"
	"testing"
	"time"
)

// serveEnv, when set in the environment, makes the test binary an HTTP
// server on that address answering 200 to everything: the child of the
// tests below.
const serveEnv = "PROCTEST_TEST_SERVE"

func TestMain(m *testing.M) {
	if addr := os.Getenv(serveEnv); addr != "" {
		srv := &http.Server{Addr: addr, ReadHeaderTimeout: 5 * time.Second,
			Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})}
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
