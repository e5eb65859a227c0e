package app

import (
	"runtime/debug"
	"testing"
)

func TestTuneGCKeepsTheOperatorsChoice(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	for _, tc := range []struct {
		name             string
		environ          []string
		wantGC, wantSoft int64
	}{
		{"unset", []string{"HOME=/", "GOGCX=1", "XGOMEMLIMIT=1"}, DefaultGCPercent, DefaultMemoryLimit},
		{"GOGC set", []string{"GOGC=100"}, 100, DefaultMemoryLimit},
		{"GOGC empty", []string{"GOGC="}, 100, DefaultMemoryLimit},
		{"GOMEMLIMIT set", []string{"GOMEMLIMIT=1GiB"}, DefaultGCPercent, 1 << 40},
		{"both set", []string{"GOGC=off", "GOMEMLIMIT=1GiB"}, 100, 1 << 40},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The values the runtime would have taken from the environment.
			debug.SetGCPercent(100)
			debug.SetMemoryLimit(1 << 40)
			tuneGC(tc.environ)
			if got := int64(debug.SetGCPercent(100)); got != tc.wantGC {
				t.Errorf("GC percent %d, want %d", got, tc.wantGC)
			}
			if got := debug.SetMemoryLimit(-1); got != tc.wantSoft {
				t.Errorf("memory limit %d, want %d", got, tc.wantSoft)
			}
		})
	}
}
