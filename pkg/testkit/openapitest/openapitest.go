// Package openapitest checks real HTTP responses against an OpenAPI 3.1
// document in tests:
//
//	spec := openapitest.Load(t, "../../../../api/flex-auth.openapi.yaml")
//	spec.ValidateResponse(t, "GET", "/healthz", resp, body)
//	for _, op := range spec.Uncovered() { t.Errorf("%s is not exercised", op) }
//
// Response schemas are compiled with santhosh-tekuri/jsonschema (draft
// 2020-12, formats asserted); a $ref to a shared response is followed.
package openapitest

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

// base is the URL the document is registered under in the compiler.
const base = "file:///spec.json"

// Spec is a loaded OpenAPI document.
type Spec struct {
	// Doc is the document as generic JSON values.
	Doc map[string]any
	// Compiler holds the document; compile any part of it with
	// Schema or Compiler.Compile("file:///spec.json#/...").
	Compiler *jsonschema.Compiler

	mu      sync.Mutex
	covered map[string]bool // "METHOD path"
}

// Load reads the OpenAPI 3.1 YAML document file.
func Load(t testing.TB, file string) *Spec {
	t.Helper()
	raw, err := os.ReadFile(file)
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
	if err := c.AddResource(base, doc); err != nil {
		t.Fatal(err)
	}
	m, _ := doc.(map[string]any)
	if v := m["openapi"]; v != "3.1.0" {
		t.Fatalf("%s: openapi version %v, want 3.1.0", file, v)
	}
	return &Spec{Doc: m, Compiler: c, covered: map[string]bool{}}
}

// Schema compiles the named schema of components/schemas.
func (s *Spec) Schema(t testing.TB, name string) *jsonschema.Schema {
	t.Helper()
	sch, err := s.Compiler.Compile(base + "#/components/schemas/" + escape(name))
	if err != nil {
		t.Fatalf("schema %s: %v", name, err)
	}
	return sch
}

// ValidateResponse checks the required headers of the operation's
// response for resp's status, then validates its media type and body.
func (s *Spec) ValidateResponse(t testing.TB, method, route string, resp *http.Response, body []byte) {
	t.Helper()
	status := strconv.Itoa(resp.StatusCode)
	r, _ := s.response(t, method, route, status, body)
	if hs, ok := r["headers"].(map[string]any); ok {
		for name, h := range hs {
			if req, _ := h.(map[string]any)["required"].(bool); req && resp.Header.Get(name) == "" {
				t.Errorf("%s %s %s: required header %s missing", method, route, status, name)
			}
		}
	}
	s.Validate(t, method, route, resp.StatusCode, resp.Header.Get("Content-Type"), body)
}

// Validate checks that the spec describes status for the operation
// (method, route template), that contentType is one of the response's
// media types, and that body matches its schema (a text/plain body is
// validated as a string). The operation then counts as covered.
func (s *Spec) Validate(t testing.TB, method, route string, status int, contentType string, body []byte) {
	t.Helper()
	st := strconv.Itoa(status)
	r, ptr := s.response(t, method, route, st, body)
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		t.Fatalf("%s %s: content type %q", method, route, contentType)
	}
	if Dig(r, "content", mt) == nil {
		t.Fatalf("%s %s %s: media type %s not in the spec", method, route, st, mt)
	}
	sch, err := s.Compiler.Compile(base + ptr + "/content/" + escape(mt) + "/schema")
	if err != nil {
		t.Fatalf("compile schema for %s %s %s: %v", method, route, st, err)
	}
	var inst any = string(body)
	if mt != "text/plain" {
		inst, err = jsonschema.UnmarshalJSON(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("%s %s: body is not JSON: %v: %s", method, route, err, body)
		}
	}
	if err := sch.Validate(inst); err != nil {
		t.Fatalf("%s %s %s: response does not match the spec: %v\n%s", method, route, st, err, body)
	}
	s.mu.Lock()
	s.covered[strings.ToUpper(method)+" "+route] = true
	s.mu.Unlock()
}

// response returns the response object for status (following a $ref)
// and its JSON pointer.
func (s *Spec) response(t testing.TB, method, route, status string, body []byte) (map[string]any, string) {
	t.Helper()
	op, ok := Dig(s.Doc, "paths", route, strings.ToLower(method)).(map[string]any)
	if !ok {
		t.Fatalf("%s %s not in the spec", method, route)
	}
	r, ok := Dig(op, "responses", status).(map[string]any)
	if !ok {
		t.Fatalf("%s %s: status %s not in the spec (body %s)", method, route, status, body)
	}
	ptr := "#/paths/" + escape(route) + "/" + strings.ToLower(method) + "/responses/" + status
	if ref, ok := r["$ref"].(string); ok {
		ptr = ref
		r, ok = Dig(s.Doc, strings.Split(strings.TrimPrefix(ref, "#/"), "/")...).(map[string]any)
		if !ok {
			t.Fatalf("%s %s %s: $ref %s not found", method, route, status, ref)
		}
	}
	return r, ptr
}

// Uncovered lists the operations of the spec ("METHOD path", sorted) that
// no Validate call has covered.
func (s *Spec) Uncovered() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	paths, _ := s.Doc["paths"].(map[string]any)
	for route, ops := range paths {
		m, _ := ops.(map[string]any)
		for method := range m {
			if op := strings.ToUpper(method) + " " + route; !s.covered[op] {
				out = append(out, op)
			}
		}
	}
	slices.Sort(out)
	return out
}

// Dig follows keys through nested JSON objects; nil when one is missing.
func Dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// escape escapes a JSON pointer token (RFC 6901).
func escape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}
