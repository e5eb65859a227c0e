package config_test

import (
	"strings"
	"testing"

	"github.com/stellaops/authgate/services/registry-token/internal/config"
)

func TestReplayCacheMaxEntries(t *testing.T) {
	for _, tc := range []struct {
		name, env string
		want      int    // with no error
		problem   string // expected in the error
	}{
		{name: "default", want: config.DefaultReplayCacheEntries},
		{name: "set", env: "1048576", want: 1 << 20},
		{name: "cap", env: "16777216", want: config.MaxReplayCacheEntries},
		{name: "zero", env: "0", problem: "authority.replayCache.maxEntries: 0 is outside [1, 16777216]"},
		{name: "negative", env: "-5", problem: "authority.replayCache.maxEntries: -5 is outside"},
		{name: "above the cap", env: "16777217", problem: "authority.replayCache.maxEntries: 16777217 is outside"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var environ []string
			if tc.env != "" {
				environ = []string{"REGISTRY_TOKEN_AUTHORITY__REPLAYCACHE__MAXENTRIES=" + tc.env}
			}
			cfg, err := config.LoadData([]byte(valid), environ)
			if tc.problem != "" {
				if err == nil || !strings.Contains(err.Error(), tc.problem) {
					t.Fatalf("error %v, want %q", err, tc.problem)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Authority.ReplayCache.MaxEntries != tc.want {
				t.Fatalf("maxEntries %d, want %d", cfg.Authority.ReplayCache.MaxEntries, tc.want)
			}
		})
	}
}
