package server

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stellaops/authgate/services/flex-auth/internal/decisionlog"
	"github.com/stellaops/authgate/services/flex-auth/internal/engine"
)

// newTodoBench serves the todo-app package over an entity data document
// of n users (every tenth an editor), with the durable decision log.
func newTodoBench(b *testing.B, n int) http.Handler {
	b.Helper()
	dir := b.TempDir()
	var doc strings.Builder
	doc.WriteString(`{"version":1,"subjects":[`)
	for i := range n {
		if i > 0 {
			doc.WriteByte(',')
		}
		role := "viewer"
		if i%10 == 0 {
			role = "editor"
		}
		fmt.Fprintf(&doc, `{"type":"user","id":"user-%05d","properties":{"roles":[%q]}}`, i, role)
	}
	doc.WriteString(`]}`)
	data := filepath.Join(dir, "entities.json")
	if err := os.WriteFile(data, []byte(doc.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	return newServed(b, engine.Config{
		RegistryFile: cfgDir + "ops-warden/production_registry_snapshot.json",
		PolicyFile:   cfgDir + "todo-app/policy_package.md",
		DataFile:     data,
	}, decisionlog.SyncBatch).h
}

// benchPost posts body to route in a loop and reports, besides the
// wall-clock time, the process CPU time per request (cpu-ns/op): on a
// shared machine the wall clock also counts time spent waiting for a core.
func benchPost(b *testing.B, h http.Handler, route, body string) {
	b.ReportAllocs()
	cpu0 := processCPU(b)
	defer func() { b.ReportMetric(float64(processCPU(b)-cpu0)/float64(b.N), "cpu-ns/op") }()
	for b.Loop() {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, route, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d %s", rec.Code, rec.Body)
		}
	}
}

// BenchmarkEvaluationsBatch100 decides a batch of 100 evaluations (one
// durable log write per batch).
func BenchmarkEvaluationsBatch100(b *testing.B) {
	var items []string
	for i := range 100 {
		items = append(items, fmt.Sprintf(`{"subject":{"type":"user","id":"user-%05d"},"resource":{"type":"todo","id":"t%d","properties":{"ownerID":"user-%05d"}}}`, i, i, i))
	}
	benchPost(b, newTodoBench(b, 1000), RouteEvaluations,
		`{"action":{"name":"can_update_todo"},"evaluations":[`+strings.Join(items, ",")+`]}`)
}

// BenchmarkEvaluationsBatch1000 decides a batch of the largest size
// accepted (checkapi.MaxBatch) within the 64 KiB body limit: the subject
// and action given once as defaults, one resource per item; the 1,000
// decisions are logged durably in one write.
func BenchmarkEvaluationsBatch1000(b *testing.B) {
	var items []string
	for i := range 1000 {
		items = append(items, fmt.Sprintf(`{"resource":{"type":"todo","id":"t%d"}}`, i))
	}
	benchPost(b, newTodoBench(b, 1000), RouteEvaluations,
		`{"subject":{"type":"user","id":"user-00010"},"action":{"name":"can_update_todo"},"evaluations":[`+strings.Join(items, ",")+`]}`)
}

// BenchmarkEvaluation decides one AuthZEN evaluation (durable log).
func BenchmarkEvaluation(b *testing.B) {
	h := newTodoBench(b, 1000)
	benchPost(b, h, RouteAuthZEN, `{"subject":{"type":"user","id":"user-00010"},"action":{"name":"can_update_todo"},"resource":{"type":"todo","id":"t","properties":{"ownerID":"user-00010"}}}`)
}

// BenchmarkSearchSubject10k searches 10,000 subjects for those allowed to
// create a todo (1,000 editors: one full page).
func BenchmarkSearchSubject10k(b *testing.B) {
	h := newTodoBench(b, 10_000)
	benchPost(b, h, RouteSearchSubject, `{"subject":{"type":"user"},"action":{"name":"can_create_todo"},"resource":{"type":"todo","id":"t"},"page":{"limit":1000}}`)
}

// processCPU is the user and system CPU time the process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
