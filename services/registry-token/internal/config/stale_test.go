package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stellaops/authgate/services/registry-token/internal/config"
)

func TestJWKSMaxStale(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     []string
		want    time.Duration
		problem string
	}{
		{name: "default", want: 24 * time.Hour},
		{name: "set", env: []string{"REGISTRY_TOKEN_AUTHORITY__JWKSMAXSTALE=2h"}, want: 2 * time.Hour},
		{name: "equal to the refresh interval", env: []string{"REGISTRY_TOKEN_AUTHORITY__JWKSMAXSTALE=10m"},
			problem: "authority.jwksMaxStale: 10m0s is not longer than authority.jwksRefreshInterval (10m0s)"},
		{name: "shorter than a longer refresh interval", env: []string{"REGISTRY_TOKEN_AUTHORITY__JWKSREFRESHINTERVAL=48h"},
			problem: "authority.jwksMaxStale: 24h0m0s is not longer than authority.jwksRefreshInterval (48h0m0s)"},
		{name: "zero", env: []string{"REGISTRY_TOKEN_AUTHORITY__JWKSMAXSTALE=0s"}, problem: "authority.jwksMaxStale: 0s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.LoadData([]byte(valid), tc.env)
			if tc.problem != "" {
				if err == nil || !strings.Contains(err.Error(), tc.problem) {
					t.Fatalf("error %v, want %q", err, tc.problem)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Authority.JWKSMaxStale != tc.want {
				t.Fatalf("jwksMaxStale %s, want %s", cfg.Authority.JWKSMaxStale, tc.want)
			}
		})
	}
}
