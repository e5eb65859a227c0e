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
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/stellaops/authgate/deploy/internal/render"
	"github.com/stellaops/authgate/pkg/testkit/proctest"
)

// TestRegistryPolicyWiring renders the example's flex-auth release (the
// ops-warden bundle with the registry-access bundle beside it) and checks
// that registry-token's policy URL names its Service, that the rendered
// registry package passes the registry policy simulation cases, and that a
// real flex-auth serving the rendered files as the Deployment names them
// answers a check shaped like registry-token's with the registry package
// (allow) and an ops-warden check with the ops-warden package, while the
// default release (ops-warden alone) denies the registry check.
func TestRegistryPolicyWiring(t *testing.T) {
	helm := helmBin(t)
	rt := defaultRelease("registry-token")
	rt.Values = []string{filepath.Join(exampleDir, "registry-token-values.yaml")}
	rtObjs := renderObjects(t, helm, rt)
	cfg := configOf(t, rtObjs, workload(t, rtObjs))

	fa := defaultRelease("flex-auth")
	fa.Values = []string{filepath.Join(exampleDir, "flex-auth-values.yaml")}
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
		t.Errorf("registry-token policy.url %s, flex-auth Service is %s", cfg.Policy.URL, want)
	}
	registryDir := writePolicyFiles(t, faObjs)
	policies := policyArgs(t, workload(t, faObjs), registryDir)
	if len(policies) != 2 || filepath.Base(policies[1]) != "registry-access.policy_package.md" {
		t.Fatalf("flex-auth --policy files %v, want the ops-warden and registry-access packages", policies)
	}

	bins := buildCLIs(t)
	sim := exec.Command(bins["flex-auth"], "policy", "simulate",
		"--policy", policies[1],
		"--registry", "configs/registry-policy/registry_snapshot.json",
		"--cases", "configs/registry-policy/cases.yaml")
	sim.Dir = ".."
	if out, err := sim.CombinedOutput(); err != nil {
		t.Fatalf("registry-access bundle fails the registry policy cases: %v\n%s", err, out)
	}

	// A check as registry-token sends it for a community pull, and one as
	// ops-warden sends it.
	check := map[string]any{"actor": "customer-42", "subject": "customer-42", "action": "registry.pull",
		"resource": "stella-ops/public/base", "context": map[string]any{"service": "registry.example.com", "plan": "community"}}
	sign := map[string]any{"actor": "atm-backup-daily"}
	got := serveAndCheck(t, bins["flex-auth"], registryDir, policies, check, sign)
	if got[0] != "allow registry-access" {
		t.Errorf("flex-auth with both packages: registry.pull is %s, want allow by registry-access", got[0])
	}
	if got[1] != "allow ops-warden-ssh-signing" {
		t.Errorf("flex-auth with both packages: ssh.sign is %s, want allow by ops-warden-ssh-signing", got[1])
	}
	defObjs := renderObjects(t, helm, defaultRelease("flex-auth"))
	opsWardenDir := writePolicyFiles(t, defObjs)
	alone := policyArgs(t, workload(t, defObjs), opsWardenDir)
	if got := serveAndCheck(t, bins["flex-auth"], opsWardenDir, alone, check); !strings.HasPrefix(got[0], "deny ") {
		t.Errorf("flex-auth (ops-warden bundle alone): registry.pull is %s, want deny", got[0])
	}
}

// policyArgs returns the --policy files of the flex-auth container, moved
// from the mount path into dir.
func policyArgs(t *testing.T, d *appsv1.Deployment, dir string) []string {
	t.Helper()
	args := d.Spec.Template.Spec.Containers[0].Args
	var out []string
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "--policy" {
			out = append(out, filepath.Join(dir, filepath.Base(args[i+1])))
		}
	}
	return out
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

// serveAndCheck serves the files of dir with the policies given and
// answers "<effect> <package>" for each check.
func serveAndCheck(t *testing.T, bin, dir string, policies []string, checks ...map[string]any) []string {
	t.Helper()
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	args := []string{"serve", "--addr", addr, "--registry", filepath.Join(dir, "production_registry_snapshot.json"),
		"--log", filepath.Join(t.TempDir(), "decisions.jsonl"), "--watch"}
	for _, p := range policies {
		args = append(args, "--policy", p)
	}
	srv := exec.CommandContext(ctx, bin, args...)
	out := &proctest.Buffer{}
	srv.Stdout, srv.Stderr = out, out
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = srv.Wait() }()
	base := "http://" + addr
	waitReady(t, base+"/readyz", out)
	var answers []string
	for _, check := range checks {
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
		var env struct {
			Effect string `json:"effect"`
			Policy struct {
				Package string `json:"package"`
			} `json:"policy"`
		}
		err = json.NewDecoder(resp.Body).Decode(&env)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("decision envelope: %v (status %d)", err, resp.StatusCode)
		}
		answers = append(answers, env.Effect+" "+env.Policy.Package)
	}
	return answers
}
