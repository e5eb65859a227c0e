package app

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/stellaops/authgate/pkg/testkit/openapitest"
)

const specFile = "../../../../api/flex-auth.openapi.yaml"

// requestID is the X-Request-ID every request of do carries.
const requestID = "contract-1"

// do sends one JSON request and checks the answer against the spec.
func do(t *testing.T, s *openapitest.Spec, in *instance, method, path, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, in.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Request-ID", requestID)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	s.ValidateResponse(t, method, path, resp, b)
	return resp
}

func TestResponsesMatchTheOpenAPISpec(t *testing.T) {
	s := openapitest.Load(t, specFile)
	in := start(t)
	for _, tc := range []struct {
		method, path, body string
		status             int
	}{
		{"GET", "/healthz", "", 200},
		{"GET", "/readyz", "", 200},
		{"GET", "/metrics", "", 200},
		{"POST", "/v1/check", `{"actor":"agt-state-hub-bridge","subject":"iam:agt-state-hub-bridge","ttl_hours":24}`, 200},
		{"POST", "/v1/check", `{"actor":"agt-state-hub-bridge","ttl_hours":999}`, 200},
		{"POST", "/v1/check", `{"actor":"agt-nobody"}`, 200},
		{"POST", "/v1/check", `{"actor":"agt-state-hub-bridge","ttl":1}`, 400},
		{"POST", "/access/v1/evaluation", `{"subject":{"type":"actor","id":"iam:atm-backup-daily"},"action":{"name":"ssh.sign"},"resource":{"type":"host","id":"backup-1"},"context":{"ttl_hours":8}}`, 200},
		{"POST", "/access/v1/evaluation", `{"subject":{"type":"user","id":"alice","properties":{"actor":"adm-example"}},"action":{"name":"ssh.sign"},"resource":{"type":"host","id":"h"}}`, 200},
		{"POST", "/access/v1/evaluation", `{"subject":{"type":"actor","id":"adm-example"},"action":{"name":"ssh.sign"},"resource":{"type":"host","id":"h"},"context":{"ttl_hours":999}}`, 200},
		{"POST", "/access/v1/evaluation", `{"subject":{"type":"actor"},"action":{"name":"ssh.sign"},"resource":{"type":"host","id":"h"}}`, 400},
	} {
		if resp := do(t, s, in, tc.method, tc.path, tc.body); resp.StatusCode != tc.status {
			t.Fatalf("%s %s %s: status %d, want %d", tc.method, tc.path, tc.body, resp.StatusCode, tc.status)
		}
	}
	// Fail closed: with the log file removed the next decision is a 503.
	if err := os.Remove(in.logFile); err != nil {
		t.Fatal(err)
	}
	if resp := do(t, s, in, "POST", "/v1/check", `{"actor":"adm-example"}`); resp.StatusCode != 503 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if resp := do(t, s, in, "GET", "/healthz", ""); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	exerciseAuthZEN(t, s)
	// Every operation of the spec was exercised.
	for _, op := range s.Uncovered() {
		t.Errorf("%s is in the spec but not exercised", op)
	}
}

func TestAuthZENMapping(t *testing.T) {
	in := start(t)
	for _, tc := range []struct {
		body     string
		decision bool
		reason   string
	}{
		{`{"subject":{"type":"actor","id":"agt-state-hub-bridge"},"action":{"name":"ssh.sign"},"resource":{"type":"host","id":"h"}}`, true, "signing_policy_matched"},
		{`{"subject":{"type":"actor","id":"iam:agt-state-hub-bridge"},"action":{"name":"ssh.sign"},"resource":{"type":"host","id":"h"},"context":{"principal":"agt-task-bridge","ttl_hours":24}}`, true, "signing_policy_matched"},
		{`{"subject":{"type":"actor","id":"agt-state-hub-bridge"},"action":{"name":"ssh.sign"},"resource":{"type":"host","id":"h","properties":{"ttl_hours":999}}}`, false, "ttl_out_of_bounds"},
		{`{"subject":{"type":"actor","id":"iam:adm-example","properties":{"actor":"agt-state-hub-bridge"}},"action":{"name":"ssh.sign"},"resource":{"type":"host","id":"h"}}`, false, "subject_not_bound"},
		{`{"subject":{"type":"actor","id":"agt-nobody"},"action":{"name":"ssh.sign"},"resource":{"type":"host","id":"h"}}`, false, "unknown_actor_resource"},
		{`{"subject":{"type":"actor","id":"adm-example"},"action":{"name":"db.read"},"resource":{"type":"db","id":"d"}}`, false, "action_not_supported"},
	} {
		code, b := in.post(t, "/access/v1/evaluation", tc.body)
		var r struct {
			Decision bool
			Context  struct {
				DecisionID string `json:"decision_id"`
				Reason     string
			}
		}
		if err := json.Unmarshal(b, &r); err != nil || code != 200 {
			t.Fatalf("%s: %d %s", tc.body, code, b)
		}
		if r.Decision != tc.decision || r.Context.Reason != tc.reason {
			t.Fatalf("%s: got %v/%s", tc.body, r.Decision, r.Context.Reason)
		}
		if l, ok := logLines(t, in.logFile)[r.Context.DecisionID]; !ok || l.Endpoint != "/access/v1/evaluation" {
			t.Fatalf("evaluation %s not logged: %+v", r.Context.DecisionID, l)
		}
	}
}
