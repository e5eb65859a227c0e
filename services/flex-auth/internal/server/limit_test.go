package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/authgate/services/flex-auth/internal/decisionlog"
	"github.com/stellaops/authgate/services/flex-auth/internal/engine"
	"github.com/stellaops/authgate/services/flex-auth/internal/limits"
)

// TestCallerLimit: a caller sending batches over its decisions budget gets
// 429 with Retry-After and a problem naming the limit, nothing of its
// refused batch reaches the decision log, and another caller is still
// answered.
func TestCallerLimit(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { return now }
	lim, err := limits.New(limits.Config{Name: "decisions", Rate: 10, Burst: 10, MaxCallers: 10, LogInterval: time.Second, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	sv := newServed(t, engine.Config{
		RegistryFile: cfgDir + "ops-warden/production_registry_snapshot.json",
		PolicyFile:   cfgDir + "ops-warden/policy_package.md",
		PolicyFiles:  []string{cfgDir + "todo-app/policy_package.md"},
		DataFile:     cfgDir + "todo-app/entities.yaml",
	}, decisionlog.SyncOff, func(d *Deps) { d.Guard = headerCaller; d.Limits.Decisions = lim; d.Now = clock })
	sv.srv.SetReady(true)
	item := todoEval("rick@the-citadel.com", "can_read_todos", "")
	batch := `{"evaluations":[` + strings.TrimSuffix(strings.Repeat(item+",", 8), ",") + `]}`
	if rec, _ := post(t, sv.h, RouteEvaluations, "application/json", batch, "X-Caller", "flooder"); rec.Code != 200 {
		t.Fatalf("first batch: %d %s", rec.Code, rec.Body)
	}
	before := len(logLines(t, sv.logFile))
	rec, out := post(t, sv.h, RouteEvaluations, "application/json", batch, "X-Caller", "flooder")
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "1" || out["limit"] != "decisions" ||
		out["error"] != "too_many_requests" || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/problem+json") {
		t.Fatalf("over the limit: %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
	if n := len(logLines(t, sv.logFile)); n != before {
		t.Fatalf("a refused batch logged %d decisions", n-before)
	}
	// the next batch is refused at the door, before its body is read: a
	// body that does not decode gets the 429, not a 400
	if rec, _ := post(t, sv.h, RouteEvaluations, "application/json", `{"evaluations":[`, "X-Caller", "flooder"); rec.Code != http.StatusTooManyRequests {
		t.Fatalf("a batch after a refused one: %d %s", rec.Code, rec.Body)
	}
	if rec, _ := post(t, sv.h, RouteAuthZEN, "application/json", item, "X-Caller", "ops-warden"); rec.Code != 200 {
		t.Fatalf("another caller: %d %s", rec.Code, rec.Body)
	}
	if rec, _ := post(t, sv.h, RouteAuthZEN, "application/json", item, "X-Caller", "flooder"); rec.Code != 200 {
		t.Fatalf("within the two decisions left: %d %s", rec.Code, rec.Body)
	}
	now = now.Add(time.Second)
	if rec, _ := post(t, sv.h, RouteEvaluations, "application/json", batch, "X-Caller", "flooder"); rec.Code != 200 {
		t.Fatalf("after the refill: %d %s", rec.Code, rec.Body)
	}
}

// TestRefusalDelay: a refusal is held for the caller's wait, up to
// Limits.RefusalDelay, and its Retry-After counts from the answer; a
// caller that goes away ends the hold.
func TestRefusalDelay(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { return now }
	lim, err := limits.New(limits.Config{Name: "decisions", Rate: 0.5, Burst: 4, MaxCallers: 10, LogInterval: time.Second, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	sv := newServed(t, engine.Config{
		RegistryFile: cfgDir + "ops-warden/production_registry_snapshot.json",
		PolicyFile:   cfgDir + "todo-app/policy_package.md",
		DataFile:     cfgDir + "todo-app/entities.yaml",
	}, decisionlog.SyncOff, func(d *Deps) {
		d.Guard = headerCaller
		d.Limits = Limits{Decisions: lim, RefusalDelay: time.Hour}
		d.Now = clock
	})
	sv.srv.SetReady(true)
	item := todoEval("rick@the-citadel.com", "can_read_todos", "")
	batch := `{"evaluations":[` + strings.TrimSuffix(strings.Repeat(item+",", 3), ",") + `]}`
	if rec, _ := post(t, sv.h, RouteEvaluations, "application/json", batch, "X-Caller", "c"); rec.Code != 200 {
		t.Fatalf("first batch: %d %s", rec.Code, rec.Body)
	}
	// one decision is left: the next batch of 3 waits 4 s; a caller that
	// has gone away ends the hold at once, with the whole wait still to go
	req := httptest.NewRequest(http.MethodPost, RouteEvaluations, strings.NewReader(batch))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Caller", "c")
	ctx, cancel := context.WithCancel(req.Context())
	cancel()
	rec := httptest.NewRecorder()
	sv.h.ServeHTTP(rec, req.WithContext(ctx))
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "4" {
		t.Fatalf("a gone caller: %d %v", rec.Code, rec.Header())
	}
	// held at the door for 1.2 s of its 4 s: the answer says 3 s more
	sv.srv.deps.Limits.RefusalDelay = 1200 * time.Millisecond
	if rec, _ := post(t, sv.h, RouteEvaluations, "application/json", batch, "X-Caller", "c"); rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "3" {
		t.Fatalf("held refusal: %d %v", rec.Code, rec.Header())
	}
}
