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

// BenchmarkCheckAndEvaluation decides the same check through /v1/check
// and as an AuthZEN evaluation (what the load generator sends with
// -endpoint evaluation), in one run: the cost of the AuthZEN edge.
func BenchmarkCheckAndEvaluation(b *testing.B) {
	h := newBenchServer(b, decisionlog.SyncOff)
	for _, tc := range []struct{ name, route, body string }{
		{"check", RouteCheck, `{"actor":"agt-state-hub-bridge","subject":"iam:agt-state-hub-bridge","principal":"agt-task-bridge","ttl_hours":24}`},
		{"evaluation", RouteAuthZEN, `{"action":{"name":"ssh.sign"},"context":{"principal":"agt-task-bridge","ttl_hours":24},"resource":{"id":"load","type":"host"},"subject":{"id":"iam:agt-state-hub-bridge","properties":{"actor":"agt-state-hub-bridge"},"type":"actor"}}`},
	} {
		b.Run(tc.name, func(b *testing.B) { benchPost(b, h, tc.route, tc.body) })
	}
}
