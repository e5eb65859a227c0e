package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/stellaops/authgate/services/flex-auth/internal/decisionlog"
	"github.com/stellaops/authgate/services/flex-auth/internal/engine"
)

// newAuthZEN serves the ops-warden and todo-app packages from one
// instance with the todo entity data.
func newAuthZEN(t *testing.T) (*echo.Echo, string) {
	t.Helper()
	sv := newServed(t, engine.Config{
		RegistryFile: cfgDir + "ops-warden/production_registry_snapshot.json",
		PolicyFile:   cfgDir + "ops-warden/policy_package.md",
		PolicyFiles:  []string{cfgDir + "todo-app/policy_package.md"},
		DataFile:     cfgDir + "todo-app/entities.yaml",
	}, decisionlog.SyncBatch)
	sv.srv.SetReady(true)
	return sv.h, sv.logFile
}

func post(t testing.TB, h http.Handler, path, ctype, body string, hdr ...string) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var out map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &out)
	return rec, out
}

func todoEval(sub, action, owner string) string {
	return `{"subject":{"type":"user","id":"` + sub + `"},"action":{"name":"` + action + `"},"resource":{"type":"todo","id":"todo-1","properties":{"ownerID":"` + owner + `"}},"unknown":{"ignored":[1,2]}}`
}

func logLines(t *testing.T, file string) []engine.Decision {
	t.Helper()
	lines, err := decisionlog.ReadDecisions(file)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]engine.Decision, len(lines))
	for i := range lines {
		out[i] = lines[i].Decision
	}
	return out
}

func TestEvaluationTodoScenarios(t *testing.T) {
	h, logFile := newAuthZEN(t)
	for _, tc := range []struct {
		sub, action, owner string
		allow              bool
	}{
		{"rick@the-citadel.com", "can_delete_todo", "morty@the-citadel.com", true},
		{"morty@the-citadel.com", "can_update_todo", "morty@the-citadel.com", true},
		{"morty@the-citadel.com", "can_update_todo", "rick@the-citadel.com", false},
		{"beth@the-smiths.com", "can_read_todos", "", true},
		{"beth@the-smiths.com", "can_create_todo", "", false},
		{"nobody@example.com", "can_read_user", "", false},
	} {
		rec, out := post(t, h, RouteAuthZEN, "application/json", todoEval(tc.sub, tc.action, tc.owner), HeaderRequestID, "req-7")
		if rec.Code != 200 || out["decision"] != tc.allow || rec.Header().Get(HeaderRequestID) != "req-7" {
			t.Fatalf("%+v: %d %s", tc, rec.Code, rec.Body)
		}
		ctx := out["context"].(map[string]any)
		if ctx["policy"].(map[string]any)["package"] != "todo-app" || ctx["data"].(map[string]any)["digest"] == "" {
			t.Fatalf("%+v: context %v", tc, ctx)
		}
	}
	lines := logLines(t, logFile)
	if len(lines) != 6 || lines[0].PolicyPackage != "todo-app" || lines[0].DataDigest == "" || lines[0].Effect != "allow" {
		t.Fatalf("log: %+v", lines)
	}
	// the ops-warden package still decides ssh.sign from the same instance
	rec, out := post(t, h, RouteCheck, "application/json", `{"actor":"atm-backup-daily"}`)
	if rec.Code != 200 || out["effect"] != "allow" || out["policy"].(map[string]any)["package"] != "ops-warden-ssh-signing" {
		t.Fatalf("check: %d %s", rec.Code, rec.Body)
	}
	if _, ok := out["data"]; ok {
		t.Fatalf("check envelope changed: %s", rec.Body)
	}
}

func TestEvaluationProtocolErrors(t *testing.T) {
	h, _ := newAuthZEN(t)
	for _, tc := range []struct{ ctype, body, field string }{
		{"text/plain", todoEval("a", "can_read_todos", ""), "Content-Type"},
		{"", todoEval("a", "can_read_todos", ""), "Content-Type"},
		{"application/json", `{"subject":{"type":"user"},"action":{"name":"x"},"resource":{"type":"todo","id":"1"}}`, "subject.id"},
		{"application/json", `{"subject":{"id":"a"},"action":{"name":"x"},"resource":{"type":"todo","id":"1"}}`, "subject.type"},
		{"application/json", `{"subject":{"type":"user","id":"a"},"action":{},"resource":{"type":"todo","id":"1"}}`, "action.name"},
		{"application/json", `{"subject":{"type":"user","id":"a"},"action":{"name":"x"},"resource":{"id":"1"}}`, "resource.type"},
		{"application/json", `{"subject":{"type":"user","id":"a"},"action":{"name":"x"},"resource":{"type":"todo"}}`, "resource.id"},
	} {
		rec, out := post(t, h, RouteAuthZEN, tc.ctype, tc.body, HeaderRequestID, "r1")
		if rec.Code != 400 || out["field"] != tc.field || rec.Header().Get(HeaderRequestID) != "r1" {
			t.Errorf("%s %s: %d %s", tc.ctype, tc.body, rec.Code, rec.Body)
		}
	}
	// /v1/check stays strict about unknown members
	rec, _ := post(t, h, RouteCheck, "application/json", `{"actor":"atm-backup-daily","extra":1}`)
	if rec.Code != 400 {
		t.Fatalf("check with an unknown member: %d", rec.Code)
	}
}

func TestEvaluationsBatch(t *testing.T) {
	h, logFile := newAuthZEN(t)
	body := func(sem string) string {
		return `{"subject":{"type":"user","id":"morty@the-citadel.com"},"resource":{"type":"todo","id":"todo-1","properties":{"ownerID":"rick@the-citadel.com"}},
		"options":{"evaluations_semantic":"` + sem + `"},
		"evaluations":[{"action":{"name":"can_read_todos"}},{"action":{"name":"can_delete_todo"}},{"action":{"name":"can_create_todo"}},
		  {"action":{"name":"can_delete_todo"},"resource":{"type":"todo","id":"todo-2","properties":{"ownerID":"morty@the-citadel.com"}}}]}`
	}
	for _, tc := range []struct {
		sem  string
		want []bool
	}{
		{"execute_all", []bool{true, false, true, true}},
		{"deny_on_first_deny", []bool{true, false}},
		{"permit_on_first_permit", []bool{true}},
	} {
		rec, out := post(t, h, RouteEvaluations, "application/json", body(tc.sem))
		evs, _ := out["evaluations"].([]any)
		if rec.Code != 200 || len(evs) != len(tc.want) {
			t.Fatalf("%s: %d %s", tc.sem, rec.Code, rec.Body)
		}
		for i, w := range tc.want {
			if evs[i].(map[string]any)["decision"] != w {
				t.Errorf("%s item %d: %v", tc.sem, i, evs[i])
			}
		}
	}
	if n := len(logLines(t, logFile)); n != 4+2+1 {
		t.Fatalf("%d log lines, want 7", n)
	}
	// without an evaluations array the batch endpoint answers one decision
	rec, out := post(t, h, RouteEvaluations, "application/json", todoEval("rick@the-citadel.com", "can_read_todos", ""))
	if rec.Code != 200 || out["decision"] != true {
		t.Fatalf("single: %d %s", rec.Code, rec.Body)
	}
}

func TestSearchAndDiscovery(t *testing.T) {
	h, logFile := newAuthZEN(t)
	q := `{"subject":{"type":"user"},"action":{"name":"can_create_todo"},"resource":{"type":"todo","id":"todo-1"},"page":{"limit":1}}`
	var got []string
	token := ""
	for i := 0; i < 10; i++ {
		body := q
		if token != "" {
			body = strings.Replace(q, `"limit":1`, `"limit":1,"token":"`+token+`"`, 1)
		}
		rec, out := post(t, h, RouteSearchSubject, "application/json", body)
		if rec.Code != 200 {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
		for _, r := range out["results"].([]any) {
			got = append(got, r.(map[string]any)["id"].(string))
		}
		token, _ = out["page"].(map[string]any)["next_token"].(string)
		if token == "" {
			break
		}
	}
	want := "morty@the-citadel.com,rick@the-citadel.com,summer@the-smiths.com"
	if strings.Join(got, ",") != want {
		t.Fatalf("subjects %v, want %s", got, want)
	}
	rec, out := post(t, h, RouteSearchAction, "application/json", `{"subject":{"type":"user","id":"beth@the-smiths.com"},"resource":{"type":"todo","id":"todo-1"}}`)
	if rec.Code != 200 || len(out["results"].([]any)) != 2 {
		t.Fatalf("actions: %d %s", rec.Code, rec.Body)
	}
	rec, out = post(t, h, RouteSearchResource, "application/json", `{"subject":{"type":"user","id":"rick@the-citadel.com"},"action":{"name":"can_delete_todo"},"resource":{"type":"todo"}}`)
	if rec.Code != 200 || len(out["results"].([]any)) != 1 {
		t.Fatalf("resources: %d %s", rec.Code, rec.Body)
	}
	rec, _ = post(t, h, RouteSearchSubject, "application/json", `{"subject":{"type":"user"},"action":{"name":"x"},"resource":{"type":"todo","id":"1"},"page":{"token":"bogus"}}`)
	if rec.Code != 400 {
		t.Fatalf("bad token: %d", rec.Code)
	}
	searches := 0
	for _, l := range logLines(t, logFile) {
		if strings.HasPrefix(l.Endpoint, "/access/v1/search/") {
			searches++
			if l.PolicyPackage == "" {
				t.Errorf("search line without package: %+v", l)
			}
		}
	}
	if searches < 4 {
		t.Fatalf("%d search lines", searches)
	}
	req := httptest.NewRequest(http.MethodGet, RouteConfiguration, nil)
	req.Host = "pdp.example:8080"
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, req)
	var meta Configuration
	if err := json.Unmarshal(rr.Body.Bytes(), &meta); err != nil || meta.AccessEvaluationsEndpoint != "http://pdp.example:8080/access/v1/evaluations" || meta.SearchActionEndpoint == "" {
		t.Fatalf("%d %s", rr.Code, rr.Body)
	}
	req = httptest.NewRequest(http.MethodGet, RouteHealth, nil)
	rr = httptest.NewRecorder()
	h.ServeHTTP(rr, req)
	var hl Health
	if err := json.Unmarshal(rr.Body.Bytes(), &hl); err != nil || len(hl.Packages) != 2 || hl.Data == nil || hl.Data.Subjects != 5 {
		t.Fatalf("healthz %s", rr.Body)
	}
}
