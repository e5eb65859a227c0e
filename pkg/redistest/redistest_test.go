package redistest

import (
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
