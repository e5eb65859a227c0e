package config_test

import (
	"slices"
	"testing"
	"time"

	"github.com/stellaops/authgate/pkg/plans"
	"github.com/stellaops/authgate/services/registry-token/internal/config"
)

func TestRestartOnlyNamesEveryDifferingSetting(t *testing.T) {
	a, err := config.LoadData([]byte(valid), nil)
	if err != nil {
		t.Fatal(err)
	}
	b := a
	b.Plans = map[string][]plans.Rule{"community": {{Repository: "x/*"}}}
	b.RevokedLicenses = []string{"lic-1"}
	b.Signing.Lifetime = 10 * time.Minute
	b.Policy.URL = "http://flex-auth:8080"
	b.Registry.Services = []string{"other"}
	if got := config.RestartOnly(a, b); len(got) != 0 {
		t.Fatalf("reloadable changes named as restart-only: %v", got)
	}
	if got := config.Changed(a, b); !slices.Equal(got, []string{"signing.lifetime", "registry.services", "plans", "revokedLicenses", "policy.url"}) {
		t.Fatalf("changed %v", got)
	}
	b.Server.Addr = "127.0.0.1:9999"
	b.Server.TLS.CertFile = "/tls/crt"
	b.Authority.ReplayCache.Backend = config.ReplayBackendRedis
	b.Authority.DPoP.Algorithms = []string{"ES256"}
	b.Log.Level = "debug"
	b.Registry.Realm = "https://elsewhere/token"
	want := []string{"log.level", "server.addr", "server.tls.certFile", "authority.dpop.algorithms", "authority.replayCache.backend", "registry.realm"}
	if got := config.RestartOnly(a, b); !slices.Equal(got, want) {
		t.Fatalf("restart-only %v, want %v", got, want)
	}
	// nil and empty lists are the same setting.
	c := a
	c.RevokedLicenses, c.Server.TrustedProxies = nil, nil
	if got := config.Changed(a, c); len(got) != 0 {
		t.Fatalf("nil vs empty: %v", got)
	}
}
