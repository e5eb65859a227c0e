package server

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stellaops/authgate/services/flex-auth/internal/decisionlog"
	"github.com/stellaops/authgate/services/flex-auth/internal/engine"
)

func newBenchServer(b testing.TB, sync decisionlog.SyncMode) http.Handler {
	b.Helper()
	return newServed(b, engine.Config{
		RegistryFile: cfgDir + "ops-warden/production_registry_snapshot.json",
		PolicyFile:   cfgDir + "ops-warden/policy_package.md",
	}, sync).h
}

// BenchmarkCheck measures one POST /v1/check through the router, the
// engine and the decision log (sync off: the CPU cost, not the disk).
func BenchmarkCheck(b *testing.B) {
	h := newBenchServer(b, decisionlog.SyncOff)
	body := `{"actor":"agt-state-hub-bridge","subject":"iam:agt-state-hub-bridge","ttl_hours":24}`
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodPost, RouteCheck, strings.NewReader(body))
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("status %d", rec.Code)
			}
			_, _ = io.Copy(io.Discard, rec.Body)
		}
	})
}
