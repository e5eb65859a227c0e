package server

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stellaops/authgate/services/flex-auth/internal/decisionlog"
	"github.com/stellaops/authgate/services/flex-auth/internal/engine"
)

// TestReadyzFollowsAuthReady: /readyz answers 503 not_ready while caller
// authentication is not ready (the Authority's keys were dropped), and
// 200 again once it is.
func TestReadyzFollowsAuthReady(t *testing.T) {
	var authReady atomic.Bool
	sv := newServed(t, engine.Config{RegistryFile: cfgDir + "ops-warden/production_registry_snapshot.json",
		PolicyFile: cfgDir + "ops-warden/policy_package.md"}, decisionlog.SyncOff,
		func(d *Deps) { d.AuthReady = authReady.Load })
	sv.srv.SetReady(true)
	get := func() (int, string) {
		rec := httptest.NewRecorder()
		sv.h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, RouteReady, nil))
		return rec.Code, rec.Body.String()
	}
	if code, body := get(); code != http.StatusServiceUnavailable || body != "{\"status\":\"not_ready\"}\n" {
		t.Fatalf("auth not ready: %d %s", code, body)
	}
	authReady.Store(true)
	if code, body := get(); code != http.StatusOK || body != "{\"status\":\"ready\"}\n" {
		t.Fatalf("auth ready: %d %s", code, body)
	}
}
