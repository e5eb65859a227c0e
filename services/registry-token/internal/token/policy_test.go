package token_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stellaops/authgate/pkg/plans"
	"github.com/stellaops/authgate/services/registry-token/internal/policyclient"
	"github.com/stellaops/authgate/services/registry-token/internal/token"
)

// policyPlans grant delete and quarantined repositories, so that the
// policy has something to take away.
func policyPlans() map[string][]plans.Rule {
	return map[string][]plans.Rule{
		"community": {{Repository: "stella-ops/public/*"}, {Repository: "quarantine/*"}, {Repository: "broken/*"}},
		"enterprise": {{Repository: "stella-ops/*/*", Actions: []string{"pull", "push", "delete"}},
			{Repository: "quarantine/*", Actions: []string{"pull", "push"}}, {Catalog: true}},
	}
}

// policyServer stands in for flex-auth's POST /v1/check. Its policy:
// deny quarantine/*, deny registry.delete unless the plan is enterprise
// and the client is not ci-bot, allow the rest. Resources named
// "broken/*" get answer instead of a decision.
type policyServer struct {
	srv    *httptest.Server
	mu     sync.Mutex
	checks []map[string]any
	ids    []string
	seq    atomic.Int64
	answer func(w http.ResponseWriter, r *http.Request)
}

func newPolicyServer(t *testing.T) *policyServer {
	t.Helper()
	p := &policyServer{}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req map[string]any
		if r.URL.Path != "/v1/check" || json.NewDecoder(r.Body).Decode(&req) != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		res, _ := req["resource"].(string)
		if strings.HasPrefix(res, "broken/") && p.answer != nil {
			p.answer(w, r)
			return
		}
		ctx, _ := req["context"].(map[string]any)
		effect, reason := "allow", "registry_access_allowed"
		switch {
		case strings.HasPrefix(res, "quarantine/"):
			effect, reason = "deny", "repository_quarantined"
		case req["action"] == "registry.delete" && (ctx["plan"] != "enterprise" || ctx["client_id"] == "ci-bot"):
			effect, reason = "deny", "delete_not_allowed"
		}
		id := fmt.Sprintf("decision:%016x", p.seq.Add(1))
		p.mu.Lock()
		p.checks = append(p.checks, req)
		p.ids = append(p.ids, id)
		p.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"decision_id":%q,"effect":%q,"reason":%q,"backend":"flex-auth"}`, id, effect, reason)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *policyServer) gate(t *testing.T, url string, timeout time.Duration, concurrency int) token.Gate {
	t.Helper()
	c, err := policyclient.New(policyclient.Config{URL: url, Timeout: timeout, Concurrency: concurrency})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// issueWith requests query with an OpTok of plan (and client_id when set).
func issueWith(f *fixture, plan, clientID, query string) *httptest.ResponseRecorder {
	c := f.claims()
	c["stellaops:plan"] = plan
	if clientID != "" {
		c["client_id"] = clientID
	}
	tok := f.mint(c)
	return f.do(request(query, "DPoP "+tok, f.proof(tok)))
}

// lastDecision returns the context of the last decision log line.
func lastDecision(t *testing.T, f *fixture) map[string]any {
	t.Helper()
	all := f.logs.All()
	for i := len(all) - 1; i >= 0; i-- {
		if strings.HasPrefix(all[i].Message, "token ") {
			return all[i].ContextMap()
		}
	}
	t.Fatal("no decision line")
	return nil
}

func strs(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case []any:
		s := make([]string, len(x))
		for i, e := range x {
			s[i] = fmt.Sprint(e)
		}
		return strings.Join(s, " ")
	case []string:
		return strings.Join(x, " ")
	}
	return fmt.Sprint(v)
}

func TestPolicyShapesTheGrant(t *testing.T) {
	const svc = "service=registry.localhost"
	cases := []struct {
		name, plan, clientID, query string
		access                      string // JSON access claim; "" for a 403
		checks                      []string
		policyDenied                string
	}{
		{name: "a denied action is removed, the others kept", plan: "community", clientID: "ci-bot",
			query:  svc + "&scope=repository:stella-ops/public/base:pull",
			access: `[{"actions":["pull"],"name":"stella-ops/public/base","type":"repository"}]`,
			checks: []string{"registry.pull stella-ops/public/base"}},
		{name: "delete dropped for ci-bot", plan: "enterprise", clientID: "ci-bot",
			query:        svc + "&scope=repository:stella-ops/acme/app:pull,push,delete",
			access:       `[{"actions":["pull","push"],"name":"stella-ops/acme/app","type":"repository"}]`,
			checks:       []string{"registry.pull stella-ops/acme/app", "registry.push stella-ops/acme/app", "registry.delete stella-ops/acme/app"},
			policyDenied: "repository:stella-ops/acme/app:delete"},
		{name: "delete kept for other enterprise clients", plan: "enterprise", clientID: "console",
			query:  svc + "&scope=repository:stella-ops/acme/app:delete",
			access: `[{"actions":["delete"],"name":"stella-ops/acme/app","type":"repository"}]`,
			checks: []string{"registry.delete stella-ops/acme/app"}},
		{name: "only the quarantined repository is removed", plan: "enterprise",
			query:        svc + "&scope=repository:stella-ops/acme/app:pull+repository:quarantine/x:pull,push+registry:catalog:*",
			access:       `[{"actions":["pull"],"name":"stella-ops/acme/app","type":"repository"},{"actions":["*"],"name":"catalog","type":"registry"}]`,
			checks:       []string{"registry.pull stella-ops/acme/app", "registry.pull quarantine/x", "registry.push quarantine/x", "registry.catalog catalog"},
			policyDenied: "repository:quarantine/x:pull,push"},
		{name: "everything the plan grants is denied", plan: "community",
			query:        svc + "&scope=repository:quarantine/x:pull",
			checks:       []string{"registry.pull quarantine/x"},
			policyDenied: "repository:quarantine/x:pull"},
		{name: "docker login asks nothing", plan: "community", query: svc, access: `[]`},
		{name: "the plan check comes first", plan: "community", query: svc + "&scope=repository:other/x:pull"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ps := newPolicyServer(t)
			f := newFixture(t, options{plans: policyPlans(), gate: ps.gate(t, ps.srv.URL, 5*time.Second, 0)})
			rec := issueWith(f, tc.plan, tc.clientID, tc.query)

			var sent []string
			for _, c := range ps.checks {
				sent = append(sent, fmt.Sprint(c["action"], " ", c["resource"]))
				wantCtx := map[string]any{"service": "registry.localhost", "plan": tc.plan}
				if tc.clientID != "" {
					wantCtx["client_id"] = tc.clientID
				}
				if c["actor"] != "user-1" || c["subject"] != "user-1" || fmt.Sprint(c["context"]) != fmt.Sprint(wantCtx) {
					t.Fatalf("check %v", c)
				}
			}
			if fmt.Sprint(sorted(sent)) != fmt.Sprint(sorted(tc.checks)) {
				t.Fatalf("checks sent %q, want %q", sent, tc.checks)
			}
			line := lastDecision(t, f)
			if got := strs(line["policy_decisions"]); fmt.Sprint(sorted(strings.Fields(got))) != fmt.Sprint(sorted(ps.ids)) {
				t.Fatalf("policy_decisions %q, flex-auth gave %q", got, ps.ids)
			}
			if got := strs(line["policy_denied"]); tc.policyDenied != "" && got != tc.policyDenied || tc.policyDenied == "" && line["policy_denied"] != nil {
				t.Fatalf("policy_denied %q, want %q", got, tc.policyDenied)
			}
			if tc.access != "" {
				if rec.Code != http.StatusOK {
					t.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
				if got := accessOf(t, issued(t, f, rec, rec.Body.Bytes())); got != tc.access {
					t.Fatalf("access %s, want %s", got, tc.access)
				}
				return
			}
			if rec.Code != http.StatusForbidden {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			want := "not_entitled"
			if len(tc.checks) > 0 {
				want = "policy_denied"
			}
			if p := problem(t, rec); p["error"] != "access_denied" || p["reason"] != want {
				t.Fatalf("problem %v", p)
			}
			if line["reason"] != want || counter(t, f, "registry_token_rejected_total", want) != 1 {
				t.Fatalf("reason %v, counter %v", line["reason"], counter(t, f, "registry_token_rejected_total", want))
			}
		})
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// closedPort returns a URL nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return u
}

func TestPolicyOutages(t *testing.T) {
	const query = "service=registry.localhost&scope=repository:quarantine/x:pull+repository:broken/app:pull"
	outages := []struct {
		name   string
		reason string
		answer func(w http.ResponseWriter, r *http.Request)
		down   bool
	}{
		{name: "flex-auth down", reason: "policy_unavailable", down: true},
		{name: "slow beyond timeout", reason: "policy_timeout", answer: func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }},
		{name: "garbage", reason: "policy_invalid_response", answer: func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte("{not json"))
		}},
		{name: "500", reason: "policy_invalid_response", answer: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusInternalServerError)
		}},
		{name: "unknown effect", reason: "policy_invalid_response", answer: func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`{"decision_id":"decision:00000000000000ff","effect":"maybe"}`))
		}},
	}
	for _, o := range outages {
		for _, failOpen := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s failOpen=%v", o.name, failOpen), func(t *testing.T) {
				ps := newPolicyServer(t)
				ps.answer = o.answer
				url := ps.srv.URL
				if o.down {
					url = closedPort(t)
				}
				// Concurrency 1: quarantine/x is decided (deny) before
				// broken/app fails.
				f := newFixture(t, options{plans: policyPlans(), failOpen: failOpen,
					gate: ps.gate(t, url, 300*time.Millisecond, 1)})
				rec := issueWith(f, "community", "", query)
				line := lastDecision(t, f)
				if !failOpen {
					if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != token.RetryAfter {
						t.Fatalf("status %d Retry-After %q: %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
					}
					p := problem(t, rec)
					errs, _ := p["errors"].([]any)
					if p["error"] != "temporarily_unavailable" || p["reason"] != o.reason || len(errs) != 1 {
						t.Fatalf("problem %v", p)
					}
					if line["reason"] != o.reason {
						t.Fatalf("decision line %v", line)
					}
					for _, r := range []string{"policy_unavailable", "policy_timeout", "policy_invalid_response"} {
						want := 0.0
						if r == o.reason {
							want = 1
						}
						if got := counter(t, f, "registry_token_rejected_total", r); got != want {
							t.Fatalf("registry_token_rejected_total{reason=%q} = %v, want %v", r, got, want)
						}
					}
					return
				}
				// Fail-open: the plan's grant minus what flex-auth denied.
				if rec.Code != http.StatusOK {
					t.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
				access := accessOf(t, issued(t, f, rec, rec.Body.Bytes()))
				want := `[{"actions":["pull"],"name":"broken/app","type":"repository"}]`
				if o.down {
					want = `[{"actions":["pull"],"name":"quarantine/x","type":"repository"},{"actions":["pull"],"name":"broken/app","type":"repository"}]`
				}
				if access != want {
					t.Fatalf("access %s, want %s", access, want)
				}
				if line["policy_fail_open"] != o.reason || f.logs.FilterMessageSnippet("WITHOUT the policy check").Len() != 1 {
					t.Fatalf("decision line %v", line)
				}
				if got := counter(t, f, "registry_token_policy_fail_open_total", o.reason); got != 1 {
					t.Fatalf("registry_token_policy_fail_open_total{reason=%q} = %v", o.reason, got)
				}
				if got := counter(t, f, "registry_token_issued_total", ""); got != 1 {
					t.Fatalf("issued %v", got)
				}
			})
		}
	}
}
