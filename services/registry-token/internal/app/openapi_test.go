package app_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/stellaops/authgate/pkg/dpop"
	"github.com/stellaops/authgate/pkg/testkit/authoritytest"
	"github.com/stellaops/authgate/pkg/testkit/openapitest"
	"github.com/stellaops/authgate/services/registry-token/internal/app"
)

const specFile = "../../../../api/registry-token.openapi.yaml"

// spec is the OpenAPI document; doc and compiler are its generic JSON
// values and its schemas.
type spec struct {
	*openapitest.Spec
	doc      map[string]any
	compiler *jsonschema.Compiler
}

func loadSpec(t *testing.T) *spec {
	t.Helper()
	s := openapitest.Load(t, specFile)
	return &spec{Spec: s, doc: s.Doc, compiler: s.Compiler}
}

// check validates one real response against the operation's response.
func (s *spec) check(t *testing.T, method, path string, resp *http.Response, body []byte) {
	t.Helper()
	s.ValidateResponse(t, method, path, resp, body)
}

func dig(v any, keys ...string) any { return openapitest.Dig(v, keys...) }

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
	// Ready once the Authority keys are loaded and the replay epoch's
	// start-up window (dpop.clockSkew, plus up to 1s) has passed.
	deadline := time.Now().Add(20 * time.Second)
	for get(t, base+"/readyz", nil) != 200 {
		if time.Now().After(deadline) {
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
	bound := func(method string, edit func(map[string]any)) (string, string) {
		c := a.Claims("u", time.Now())
		c["cnf"] = map[string]any{"jkt": jkt}
		if edit != nil {
			edit(c)
		}
		tok := a.Mint(t, c)
		p, err := dpop.NewProof(clientKey, "ES256", method, publicURL+"/token", tok, "", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return tok, p
	}
	type call struct {
		method, path, query string
		form                string // POST body
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
		{method: "POST", path: "/token", form: "grant_type=refresh_token&service=registry.localhost&scope=repository:stella-ops/public/base:pull", status: 200},
		{method: "POST", path: "/token", form: "grant_type=client_credentials&service=registry.localhost", status: 400},
		{method: "POST", path: "/token", form: "grant_type=refresh_token&refresh_token=not-a-jwt&service=registry.localhost", noAuth: true, status: 401},
		{method: "GET", path: "/jwks.json", noAuth: true, status: 200},
		{method: "GET", path: "/healthz", noAuth: true, status: 200},
		{method: "GET", path: "/readyz", noAuth: true, status: 200},
		{method: "GET", path: "/metrics", noAuth: true, status: 200},
	}
	for _, c := range calls {
		t.Run(fmt.Sprintf("%s %s?%s %d", c.method, c.path, c.query, c.status), func(t *testing.T) {
			req, _ := http.NewRequest(c.method, base+c.path+"?"+c.query, nil)
			if c.form != "" {
				req, _ = http.NewRequest(c.method, base+c.path, strings.NewReader(c.form))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			if !c.noAuth {
				tok, p := bound(c.method, c.edit)
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
