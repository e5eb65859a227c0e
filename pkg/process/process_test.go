package process

import (
	"context"
	"os"
	"runtime/debug"
	"syscall"
	"testing"
	"time"
)

func TestTuneGCKeepsTheOperatorsChoice(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	gc := GC{Percent: 400, MemoryLimit: 48 << 20}
	for _, tc := range []struct {
		name             string
		environ          []string
		wantGC, wantSoft int64
		wantFields       int
	}{
		{"unset", []string{"HOME=/", "GOGCX=1", "XGOMEMLIMIT=1"}, 400, 48 << 20, 2},
		{"GOGC set", []string{"GOGC=100"}, 100, 48 << 20, 1},
		{"GOGC empty", []string{"GOGC="}, 100, 48 << 20, 1},
		{"GOGC off", []string{"GOGC=off"}, 100, 48 << 20, 1},
		{"GOMEMLIMIT set", []string{"GOMEMLIMIT=1GiB"}, 400, 1 << 40, 1},
		{"both set", []string{"GOGC=off", "GOMEMLIMIT=1GiB"}, 100, 1 << 40, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The values the runtime would have taken from the environment.
			debug.SetGCPercent(100)
			debug.SetMemoryLimit(1 << 40)
			fields := TuneGC(tc.environ, gc)
			if got := int64(debug.SetGCPercent(100)); got != tc.wantGC {
				t.Errorf("GC percent %d, want %d", got, tc.wantGC)
			}
			if got := debug.SetMemoryLimit(-1); got != tc.wantSoft {
				t.Errorf("memory limit %d, want %d", got, tc.wantSoft)
			}
			if len(fields) != tc.wantFields {
				t.Errorf("%d log fields, want %d: %v", len(fields), tc.wantFields, fields)
			}
		})
	}
}

func TestHandleSignals(t *testing.T) {
	sigs := make(chan os.Signal, 4)
	ch, stop := Subscribe(sigs, syscall.SIGHUP)
	defer stop()
	var hups, usr1 int
	sigs <- syscall.SIGHUP
	sigs <- syscall.SIGUSR2 // no handler: ignored
	sigs <- syscall.SIGUSR1
	sigs <- syscall.SIGHUP
	close(sigs)
	HandleSignals(context.Background(), ch, map[os.Signal]func(){
		syscall.SIGHUP:  func() { hups++ },
		syscall.SIGUSR1: func() { usr1++ },
	})
	if hups != 2 || usr1 != 1 {
		t.Fatalf("SIGHUP handled %d times, SIGUSR1 %d; want 2 and 1", hups, usr1)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	HandleSignals(ctx, make(chan os.Signal), nil) // returns once ctx is done
}

func TestSubscribeProcessSignals(t *testing.T) {
	ch, stop := Subscribe(nil, syscall.SIGHUP)
	defer stop()
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	// Bounded only so that a regression fails instead of hanging.
	select {
	case s := <-ch:
		if s != syscall.SIGHUP {
			t.Fatalf("received %v, want SIGHUP", s)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the subscribed SIGHUP never arrived")
	}
}
