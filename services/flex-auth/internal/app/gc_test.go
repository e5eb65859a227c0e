package app

import "testing"

func TestGCTargetIsRaisedOnlyWithoutGOGC(t *testing.T) {
	for _, tc := range []struct {
		name    string
		environ []string
		want    bool
	}{
		{"unset", []string{"HOME=/", "GOMEMLIMIT=268435456"}, true},
		{"set by the operator", []string{"GOGC=100"}, false},
		{"set to off", []string{"GOGC=off"}, false},
		{"set empty", []string{"GOGC="}, false},
		{"a different variable", []string{"GOGCX=1", "XGOGC=1"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pct, ok := defaultGCPercent(tc.environ)
			if ok != tc.want {
				t.Fatalf("raised = %v, want %v", ok, tc.want)
			}
			if ok && pct != DefaultGCPercent {
				t.Fatalf("percent = %d, want %d", pct, DefaultGCPercent)
			}
		})
	}
}
