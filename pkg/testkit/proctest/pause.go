package proctest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Pause sends SIGSTOP and waits until every thread of the process is
// stopped (signal delivery is asynchronous): connections are still
// accepted by the kernel, nothing is answered. Resume undoes it.
func (p *Proc) Pause(t testing.TB) {
	t.Helper()
	if err := p.Signal(syscall.SIGSTOP); err != nil {
		t.Fatalf("proctest: pause %s: %v", p.Name, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !allStopped(p.PID()) {
		if !p.Running() {
			t.Fatalf("proctest: %s exited (%s)", p.Name, p.ExitState())
		}
		if time.Now().After(deadline) {
			t.Fatalf("proctest: %s did not stop", p.Name)
		}
		time.Sleep(5 * time.Millisecond) // polling /proc: there is nothing to wait on
	}
}

// Resume sends SIGCONT to a paused process.
func (p *Proc) Resume(t testing.TB) {
	t.Helper()
	if err := p.Signal(syscall.SIGCONT); err != nil {
		t.Fatalf("proctest: resume %s: %v", p.Name, err)
	}
}

// allStopped reports whether every thread of pid is in state T (stopped).
func allStopped(pid int) bool {
	stats, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
	if err != nil || len(stats) == 0 {
		return false
	}
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			return false // a thread that just exited
		}
		// pid (comm) state ...: the state follows the last ')'.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 || i+2 >= len(b) || b[i+2] != 'T' {
			return false
		}
	}
	return true
}
