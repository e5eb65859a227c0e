package server

import (
	"path/filepath"
	"testing"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/stellaops/authgate/pkg/obs"
	"github.com/stellaops/authgate/services/flex-auth/internal/decisionlog"
	"github.com/stellaops/authgate/services/flex-auth/internal/engine"
	"github.com/stellaops/authgate/services/flex-auth/internal/metrics"
)

const cfgDir = "../../../../configs/"

// served is a server under test and what it was built with.
type served struct {
	srv     *Server
	h       *echo.Echo
	eng     *engine.Engine
	logFile string // the decision log
}

// newServed builds a server over the engine of cfg, with real metrics and
// a decision log in a temporary file written as sync; each set adjusts
// the Deps before the server is built.
func newServed(t testing.TB, cfg engine.Config, sync decisionlog.SyncMode, set ...func(*Deps)) served {
	t.Helper()
	eng, err := engine.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	om, err := obs.NewMetrics()
	if err != nil {
		t.Fatal(err)
	}
	m, err := metrics.New(om.Meter("test"), func() int64 { return 4 })
	if err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(t.TempDir(), "d.jsonl")
	log, err := decisionlog.Open(decisionlog.Config{Path: logFile, Sync: sync})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = log.Close() })
	d := Deps{Engine: eng, Log: log, LogSync: sync, Metrics: m, Logger: zap.NewNop(), Exporter: om.Handler()}
	for _, f := range set {
		f(&d)
	}
	s, h := New(d)
	return served{srv: s, h: h, eng: eng, logFile: logFile}
}
