package httpx

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// A start-up polled 300 times while not ready logs no error and one "not
// ready" line at info; becoming ready logs one "ready" line with how long
// it was not; a later not-ready spell (draining) is logged once again.
// Other 5xx answers, of /readyz too, stay errors.
func TestReadyzNotReadyIsLoggedOncePerChange(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	log := zap.New(core)
	clock := time.Unix(1_750_000_000, 0)
	now := func() time.Time { return clock }
	e := New(Options{Logger: log, Mapper: testMapper, Now: now})
	rl := NewReadyLog(log, now)
	why := "keys not loaded"
	e.GET("/readyz", func(c echo.Context) error {
		rl.Observe(why)
		if why != "" {
			return c.String(http.StatusServiceUnavailable, "not ready")
		}
		return c.String(http.StatusOK, "ready")
	})
	e.GET("/metrics", func(c echo.Context) error { return c.String(http.StatusInternalServerError, "broken") })
	probe := func(path string, want int) {
		t.Helper()
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != want {
			t.Fatalf("%s: %d, want %d", path, rec.Code, want)
		}
	}
	for range 300 {
		probe("/readyz", http.StatusServiceUnavailable)
		clock = clock.Add(20 * time.Millisecond)
	}
	why = ""
	for range 10 {
		probe("/readyz", http.StatusOK)
	}
	why = "draining"
	for range 5 {
		probe("/readyz", http.StatusServiceUnavailable)
	}
	probe("/metrics", http.StatusInternalServerError)

	if n := logs.FilterLevelExact(zapcore.ErrorLevel).FilterField(zap.String("route", "/readyz")).Len(); n != 0 {
		t.Fatalf("%d /readyz lines at error level", n)
	}
	if n := logs.FilterLevelExact(zapcore.ErrorLevel).FilterField(zap.String("route", "/metrics")).Len(); n != 1 {
		t.Fatalf("a /metrics 500 logged %d times at error level, want 1", n)
	}
	var changes []string
	for _, l := range logs.FilterLevelExact(zapcore.InfoLevel).All() {
		changes = append(changes, l.Message)
		switch l.Message {
		case "ready":
			if got := l.ContextMap()["not_ready_for"]; got != 6*time.Second {
				t.Errorf("not_ready_for %v, want 6s", got)
			}
		case "not ready: /readyz answers 503 until this changes":
		default:
			t.Errorf("unexpected info line %q", l.Message)
		}
	}
	if len(changes) != 3 {
		t.Fatalf("readiness lines %q, want not ready, ready, not ready", changes)
	}
	if w := logs.FilterMessage(changes[0]).All()[0].ContextMap()["why"]; w != "keys not loaded" {
		t.Fatalf("why %v", w)
	}
}
