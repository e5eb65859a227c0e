package policyclient_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/stellaops/authgate/pkg/dpop"
	"github.com/stellaops/authgate/pkg/testkit/authoritytest"
	"github.com/stellaops/authgate/pkg/testkit/proctest"
	"github.com/stellaops/authgate/services/registry-token/internal/signing"
)

// TestWithRealFlexAuth builds the flex-auth binary once and runs its CLI
// and its server against the registry policy package.
func TestWithRealFlexAuth(t *testing.T) {
	root, err := proctest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := proctest.Build(t, "./services/flex-auth")
	t.Run("policy package", func(t *testing.T) { testPolicyPackage(t, bin, root) })
	t.Run("end to end", func(t *testing.T) { testEndToEnd(t, bin, root) })
	t.Run("flex-auth authenticating its callers", func(t *testing.T) { testAuthenticatedCaller(t, bin, root) })
}

// The registry policy package is valid under --strict and its simulation
// cases pass, with the real flex-auth CLI.
func testPolicyPackage(t *testing.T, bin, root string) {
	dir := filepath.Join(root, "configs", "registry-policy")
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("flex-auth %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	if out := run("policy", "validate", "--strict", filepath.Join(dir, "policy_package.md")); !strings.Contains(out, "0 warnings") {
		t.Fatalf("validate --strict:\n%s", out)
	}
	run("load-registry", "--file", filepath.Join(dir, "registry_snapshot.json"))
	out := run("policy", "simulate", "--policy", filepath.Join(dir, "policy_package.md"),
		"--registry", filepath.Join(dir, "registry_snapshot.json"), "--cases", filepath.Join(dir, "cases.yaml"))
	if !strings.Contains(out, " 0 failed") {
		t.Fatalf("simulate:\n%s", out)
	}
}

// Both real services: flex-auth's decisions shape the grant and are in its
// decision log; a stopped flex-auth gives policy_timeout, a killed one
// policy_unavailable.
func testEndToEnd(t *testing.T, bin, root string) {
	fa := startFlexAuth(t, bin, root)
	a := authoritytest.New(t)
	rt := startRegistryToken(t, a, fa.URL)
	c := newCaller(t, a, rt.URL)

	grants := []struct {
		name, sub, plan, query string
		access                 string
	}{
		{name: "community: delete and quarantine removed", sub: "customer-42", plan: "community",
			query:  "scope=repository:stella-ops/sandbox/app:pull,push,delete&scope=repository:quarantine/x:pull&scope=repository:stella-ops/public/base:pull",
			access: `[{"actions":["pull","push"],"name":"stella-ops/sandbox/app","type":"repository"},{"actions":["pull"],"name":"stella-ops/public/base","type":"repository"}]`},
		{name: "enterprise: delete kept, catalog allowed, quarantine removed", sub: "customer-7", plan: "enterprise",
			query:  "scope=repository:stella-ops/acme/app:delete&scope=registry:catalog:*&scope=repository:quarantine/y:push",
			access: `[{"actions":["delete"],"name":"stella-ops/acme/app","type":"repository"},{"actions":["*"],"name":"catalog","type":"registry"}]`},
	}
	for _, g := range grants {
		status, body, _ := c.token(g.sub, g.plan, g.query)
		if status != http.StatusOK {
			t.Fatalf("%s: status %d: %s", g.name, status, body)
		}
		if got := c.access(body); got != g.access {
			t.Fatalf("%s: access %s\nwant %s", g.name, got, g.access)
		}
	}
	status, body, _ := c.token("customer-42", "community", "scope=repository:quarantine/x:pull")
	if status != http.StatusForbidden || !strings.Contains(body, `"reason":"policy_denied"`) {
		t.Fatalf("all denied: status %d: %s", status, body)
	}

	// Every decision id registry-token received is in flex-auth's log,
	// with the action and resource registry-token asked about.
	want := map[string]string{ // "action resource" -> effect
		"registry.pull stella-ops/sandbox/app": "allow", "registry.push stella-ops/sandbox/app": "allow",
		"registry.delete stella-ops/sandbox/app": "deny", "registry.pull quarantine/x": "deny",
		"registry.pull stella-ops/public/base": "allow", "registry.delete stella-ops/acme/app": "allow",
		"registry.catalog catalog": "allow", "registry.push quarantine/y": "deny",
	}
	ids := decisionIDs(t, rt.Logs.String())
	logged := readDecisionLog(t, fa.Log)
	if len(ids) != 9 { // 5 + 3 + 1 checks
		t.Fatalf("registry-token logged %d decision ids, want 9: %v\n%s", len(ids), ids, rt.Logs.String())
	}
	for _, id := range ids {
		e, ok := logged[id]
		if !ok {
			t.Fatalf("decision %s is not in flex-auth's decision log", id)
		}
		key := e.Action + " " + e.Resource
		if want[key] == "" || want[key] != e.Effect || e.PolicyPackage != "registry-access" {
			t.Fatalf("decision %s: %+v", id, e)
		}
	}

	// flex-auth stopped (SIGSTOP): connections are accepted, nothing is
	// answered; the request's deadline (policy.timeout) expires.
	fa.Pause(t)
	status, body, hdr := c.token("customer-42", "community", "scope=repository:stella-ops/public/base:pull")
	fa.Resume(t)
	if status != http.StatusServiceUnavailable || !strings.Contains(body, `"reason":"policy_timeout"`) || hdr.Get("Retry-After") == "" {
		t.Fatalf("stopped flex-auth: status %d %v: %s", status, hdr, body)
	}

	// flex-auth killed: connection refused.
	fa.Kill()
	status, body, hdr = c.token("customer-42", "community", "scope=repository:stella-ops/public/base:pull")
	if status != http.StatusServiceUnavailable || !strings.Contains(body, `"reason":"policy_unavailable"`) || hdr.Get("Retry-After") == "" {
		t.Fatalf("killed flex-auth: status %d %v: %s", status, hdr, body)
	}
	for reason, n := range map[string]float64{"policy_denied": 1, "policy_timeout": 1, "policy_unavailable": 1, "policy_invalid_response": 0} {
		if got := rejected(t, rt.URL, reason); got != n {
			t.Errorf("registry_token_rejected_total{reason=%q} = %v, want %v", reason, got, n)
		}
	}
}

// caller mints DPoP-bound OpToks and asks registry-token for tokens.
type caller struct {
	t    *testing.T
	a    *authoritytest.Authority
	base string
	key  jwk.Key
	jkt  string
	jwks jwk.Set
}

func newCaller(t *testing.T, a *authoritytest.Authority, base string) *caller {
	t.Helper()
	k := authoritytest.NewKey(t)
	jkt, err := dpop.Thumbprint(k)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(base + "/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	set, err := jwk.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return &caller{t: t, a: a, base: base, key: k, jkt: jkt, jwks: set}
}

func (c *caller) token(sub, plan, query string) (int, string, http.Header) {
	c.t.Helper()
	claims := c.a.Claims(sub, time.Now())
	claims["cnf"] = map[string]any{"jkt": c.jkt}
	claims["stellaops:plan"] = plan
	claims["client_id"] = "docker-cli"
	optok := c.a.Mint(c.t, claims)
	proof, err := dpop.NewProof(c.key, "ES256", http.MethodGet, rtPublicURL+"/token", optok, "", time.Now())
	if err != nil {
		c.t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, c.base+"/token?service=registry.localhost&"+query, nil)
	req.Header.Set("Authorization", "DPoP "+optok)
	req.Header.Set("DPoP", proof)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// access verifies the issued token and returns its access claim as JSON.
func (c *caller) access(body string) string {
	c.t.Helper()
	var out struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		c.t.Fatal(err)
	}
	tok, err := jwt.Parse([]byte(out.Token), jwt.WithKeySet(c.jwks), jwt.WithAudience("registry.localhost"))
	if err != nil {
		c.t.Fatalf("issued token: %v", err)
	}
	v, _ := tok.Get("access")
	b, _ := json.Marshal(v)
	return string(b)
}

// decisionIDs collects policy_decisions from registry-token's decision lines.
func decisionIDs(t *testing.T, logs string) []string {
	t.Helper()
	var ids []string
	for _, line := range strings.Split(logs, "\n") {
		var l struct {
			Msg       string   `json:"msg"`
			Decisions []string `json:"policy_decisions"`
		}
		if json.Unmarshal([]byte(line), &l) == nil && strings.HasPrefix(l.Msg, "token ") {
			ids = append(ids, l.Decisions...)
		}
	}
	return ids
}

type logEntry struct {
	DecisionID    string `json:"decision_id"`
	Action        string `json:"action"`
	Resource      string `json:"resource"`
	Effect        string `json:"effect"`
	PolicyPackage string `json:"policy_package"`
}

// readDecisionLog reads flex-auth's JSON Lines decision log; every line
// must be valid JSON.
func readDecisionLog(t *testing.T, path string) map[string]logEntry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]logEntry{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e logEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("decision log line %q: %v", sc.Text(), err)
		}
		out[e.DecisionID] = e
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// rejected reads registry_token_rejected_total{reason} from /metrics.
func rejected(t *testing.T, base, reason string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range fams["registry_token_rejected_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "reason" && l.GetValue() == reason {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func writeSigningKey(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "signing.pem")
	if err := signing.WriteNewKey(path); err != nil {
		t.Fatal(err)
	}
	return path
}
