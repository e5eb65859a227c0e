package images

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/authgate/deploy/internal/render"
	"github.com/stellaops/authgate/pkg/testkit/proctest"
)

// TestContainers runs both built images with podman the way their charts
// run them (see podRun): each answers /healthz and /readyz, registry-token
// issues a token to a DPoP-bound OpTok from a development Authority, and
// flex-auth answers one allow and one deny, each written to the decision
// log on its mounted volume.
func TestContainers(t *testing.T) {
	p := newPodman(t)
	helm, err := render.Helm()
	if err != nil {
		t.Fatal(err)
	}
	results := builtImages(t)
	images := map[string]string{}
	for _, r := range results {
		images[filepath.Base(r.Layout)] = p.load(r.Archive)
	}
	t.Run("flex-auth", func(t *testing.T) { flexAuthContainer(t, p, helm, images["flex-auth"]) })
	t.Run("registry-token", func(t *testing.T) { registryTokenContainer(t, p, helm, images["registry-token"]) })
}

func renderChart(t *testing.T, helm, chart string, set ...string) []render.Object {
	t.Helper()
	root, err := moduleRoot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out, err := render.Template(helm, render.Release{Chart: filepath.Join(root, "deploy", "helm", chart),
		Name: chart, Namespace: chart, Set: set})
	if err != nil {
		t.Fatal(err)
	}
	objs, err := render.Decode(out)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// startContainer runs the pod and waits for /readyz; /healthz must
// answer 200 too.
func startContainer(t *testing.T, p *podman, name, image string, r podRun) string {
	t.Helper()
	p.start(name, append(append(append([]string{}, r.Flags...), image), r.Args...)...)
	base := "http://" + r.Addr
	ready := waitUntil(90*time.Second, func() bool {
		if st := p.state(name); st != "" && !strings.HasPrefix(st, "running") {
			t.Fatalf("container %s is %s; podman run %s %s %s\n%s", name, st,
				strings.Join(r.Flags, " "), image, strings.Join(r.Args, " "), p.logs(name))
		}
		return get(base+"/readyz") == http.StatusOK
	})
	if !ready {
		t.Fatalf("%s: /readyz never answered 200", name)
	}
	if code := get(base + "/healthz"); code != http.StatusOK {
		t.Fatalf("%s: /healthz %d", name, code)
	}
	return base
}

func get(url string) int {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

func flexAuthContainer(t *testing.T, p *podman, helm, image string) {
	logKey := signingKeyPEM(t)
	r := newPodRun(t, renderChart(t, helm, "flex-auth", "decisionLog.signingKey.existingSecret=flex-auth-decision-log"), freeAddr(t),
		map[string]map[string][]byte{"flex-auth-decision-log": {"signing.pem": logKey}})
	base := startContainer(t, p, "flex-auth", image, r)
	ids := map[string]string{}
	for _, c := range []struct{ body, effect, reason string }{
		{`{"actor":"agt-state-hub-bridge","subject":"iam:agt-state-hub-bridge","action":"ssh.sign","ttl_hours":24}`, "allow", "signing_policy_matched"},
		{`{"actor":"agt-state-hub-bridge","ttl_hours":999}`, "deny", "ttl_out_of_bounds"},
	} {
		resp, err := http.Post(base+"/v1/check", "application/json", strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			ID     string `json:"decision_id"`
			Effect string `json:"effect"`
			Reason string `json:"reason"`
		}
		err = json.NewDecoder(resp.Body).Decode(&d)
		_ = resp.Body.Close()
		if err != nil || d.Effect != c.effect || d.Reason != c.reason || d.ID == "" {
			t.Fatalf("%s: %d %+v %v, want %s %s", c.body, resp.StatusCode, d, err, c.effect, c.reason)
		}
		ids[d.ID] = c.effect
	}
	logFile := ""
	for i, a := range r.Args {
		if i > 0 && r.Args[i-1] == "--log" {
			logFile = filepath.Base(a)
		}
	}
	data, err := os.ReadFile(filepath.Join(r.EmptyDirs["decision-log"], logFile))
	if err != nil {
		t.Fatalf("decision log on the mounted volume: %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		var line struct {
			ID     string `json:"decision_id"`
			Effect string `json:"effect"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && ids[line.ID] == line.Effect {
			delete(ids, line.ID)
		}
	}
	if len(ids) > 0 {
		t.Fatalf("decisions %v missing from the log:\n%s", ids, data)
	}
	// Stopped, the pod ends its log with a close record signed by the
	// key of the chart's Secret, and the log verifies with that key.
	p.run("stop", "--time", "10", "flex-auth")
	keyFile := filepath.Join(t.TempDir(), "signing.pem")
	if err := os.WriteFile(keyFile, logKey, 0o600); err != nil {
		t.Fatal(err)
	}
	out := runTool(t, "./services/flex-auth", "log", "verify", "--key", keyFile, filepath.Join(r.EmptyDirs["decision-log"], logFile))
	if !strings.Contains(out, "signed: ") || !strings.Contains(out, "end: the log was closed cleanly") {
		t.Fatalf("log verify of the pod's decision log:\n%s", out)
	}
}

func registryTokenContainer(t *testing.T, p *podman, helm, image string) {
	authority := startDevStack(t).Authority
	addr := freeAddr(t)
	objs := renderChart(t, helm, "registry-token",
		"publicUrl=http://"+addr,
		"authority.issuer="+authority,
		"authority.metadataUrl="+authority+"/.well-known/openid-configuration",
		"authority.requireHttpsMetadata=false")
	secrets := map[string]map[string][]byte{"registry-token-signing": {"signing.pem": signingKeyPEM(t)}}
	r := newPodRun(t, objs, addr, secrets)
	base := startContainer(t, p, "registry-token", image, r)

	// The tour's clients: an OpTok from "registry-token-dev token", a
	// proof from dpop-proof, both with one key file.
	keyFile := filepath.Join(t.TempDir(), "client.jwk")
	opTok := runTool(t, "./services/registry-token/cmd/registry-token-dev",
		"token", "--authority", authority, "--key", keyFile, "--plan", "community", "--sub", "container-test")
	url := base + "/token?service=registry.localhost&scope=repository:stella-ops/public/base:pull"
	proof := runTool(t, "./services/registry-token/cmd/dpop-proof", "--key", keyFile, "--url", url, "--access-token", opTok)
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "DPoP "+opTok)
	req.Header.Set("DPoP", proof)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	var tok struct {
		Token     string `json:"token"`
		ExpiresIn int    `json:"expires_in"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &tok) != nil || strings.Count(tok.Token, ".") != 2 || tok.ExpiresIn <= 0 {
		t.Fatalf("GET /token: %d %s", resp.StatusCode, body)
	}
}

// devStack is "registry-token-dev up" without flex-auth, on free ports.
type devStack struct {
	Authority string // the development Authority's URL
	Registry  string // the registry's host:port ("localhost:<port>")
	Realm     string // registry-token's token URL, the registry's realm
}

// startDevStack runs the development stack and returns once the
// Authority's discovery document and the registry answer.
func startDevStack(t *testing.T) devStack {
	t.Helper()
	root, err := moduleRoot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	_, authPort, _ := net.SplitHostPort(freeAddr(t))
	_, regPort, _ := net.SplitHostPort(freeAddr(t))
	_, rtPort, _ := net.SplitHostPort(freeAddr(t))
	cmd := exec.Command(proctest.Build(t, "./services/registry-token/cmd/registry-token-dev"), "up",
		"--run-dir", t.TempDir(), "--flex-auth-bin", "", "--authority-port", authPort, "--port", rtPort, "--registry-port", regPort)
	cmd.Dir = root
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("registry-token-dev up:\n%s", logs.String())
		}
	})
	s := devStack{Authority: "http://127.0.0.1:" + authPort, Registry: "localhost:" + regPort, Realm: "http://localhost:" + rtPort + "/token"}
	up := waitUntil(60*time.Second, func() bool {
		return get(s.Authority+"/.well-known/openid-configuration") == http.StatusOK &&
			get("http://127.0.0.1:"+regPort+"/v2/") == http.StatusUnauthorized
	})
	if !up {
		t.Fatalf("the development stack did not start:\n%s", logs.String())
	}
	return s
}

// runTool runs one of the repository's commands and returns its trimmed
// stdout.
func runTool(t *testing.T, pkg string, args ...string) string {
	t.Helper()
	cmd := exec.Command(proctest.Build(t, pkg), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(pkg), strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// signingKeyPEM is a fresh P-256 key as PKCS#8 PEM, what the chart's
// signing Secret holds.
func signingKeyPEM(t *testing.T) []byte {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}
