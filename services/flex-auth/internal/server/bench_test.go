package server

import (
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/stellaops/authgate/pkg/obs"
	"github.com/stellaops/authgate/services/flex-auth/internal/decisionlog"
	"github.com/stellaops/authgate/services/flex-auth/internal/engine"
	"github.com/stellaops/authgate/services/flex-auth/internal/metrics"
)

func newBenchServer(b testing.TB, sync decisionlog.SyncMode) http.Handler {
	b.Helper()
	eng, err := engine.New(engine.Config{
		RegistryFile: "../../../../configs/ops-warden/production_registry_snapshot.json",
		PolicyFile:   "../../../../configs/ops-warden/policy_package.md",
	})
	if err != nil {
		b.Fatal(err)
	}
	om, err := obs.NewMetrics()
	if err != nil {
		b.Fatal(err)
	}
	m, err := metrics.New(om.Meter("bench"), func() int64 { return 4 })
	if err != nil {
		b.Fatal(err)
	}
	log, err := decisionlog.Open(decisionlog.Config{Path: filepath.Join(b.TempDir(), "d.jsonl"), Sync: sync})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { log.Close() })
	_, e := New(Deps{Engine: eng, Log: log, LogSync: sync, Metrics: m, Logger: zap.NewNop(), Exporter: om.Handler()})
	return e
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
