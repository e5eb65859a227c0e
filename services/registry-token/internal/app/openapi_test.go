package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/stellaops/authgate/pkg/dpop"
	"github.com/stellaops/authgate/services/registry-token/internal/app"
	"github.com/stellaops/authgate/services/registry-token/internal/authority/authoritytest"
)

const specFile = "../../../../api/registry-token.openapi.yaml"

// spec is the OpenAPI document as generic JSON values.
type spec struct {
	doc      map[string]any
	compiler *jsonschema.Compiler
}

func loadSpec(t *testing.T) *spec {
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
	if v := doc.(map[string]any)["openapi"]; v != "3.1.0" {
		t.Fatalf("openapi version %v", v)
	}
	return &spec{doc: doc.(map[string]any), compiler: c}
}

func pointerEscape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// check validates one real response against the operation's response.
func (s *spec) check(t *testing.T, method, path string, resp *http.Response, body []byte) {
	t.Helper()
	op, ok := dig(s.doc, "paths", path, strings.ToLower(method)).(map[string]any)
	if !ok {
		t.Fatalf("%s %s not in the spec", method, path)
	}
	status := strconv.Itoa(resp.StatusCode)
	r, ok := dig(op, "responses", status).(map[string]any)
	if !ok {
		t.Fatalf("%s %s: status %s not in the spec (body %s)", method, path, status, body)
	}
	ptr := "#/paths/" + pointerEscape(path) + "/" + strings.ToLower(method) + "/responses/" + status
	if ref, ok := r["$ref"].(string); ok {
		ptr = ref
		r = dig(s.doc, strings.Split(strings.TrimPrefix(ref, "#/"), "/")...).(map[string]any)
	}
	if hs, ok := r["headers"].(map[string]any); ok {
		for name, h := range hs {
			if req, _ := h.(map[string]any)["required"].(bool); req && resp.Header.Get(name) == "" {
				t.Errorf("%s %s %s: required header %s missing", method, path, status, name)
			}
		}
	}
	ct, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("%s %s: content type %q", method, path, resp.Header.Get("Content-Type"))
	}
	content, _ := r["content"].(map[string]any)
	if _, ok := content[ct]; !ok {
		t.Fatalf("%s %s %s: content type %s not in the spec", method, path, status, ct)
	}
	if ct == "text/plain" {
		return
	}
	sch, err := s.compiler.Compile("file:///spec.json" + ptr + "/content/" + pointerEscape(ct) + "/schema")
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("%s %s: body is not JSON: %s", method, path, body)
	}
	if err := sch.Validate(inst); err != nil {
		t.Errorf("%s %s %s: body does not match the spec: %v\n%s", method, path, status, err, body)
	}
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

// start runs the service and returns its base URL once ready.
func start(t *testing.T, a *authoritytest.Authority) string {
	t.Helper()
	return startWith(t, a, "")
}

// startWith is start with extra YAML appended to the configuration.
func startWith(t *testing.T, a *authoritytest.Authority, extra string) string {
	t.Helper()
	dir := t.TempDir()
	cfgFile := writeConfig(t, dir, a, writeKey(t, dir, 0o600))
	if extra != "" {
		f, err := os.OpenFile(cfgFile, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteString(extra); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	listening := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- app.Run(ctx, app.Env{Args: []string{"serve", "--config", cfgFile}, Stdout: io.Discard, Stderr: io.Discard,
			Listening: func(addr net.Addr) { listening <- addr }})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	var base string
	select {
	case addr := <-listening:
		base = "http://" + addr.String()
	case err := <-done:
		t.Fatalf("Run: %v", err)
	}
	for i := 0; get(t, base+"/readyz", nil) != 200; i++ {
		if i > 500 {
			t.Fatal("never ready")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return base
}

func TestResponsesMatchOpenAPI(t *testing.T) {
	s := loadSpec(t)
	a := authoritytest.New(t)
	base := start(t, a)
	clientKey := authoritytest.NewKey(t)
	jkt, err := dpop.Thumbprint(clientKey)
	if err != nil {
		t.Fatal(err)
	}
	bound := func(edit func(map[string]any)) (string, string) {
		c := a.Claims("u", time.Now())
		c["cnf"] = map[string]any{"jkt": jkt}
		if edit != nil {
			edit(c)
		}
		tok := a.Mint(t, c)
		p, err := dpop.NewProof(clientKey, "ES256", http.MethodGet, publicURL+"/token", tok, "", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return tok, p
	}
	type call struct {
		method, path, query string
		edit                func(map[string]any)
		noAuth              bool
		status              int
	}
	calls := []call{
		{method: "GET", path: "/token", query: "service=registry.localhost&scope=repository:stella-ops/public/base:pull", status: 200},
		{method: "GET", path: "/token", query: "service=registry.localhost", status: 200},
		{method: "GET", path: "/token", query: "scope=repository:x/y:pull", status: 400},
		{method: "GET", path: "/token", query: "service=registry.localhost&scope=repository::pull", status: 400},
		{method: "GET", path: "/token", query: "service=registry.localhost", noAuth: true, status: 401},
		{method: "GET", path: "/token", query: "service=registry.localhost", edit: func(c map[string]any) { c["aud"] = "other" }, status: 401},
		{method: "GET", path: "/token", query: "service=registry.localhost&scope=repository:private/x:pull", status: 403},
		{method: "POST", path: "/token", status: 404},
		{method: "GET", path: "/jwks.json", noAuth: true, status: 200},
		{method: "GET", path: "/healthz", noAuth: true, status: 200},
		{method: "GET", path: "/readyz", noAuth: true, status: 200},
		{method: "GET", path: "/metrics", noAuth: true, status: 200},
	}
	for _, c := range calls {
		t.Run(fmt.Sprintf("%s %s?%s %d", c.method, c.path, c.query, c.status), func(t *testing.T) {
			req, _ := http.NewRequest(c.method, base+c.path+"?"+c.query, nil)
			if !c.noAuth {
				tok, p := bound(c.edit)
				req.Header.Set("Authorization", "DPoP "+tok)
				req.Header.Set("DPoP", p)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.status, body)
			}
			s.check(t, c.method, c.path, resp, body)
		})
	}
}

func TestSpecIsWellFormed(t *testing.T) {
	s := loadSpec(t)
	if _, err := os.Stat(filepath.Clean(specFile)); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"TokenResponse", "Problem", "JWKSet", "Status"} {
		if _, err := s.compiler.Compile("file:///spec.json#/components/schemas/" + name); err != nil {
			t.Errorf("schema %s: %v", name, err)
		}
	}
	// A body missing a required member is refused: the check can fail.
	sch, _ := s.compiler.Compile("file:///spec.json#/components/schemas/TokenResponse")
	if err := sch.Validate(map[string]any{"token": "a.b.c"}); err == nil {
		t.Fatal("incomplete token response validated")
	}
}
