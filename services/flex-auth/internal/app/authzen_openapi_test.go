package app

import (
	"encoding/json"
	"testing"

	"github.com/stellaops/authgate/pkg/testkit/openapitest"
)

const todoDir = "../../../../configs/todo-app/"

// exerciseAuthZEN serves the ops-warden and the todo-app packages from
// one instance (--policy twice, --data) and checks every AuthZEN answer
// against the spec.
func exerciseAuthZEN(t *testing.T, s *openapitest.Spec) {
	in := start(t, "--policy", todoDir+"policy_package.md", "--data", todoDir+"entities.yaml")
	rick := `{"type":"user","id":"rick@the-citadel.com"}`
	todo := `{"type":"todo","id":"todo-1","properties":{"ownerID":"morty@the-citadel.com"}}`
	for _, tc := range []struct {
		method, path, body string
		status             int
	}{
		{"GET", "/.well-known/authzen-configuration", "", 200},
		{"GET", "/healthz", "", 200},
		{"POST", "/access/v1/evaluation", `{"subject":` + rick + `,"action":{"name":"can_delete_todo"},"resource":` + todo + `,"x":1}`, 200},
		{"POST", "/access/v1/evaluation", `{"subject":` + rick + `,"action":{"name":"unknown_action"},"resource":` + todo + `}`, 200},
		{"POST", "/access/v1/evaluation", `{"subject":{"type":"user"},"action":{"name":"can_delete_todo"},"resource":` + todo + `}`, 400},
		{"POST", "/access/v1/evaluations", `{"subject":` + rick + `,"resource":` + todo + `,"evaluations":[{"action":{"name":"can_read_todos"}},{"action":{"name":"can_delete_todo"}}]}`, 200},
		{"POST", "/access/v1/evaluations", `{"subject":` + rick + `,"resource":` + todo + `,"action":{"name":"can_read_todos"}}`, 200},
		{"POST", "/access/v1/evaluations", `{"subject":` + rick + `,"evaluations":[{"action":{"name":"can_read_todos"}}]}`, 200},
		{"POST", "/access/v1/evaluations", `{"subject":` + rick + `,"action":{"name":"can_read_todos"}}`, 400},
		{"POST", "/access/v1/search/subject", `{"subject":{"type":"user"},"action":{"name":"can_create_todo"},"resource":` + todo + `,"page":{"limit":2}}`, 200},
		{"POST", "/access/v1/search/subject", `{"subject":{"type":"user"},"action":{"name":"can_create_todo"},"resource":` + todo + `,"page":{"limit":100000}}`, 200},
		{"POST", "/access/v1/search/subject", `{"subject":{"type":"user"},"action":{"name":"can_create_todo"},"resource":` + todo + `,"page":{"token":"bm90LWEtdG9rZW4"}}`, 400},
		{"POST", "/access/v1/search/resource", `{"subject":` + rick + `,"action":{"name":"can_delete_todo"},"resource":{"type":"todo"}}`, 200},
		{"POST", "/access/v1/search/action", `{"subject":` + rick + `,"resource":` + todo + `}`, 200},
		{"POST", "/access/v1/search/action", `{"subject":{"type":"user"},"resource":` + todo + `}`, 400},
	} {
		resp := do(t, s, in, tc.method, tc.path, tc.body)
		if resp.StatusCode != tc.status {
			t.Fatalf("%s %s %s: status %d, want %d", tc.method, tc.path, tc.body, resp.StatusCode, tc.status)
		}
		if tc.path != "/healthz" && resp.Header.Get("X-Request-ID") != requestID {
			t.Errorf("%s %s: X-Request-ID not echoed", tc.method, tc.path)
		}
	}
	_, b := in.get(t, "/healthz")
	var h struct {
		Packages []struct{ Package, Digest string }
		Data     struct{ Digest string }
	}
	if err := json.Unmarshal(b, &h); err != nil || len(h.Packages) != 2 || h.Packages[1].Package != "todo-app" || h.Data.Digest == "" {
		t.Fatalf("healthz: %s", b)
	}
}
