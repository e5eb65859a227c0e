package serve

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

const specFile = "../../../../api/flex-auth.openapi.yaml"

type apiSpec struct {
	doc      map[string]any
	compiler *jsonschema.Compiler
	covered  map[string]bool // "METHOD path status"
}

func loadSpec(t *testing.T) *apiSpec {
	t.Helper()
	raw, err := os.ReadFile(specFile)
	if err != nil {
		t.Fatal(err)
	}
	var y any
	if err := yaml.Unmarshal(raw, &y); err != nil {
		t.Fatal(err)
	}
	j, err := json.Marshal(y)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource("file:///spec.json", doc); err != nil {
		t.Fatal(err)
	}
	m := doc.(map[string]any)
	if m["openapi"] != "3.1.0" {
		t.Fatalf("openapi = %v", m["openapi"])
	}
	return &apiSpec{doc: m, compiler: c, covered: map[string]bool{}}
}

func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// validate checks one real response against the spec's response for its
// operation and status: the media type, and the body against the schema.
func (s *apiSpec) validate(t *testing.T, method, path string, resp *http.Response, body []byte) {
	t.Helper()
	status := strconv.Itoa(resp.StatusCode)
	ptr := "#/paths/" + escapePointer(path) + "/" + strings.ToLower(method) + "/responses/" + status
	r, ok := dig(s.doc, "paths", path, strings.ToLower(method), "responses", status).(map[string]any)
	if !ok {
		t.Fatalf("%s %s: status %s not in the spec (body %s)", method, path, status, body)
	}
	if ref, ok := r["$ref"].(string); ok {
		ptr = ref
		name := strings.TrimPrefix(ref, "#/components/responses/")
		r = dig(s.doc, "components", "responses", name).(map[string]any)
	}
	mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("%s %s: content type %q", method, path, resp.Header.Get("Content-Type"))
	}
	if dig(r, "content", mt) == nil {
		t.Fatalf("%s %s %s: media type %s not in the spec", method, path, status, mt)
	}
	sch, err := s.compiler.Compile("file:///spec.json" + ptr + "/content/" + escapePointer(mt) + "/schema")
	if err != nil {
		t.Fatalf("compile schema for %s %s %s: %v", method, path, status, err)
	}
	var inst any = string(body)
	if mt != "text/plain" {
		inst, err = jsonschema.UnmarshalJSON(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("%s %s: body is not JSON: %v", method, path, err)
		}
	}
	if err := sch.Validate(inst); err != nil {
		t.Fatalf("%s %s %s: response does not match the spec: %v\n%s", method, path, status, err, body)
	}
	s.covered[method+" "+path+" "+status] = true
}

func (s *apiSpec) do(t *testing.T, in *instance, method, path, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, in.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	s.validate(t, method, path, resp, b)
	return resp
}

func TestResponsesMatchTheOpenAPISpec(t *testing.T) {
	s := loadSpec(t)
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
		if resp := s.do(t, in, tc.method, tc.path, tc.body); resp.StatusCode != tc.status {
			t.Fatalf("%s %s %s: status %d, want %d", tc.method, tc.path, tc.body, resp.StatusCode, tc.status)
		}
	}
	// Fail closed: with the log file removed the next decision is a 503.
	if err := os.Remove(in.logFile); err != nil {
		t.Fatal(err)
	}
	if resp := s.do(t, in, "POST", "/v1/check", `{"actor":"adm-example"}`); resp.StatusCode != 503 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if resp := s.do(t, in, "GET", "/healthz", ""); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	// Every operation of the spec was exercised.
	for path, ops := range s.doc["paths"].(map[string]any) {
		for method := range ops.(map[string]any) {
			found := false
			for k := range s.covered {
				if strings.HasPrefix(k, strings.ToUpper(method)+" "+path+" ") {
					found = true
				}
			}
			if !found {
				t.Errorf("%s %s is in the spec but not exercised", strings.ToUpper(method), path)
			}
		}
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
