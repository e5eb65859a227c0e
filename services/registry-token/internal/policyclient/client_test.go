package policyclient_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stellaops/authgate/services/registry-token/internal/policyclient"
)

// flexAuth is a stand-in for POST /v1/check: it records the requests and
// answers with respond.
type flexAuth struct {
	srv      *httptest.Server
	mu       sync.Mutex
	requests []map[string]any
	inFlight atomic.Int64
	maxSeen  atomic.Int64
}

func newFlexAuth(t *testing.T, respond func(w http.ResponseWriter, r *http.Request, req map[string]any)) *flexAuth {
	t.Helper()
	f := &flexAuth{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := f.inFlight.Add(1)
		defer f.inFlight.Add(-1)
		for {
			m := f.maxSeen.Load()
			if n <= m || f.maxSeen.CompareAndSwap(m, n) {
				break
			}
		}
		if r.Method != http.MethodPost || r.URL.Path != "/v1/check" || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad route", http.StatusNotFound)
			return
		}
		dec := json.NewDecoder(r.Body)
		dec.UseNumber()
		var req map[string]any
		if err := dec.Decode(&req); err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.requests = append(f.requests, req)
		f.mu.Unlock()
		respond(w, r, req)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// envelope writes a decision envelope like flex-auth's.
func envelope(w http.ResponseWriter, effect, reason string) {
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"decision_id":"decision:%016x","effect":%q,"reason":%q,"backend":"flex-auth",`+
		`"policy":{"package":"p","version":"1","digest":"sha256:x"},"registry":{"digest":"sha256:y"},`+
		`"actor":"a","subject":"a","action":"registry.pull","principal":""}`, rand.Uint64(), effect, reason)
}

// byResource allows everything except resources starting with "quarantine/".
func byResource(w http.ResponseWriter, _ *http.Request, req map[string]any) {
	if res, _ := req["resource"].(string); strings.HasPrefix(res, "quarantine/") {
		envelope(w, "deny", "repository_quarantined")
		return
	}
	envelope(w, "allow", "registry_access_allowed")
}

func newClient(t *testing.T, url string, timeout time.Duration) *policyclient.Client {
	t.Helper()
	c, err := policyclient.New(policyclient.Config{URL: url, Timeout: timeout, Concurrency: 3})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func pull(resource string) policyclient.Check {
	return policyclient.Check{Actor: "user-1", Subject: "user-1", Action: "registry.pull", Resource: resource,
		Context: map[string]any{"service": "registry.localhost", "plan": "community"}}
}

func TestCheckAllDecisions(t *testing.T) {
	cases := []struct {
		name    string
		checks  []string
		effects []string
	}{
		{"allow", []string{"stella-ops/public/a"}, []string{"allow"}},
		{"deny", []string{"quarantine/x"}, []string{"deny"}},
		{"partial deny", []string{"stella-ops/public/a", "quarantine/x", "stella-ops/public/b", "quarantine/y", "stella-ops/public/c"},
			[]string{"allow", "deny", "allow", "deny", "allow"}},
		{"nothing to check", nil, []string{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fa := newFlexAuth(t, byResource)
			c := newClient(t, fa.srv.URL, 5*time.Second)
			checks := make([]policyclient.Check, 0, len(tc.checks))
			for _, r := range tc.checks {
				checks = append(checks, pull(r))
			}
			got, err := c.CheckAll(context.Background(), checks)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.effects) {
				t.Fatalf("%d decisions, want %d", len(got), len(tc.effects))
			}
			ids := map[string]bool{}
			for i, d := range got {
				if d.Effect != tc.effects[i] || !strings.HasPrefix(d.ID, "decision:") || ids[d.ID] {
					t.Fatalf("decision %d = %+v, want effect %s with a fresh id", i, d, tc.effects[i])
				}
				ids[d.ID] = true
				wantReason := map[string]string{"allow": "registry_access_allowed", "deny": "repository_quarantined"}[d.Effect]
				if d.Reason != wantReason || d.Allowed() != (d.Effect == "allow") {
					t.Fatalf("decision %d = %+v", i, d)
				}
			}
			if len(fa.requests) != len(tc.checks) {
				t.Fatalf("%d requests sent, want %d", len(fa.requests), len(tc.checks))
			}
			if most := fa.maxSeen.Load(); most > 3 {
				t.Fatalf("%d checks in flight, concurrency is 3", most)
			}
		})
	}
}

func TestRequestBody(t *testing.T) {
	fa := newFlexAuth(t, byResource)
	c := newClient(t, fa.srv.URL+"/", 5*time.Second) // a trailing slash is tolerated
	ch := pull("stella-ops/public/a")
	ch.Context["client_id"] = "docker-cli"
	if _, err := c.Check(context.Background(), ch); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(fa.requests[0])
	want := `{"action":"registry.pull","actor":"user-1","context":{"client_id":"docker-cli","plan":"community","service":"registry.localhost"},"resource":"stella-ops/public/a","subject":"user-1"}`
	if string(b) != want {
		t.Fatalf("request %s\nwant    %s", b, want)
	}
}

// closedURL returns the URL of a port nothing listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return "http://" + addr
}

func TestOutages(t *testing.T) {
	cases := []struct {
		name    string
		respond func(w http.ResponseWriter, r *http.Request, req map[string]any)
		url     func(t *testing.T) string
		want    error
		detail  string
	}{
		{name: "connection refused", url: closedURL, want: policyclient.ErrUnavailable, detail: "refused"},
		{name: "unresolvable host", url: func(*testing.T) string { return "http://flex-auth.invalid:8080" },
			want: policyclient.ErrUnavailable, detail: "lookup"},
		{name: "slow beyond timeout", respond: func(w http.ResponseWriter, r *http.Request, _ map[string]any) { <-r.Context().Done() },
			want: policyclient.ErrTimeout},
		{name: "slow body beyond timeout", respond: func(w http.ResponseWriter, r *http.Request, _ map[string]any) {
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte(`{"decision_id":`))
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}, want: policyclient.ErrTimeout},
		{name: "garbage JSON", respond: func(w http.ResponseWriter, _ *http.Request, _ map[string]any) {
			_, _ = w.Write([]byte("<html>upstream connect error</html>"))
		}, want: policyclient.ErrInvalidResponse, detail: "not a JSON object"},
		{name: "JSON null", respond: func(w http.ResponseWriter, _ *http.Request, _ map[string]any) { _, _ = w.Write([]byte("null")) },
			want: policyclient.ErrInvalidResponse, detail: "no effect"},
		{name: "500", respond: func(w http.ResponseWriter, _ *http.Request, _ map[string]any) {
			http.Error(w, `{"error":"server_error"}`, http.StatusInternalServerError)
		}, want: policyclient.ErrInvalidResponse, detail: "status 500"},
		{name: "400 problem (request refused)", respond: func(w http.ResponseWriter, _ *http.Request, _ map[string]any) {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_request","field":"context.plan"}`))
		}, want: policyclient.ErrInvalidResponse, detail: "status 400"},
		{name: "wrong effect value", respond: func(w http.ResponseWriter, _ *http.Request, _ map[string]any) { envelope(w, "permit", "x") },
			want: policyclient.ErrInvalidResponse, detail: "neither allow nor deny"},
		{name: "effect of the wrong type", respond: func(w http.ResponseWriter, _ *http.Request, _ map[string]any) {
			_, _ = w.Write([]byte(`{"decision_id":"decision:0000000000000001","effect":true}`))
		}, want: policyclient.ErrInvalidResponse},
		{name: "missing effect", respond: func(w http.ResponseWriter, _ *http.Request, _ map[string]any) {
			_, _ = w.Write([]byte(`{"decision_id":"decision:0000000000000001","reason":"x"}`))
		}, want: policyclient.ErrInvalidResponse, detail: "no effect"},
		{name: "allow without decision id", respond: func(w http.ResponseWriter, _ *http.Request, _ map[string]any) {
			_, _ = w.Write([]byte(`{"effect":"allow","reason":"x"}`))
		}, want: policyclient.ErrInvalidResponse, detail: "no decision id"},
		{name: "oversized body", respond: func(w http.ResponseWriter, _ *http.Request, _ map[string]any) {
			pad := strings.Repeat("a", policyclient.MaxResponseBytes)
			fmt.Fprintf(w, `{"decision_id":"decision:0000000000000001","effect":"allow","reason":"x","pad":%q}`, pad)
		}, want: policyclient.ErrInvalidResponse, detail: "exceeds 65536 bytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var url string
			if tc.url != nil {
				url = tc.url(t)
			} else {
				url = newFlexAuth(t, tc.respond).srv.URL
			}
			c := newClient(t, url, 300*time.Millisecond)
			got, err := c.CheckAll(context.Background(), []policyclient.Check{pull("stella-ops/public/a"), pull("stella-ops/public/b")})
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			for _, other := range []error{policyclient.ErrUnavailable, policyclient.ErrTimeout, policyclient.ErrInvalidResponse} {
				if !errors.Is(tc.want, other) && errors.Is(err, other) {
					t.Fatalf("err %v matches %v as well", err, other)
				}
			}
			if !strings.Contains(err.Error(), tc.detail) {
				t.Fatalf("err %q lacks %q", err, tc.detail)
			}
			for i, d := range got {
				if d.Allowed() {
					t.Fatalf("decision %d is an allow despite the outage: %+v", i, d)
				}
			}
		})
	}
}

// flex-auth answers 503 with effect deny when it cannot write its decision
// log: that is a decision (deny), not an outage.
func TestNon200WellFormedDenyIsADeny(t *testing.T) {
	fa := newFlexAuth(t, func(w http.ResponseWriter, _ *http.Request, _ map[string]any) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"type":"about:blank","status":503,"error":"decision_log_unavailable","effect":"deny","reason":"decision_log_unavailable"}`))
	})
	d, err := newClient(t, fa.srv.URL, time.Second).Check(context.Background(), pull("stella-ops/public/a"))
	if err != nil {
		t.Fatal(err)
	}
	if d.Effect != "deny" || d.Reason != "decision_log_unavailable" || d.ID != "" || !d.Known() {
		t.Fatalf("decision %+v", d)
	}
}

// A failure cancels the checks still running and keeps the decisions
// already received.
func TestFirstFailureStopsTheRest(t *testing.T) {
	var calls atomic.Int64
	fa := newFlexAuth(t, func(w http.ResponseWriter, r *http.Request, req map[string]any) {
		calls.Add(1)
		switch req["resource"] {
		case "broken":
			w.WriteHeader(http.StatusBadGateway)
		case "fast":
			envelope(w, "deny", "repository_quarantined")
		default:
			<-r.Context().Done()
		}
	})
	c, err := policyclient.New(policyclient.Config{URL: fa.srv.URL, Timeout: time.Minute, Concurrency: 1})
	if err != nil {
		t.Fatal(err)
	}
	checks := []policyclient.Check{pull("fast"), pull("broken")}
	for i := 0; i < 20; i++ {
		checks = append(checks, pull(fmt.Sprintf("slow/%d", i)))
	}
	got, err := c.CheckAll(context.Background(), checks)
	if !errors.Is(err, policyclient.ErrInvalidResponse) || !strings.Contains(err.Error(), "status 502") {
		t.Fatalf("err %v", err)
	}
	if got[0].Effect != "deny" || got[1].Known() {
		t.Fatalf("decisions %+v", got[:2])
	}
	if n := calls.Load(); n >= int64(len(checks)) {
		t.Fatalf("%d checks sent after the failure", n)
	}
}

func TestNewRejectsBadURL(t *testing.T) {
	for _, u := range []string{"", "flex-auth:8080", "ftp://flex-auth", "http://", "://x"} {
		if _, err := policyclient.New(policyclient.Config{URL: u}); err == nil {
			t.Errorf("New(%q) accepted", u)
		}
	}
	c, err := policyclient.New(policyclient.Config{URL: "http://flex-auth.flex-auth.svc.cluster.local:8080"})
	if err != nil || c.Timeout() != policyclient.DefaultTimeout {
		t.Fatalf("defaults: %v, timeout %v", err, c)
	}
}
