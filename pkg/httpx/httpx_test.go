package httpx

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

var errDenied = errors.New("plan denies")

func testMapper(err error) *Problem {
	if errors.Is(err, errDenied) {
		return &Problem{Status: http.StatusForbidden, Code: "denied", Description: "plan grants nothing",
			Headers: http.Header{"Www-Authenticate": {`Bearer error="insufficient_scope"`}}}
	}
	return nil
}

func newTestEcho() (*echo.Echo, *observer.ObservedLogs) {
	core, logs := observer.New(zapcore.DebugLevel)
	e := New(Options{Logger: zap.New(core), Mapper: testMapper, Now: time.Now})
	e.GET("/denied", func(echo.Context) error { return errDenied })
	e.GET("/boom", func(echo.Context) error { return errors.New("secret internal detail") })
	e.GET("/panic", func(echo.Context) error { panic("kaboom") })
	e.GET("/ok", func(c echo.Context) error { return c.String(http.StatusOK, "ok") })
	return e, logs
}

func decodeProblem(t *testing.T, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != ProblemContentType {
		t.Fatalf("content type = %q", ct)
	}
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("body: %v", err)
	}
	return body
}

func TestMappedErrorBecomesProblemWithRegistryErrors(t *testing.T) {
	e, logs := newTestEcho()
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/denied?token=abc", nil))
	if rec.Code != http.StatusForbidden {
		t.Fatalf("status = %d", rec.Code)
	}
	if got := rec.Header().Get("WWW-Authenticate"); !strings.Contains(got, "insufficient_scope") {
		t.Fatalf("WWW-Authenticate = %q", got)
	}
	body := decodeProblem(t, rec)
	if body["error"] != "denied" || body["error_description"] != "plan grants nothing" || body["status"] != float64(403) {
		t.Fatalf("body = %v", body)
	}
	errs, _ := body["errors"].([]any)
	if len(errs) != 1 || errs[0].(map[string]any)["code"] != "DENIED" {
		t.Fatalf("errors = %v", body["errors"])
	}
	if n := logs.Len(); n != 1 {
		t.Fatalf("log lines = %d, want exactly one", n)
	}
	entry := logs.All()[0]
	if entry.ContextMap()["route"] != "/denied" || entry.ContextMap()["error"] != "denied" {
		t.Fatalf("log = %v", entry.ContextMap())
	}
	for _, f := range entry.Context {
		if strings.Contains(f.String, "abc") {
			t.Fatalf("query leaked into log: %v", entry.ContextMap())
		}
	}
}

func TestUnknownErrorIsGeneric500(t *testing.T) {
	e, _ := newTestEcho()
	for _, path := range []string{"/boom", "/panic"} {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusInternalServerError {
			t.Fatalf("%s: status = %d", path, rec.Code)
		}
		if strings.Contains(rec.Body.String(), "secret") || strings.Contains(rec.Body.String(), "kaboom") {
			t.Fatalf("%s: body leaks detail: %s", path, rec.Body.String())
		}
		if decodeProblem(t, rec)["error"] != "server_error" {
			t.Fatalf("%s: body = %s", path, rec.Body.String())
		}
	}
}

func TestEchoRoutingErrorsKeepStatus(t *testing.T) {
	e, _ := newTestEcho()
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/nope", nil))
	if rec.Code != http.StatusNotFound || decodeProblem(t, rec)["error"] != "not_found" {
		t.Fatalf("status = %d body = %s", rec.Code, rec.Body.String())
	}
	rec = httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/ok", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("status = %d", rec.Code)
	}
}

func TestServeDrainsAndStops(t *testing.T) {
	e, _ := newTestEcho()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	notReady := make(chan struct{})
	go func() {
		done <- Serve(ctx, NewServer(e, DefaultLimits), ln, time.Second, func() { close(notReady) })
	}()
	resp, err := http.Get("http://" + ln.Addr().String() + "/ok")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d", resp.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve = %v", err)
	}
	<-notReady
}

func TestOversizedHeadersAreRejected(t *testing.T) {
	e, _ := newTestEcho()
	srv := httptest.NewUnstartedServer(e)
	srv.Config = NewServer(e, DefaultLimits)
	srv.Start()
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/ok", nil)
	req.Header.Set("X-Big", string(bytes.Repeat([]byte("a"), 64<<10)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("status = %d", resp.StatusCode)
	}
}

func TestRequestLogIgnoresForwardedFor(t *testing.T) {
	e, logs := newTestEcho()
	req := httptest.NewRequest(http.MethodGet, "/ok", nil)
	req.RemoteAddr = "192.0.2.10:4711"
	req.Header.Set("X-Forwarded-For", "203.0.113.99")
	req.Header.Set("X-Real-IP", "203.0.113.98")
	e.ServeHTTP(httptest.NewRecorder(), req)
	if got := logs.All()[0].ContextMap()["remote"]; got != "192.0.2.10" {
		t.Fatalf("remote = %v, want the direct peer", got)
	}
}

// TestLevelFor: a refusal for a caller's limit (429) and a probe's 503 are
// debug lines; a server error is an error; any other answer is info.
func TestLevelFor(t *testing.T) {
	for _, c := range []struct {
		route  string
		status int
		want   zapcore.Level
	}{
		{"/v1/check", http.StatusTooManyRequests, zapcore.DebugLevel},
		{"/readyz", http.StatusServiceUnavailable, zapcore.DebugLevel},
		{"/v1/check", http.StatusServiceUnavailable, zapcore.ErrorLevel},
		{"/v1/check", http.StatusBadRequest, zapcore.InfoLevel},
		{"/v1/check", http.StatusOK, zapcore.InfoLevel},
		{"/metrics", http.StatusOK, zapcore.DebugLevel},
	} {
		if got := levelFor(c.route, c.status); got != c.want {
			t.Errorf("%s %d: %s, want %s", c.route, c.status, got, c.want)
		}
	}
}
