package redistest

import (
	"fmt"
	"runtime"
	"testing"
)

func TestStartStopRestart(t *testing.T) {
	s := Start(t)
	if err := ping(s.Addr); err != nil {
		t.Fatalf("PING after Start: %v", err)
	}
	if got, want := s.URL(), "redis://"+s.Addr+"/0"; got != want {
		t.Errorf("URL() = %q, want %q", got, want)
	}
	addr := s.Addr
	s.Stop()
	if err := ping(addr); err == nil {
		t.Fatal("PING succeeded after Stop")
	}
	s.Stop() // idempotent
	s.Restart()
	if s.Addr != addr {
		t.Fatalf("Restart moved the server from %s to %s", addr, s.Addr)
	}
	if err := ping(s.Addr); err != nil {
		t.Fatalf("PING after Restart: %v", err)
	}
}

// fatalRecorder is a testing.TB whose Fatal and Skip record the message
// and end the calling goroutine, as the real ones do.
type fatalRecorder struct {
	testing.TB
	msg, skipped string
}

func (f *fatalRecorder) Skip(args ...any) {
	f.skipped = fmt.Sprint(args...)
	runtime.Goexit()
}

func (f *fatalRecorder) Helper() {}
func (f *fatalRecorder) Fatal(args ...any) {
	f.msg = fmt.Sprint(args...)
	runtime.Goexit()
}
func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestStartWithoutRedisServer(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	rec := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Start(rec)
		t.Error("Start returned without redis-server on PATH")
	}()
	<-done
	if testing.Short() {
		// The inner loop (go tool task test:unit) needs no redis-server.
		if rec.skipped == "" || rec.msg != "" {
			t.Fatalf("with -short: Skip message %q, Fatal message %q; want a skip", rec.skipped, rec.msg)
		}
		return
	}
	if want := "redis-server not found on PATH: install it (apt-get install redis-server)"; rec.msg != want || rec.skipped != "" {
		t.Fatalf("Fatal message = %q (Skip message %q), want %q", rec.msg, rec.skipped, want)
	}
}
