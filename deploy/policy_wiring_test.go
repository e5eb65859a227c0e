package deploy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/stellaops/authgate/deploy/internal/render"
)

// TestRegistryPolicyWiring installs (renders) the example's second flex-auth
// release with the registry-access bundle and checks that registry-token's
// policy URL names its Service, that the bundle passes the registry policy
// simulation cases, and that a real flex-auth serving the rendered files
// answers a check shaped like registry-token's: registry.pull allowed,
// and the same check denied by the ops-warden bundle of the default release.
func TestRegistryPolicyWiring(t *testing.T) {
	helm := helmBin(t)
	rt := defaultRelease("registry-token")
	rt.Values = []string{filepath.Join(exampleDir, "registry-token-values.yaml")}
	rtObjs := renderObjects(t, helm, rt)
	cfg := configOf(t, rtObjs, one[*appsv1.Deployment](t, rtObjs))

	fa := render.Release{Chart: chartDir("flex-auth"), Name: "flex-auth-registry", Namespace: "flex-auth",
		Values: []string{filepath.Join(exampleDir, "flex-auth-registry-values.yaml")}}
	faObjs := renderObjects(t, helm, fa)
	svc := one[*corev1.Service](t, faObjs)
	if cfg.Policy == nil {
		t.Fatal("example registry-token config has no policy section")
	}
	u, err := url.Parse(cfg.Policy.URL)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("%s.%s.svc.cluster.local:%d", svc.Name, svc.Namespace, svc.Spec.Ports[0].Port); u.Host != want {
		t.Errorf("registry-token policy.url %s, flex-auth-registry Service is %s", cfg.Policy.URL, want)
	}
	// The default release of flex-auth keeps its own Service name.
	defObjs := renderObjects(t, helm, defaultRelease("flex-auth"))
	if def := one[*corev1.Service](t, defObjs); def.Name == svc.Name {
		t.Errorf("both flex-auth releases render Service %s", svc.Name)
	}

	bins := buildCLIs(t)
	registryDir := writePolicyFiles(t, faObjs)
	opsWardenDir := writePolicyFiles(t, defObjs)
	sim := exec.Command(bins["flex-auth"], "policy", "simulate",
		"--policy", filepath.Join(registryDir, "policy_package.md"),
		"--registry", filepath.Join(registryDir, "production_registry_snapshot.json"),
		"--cases", "configs/registry-policy/cases.yaml")
	sim.Dir = ".."
	if out, err := sim.CombinedOutput(); err != nil {
		t.Fatalf("registry-access bundle fails the registry policy cases: %v\n%s", err, out)
	}

	// A check as registry-token sends it for a community pull.
	check := map[string]any{"actor": "customer-42", "subject": "customer-42", "action": "registry.pull",
		"resource": "stella-ops/public/base", "context": map[string]any{"service": "registry.example.com", "plan": "community"}}
	if effect, reason := serveAndCheck(t, bins["flex-auth"], registryDir, check); effect != "allow" {
		t.Errorf("flex-auth-registry: registry.pull is %s (%s), want allow", effect, reason)
	}
	if effect, reason := serveAndCheck(t, bins["flex-auth"], opsWardenDir, check); effect != "deny" {
		t.Errorf("flex-auth (ops-warden bundle): registry.pull is %s (%s), want deny", effect, reason)
	}
}

// writePolicyFiles writes the data of the rendered policy ConfigMap into a
// directory, as the kubelet mounts it.
func writePolicyFiles(t *testing.T, objs []render.Object) string {
	t.Helper()
	dir := t.TempDir()
	cm := one[*corev1.ConfigMap](t, objs)
	for k, v := range cm.Data {
		if err := os.WriteFile(filepath.Join(dir, k), []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func serveAndCheck(t *testing.T, bin, dir string, check map[string]any) (effect, reason string) {
	t.Helper()
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := exec.CommandContext(ctx, bin, "serve", "--addr", addr,
		"--registry", filepath.Join(dir, "production_registry_snapshot.json"),
		"--policy", filepath.Join(dir, "policy_package.md"),
		"--log", filepath.Join(t.TempDir(), "decisions.jsonl"), "--watch")
	out := &syncBuffer{}
	srv.Stdout, srv.Stderr = out, out
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = srv.Wait() }()
	base := "http://" + addr
	waitReady(t, base+"/readyz", out)
	body, _ := json.Marshal(check)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/check", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env struct {
		Effect string `json:"effect"`
		Reason string `json:"reason"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		t.Fatalf("decision envelope: %v (status %d)", err, resp.StatusCode)
	}
	return env.Effect, env.Reason
}
