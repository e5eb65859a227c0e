package deploy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/stellaops/authgate/deploy/internal/kube"
	"github.com/stellaops/authgate/deploy/internal/render"
)

// TestKubernetesAcceptsManifestsAndCharts runs a real kube-apiserver
// (with etcd, pinned, see deploy/tools/install-kube.sh) and installs the
// ServiceMonitor and PrometheusRule CRDs. Then the plain manifests and
// every chart scenario (defaults and each ci/*.yaml) must pass a
// server-side apply dry run with strict field validation (helm's own
// checks only warn about unknown fields), and each scenario is installed
// with helm, upgraded with a changed value (which must reach the stored
// Deployment) and uninstalled (which must remove it). helm must print no
// warning. No kubelet runs: the point is that the API server accepts
// every object.
func TestKubernetesAcceptsManifestsAndCharts(t *testing.T) {
	tools, err := kube.FindTools()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	helm := helmBin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	s, err := kube.Start(ctx, tools, t.TempDir(), 3*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("API server logs:\n%s", s.Logs())
		}
		s.Close()
	})
	for _, crd := range tools.CRDs {
		if _, err := s.ApplyManifest(ctx, []byte(readFile(t, crd)), "", false); err != nil {
			t.Fatalf("CRD %s: %v", filepath.Base(crd), err)
		}
	}
	for _, kind := range []string{"ServiceMonitor", "PrometheusRule"} {
		if err := s.WaitServed(ctx, "monitoring.coreos.com/v1", kind, time.Minute); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("manifests", func(t *testing.T) {
		// The namespaces for real (objects cannot be created, even in a dry
		// run, in a namespace that does not exist), then the rest as the
		// README applies them.
		objs, err := s.ApplyManifest(ctx, []byte(readFile(t, "manifests/namespaces.yaml")), "", false)
		if err != nil {
			t.Fatal(err)
		}
		for _, ns := range objs {
			if err := s.EnsureNamespace(ctx, ns.Name); err != nil {
				t.Fatal(err)
			}
		}
		for _, f := range []string{"manifests/registry-token.yaml", "manifests/flex-auth.yaml"} {
			objs, err := s.ApplyManifest(ctx, []byte(readFile(t, f)), "default", true)
			if err != nil {
				t.Errorf("%s: %v", f, err)
			}
			if len(objs) < 3 {
				t.Errorf("%s: only %d objects", f, len(objs))
			}
		}
	})
	for _, chart := range []string{"registry-token", "flex-auth"} {
		for _, sc := range scenarios(t, chart) {
			t.Run(chart+"/"+sc.name, func(t *testing.T) { installUpgradeUninstall(ctx, t, s, helm, sc.rel) })
		}
	}
	t.Run("flex-auth/upgrade-from-previous-version", func(t *testing.T) { upgradeFlexAuthFromPrevious(ctx, t, s, helm) })
}

// previousChart writes the chart as it was before its version last
// changed (from git history) to a temporary directory.
func previousChart(t *testing.T, chart string) (dir, version string) {
	t.Helper()
	git := func(args ...string) []byte {
		t.Helper()
		out, err := exec.Command("git", args...).Output()
		if err != nil {
			t.Fatalf("git %s: %v (the upgrade test reads the previous chart from the repository's history)", strings.Join(args, " "), err)
		}
		return out
	}
	path := "deploy/helm/" + chart
	// The last commit that changed the chart's version line.
	commit := strings.TrimSpace(string(git("-C", "..", "log", "-1", "--format=%H", "-G", "^version:", "--", path+"/Chart.yaml")))
	if commit == "" {
		t.Fatalf("no commit changed %s/Chart.yaml's version", path)
	}
	dir = t.TempDir()
	archive := git("-C", "..", "archive", commit+"^", path)
	cmd := exec.Command("tar", "-x", "-C", dir)
	cmd.Stdin = bytes.NewReader(archive)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	dir = filepath.Join(dir, path)
	for _, l := range strings.Split(readFile(t, filepath.Join(dir, "Chart.yaml")), "\n") {
		if v, ok := strings.CutPrefix(l, "version: "); ok {
			version = v
		}
	}
	return dir, version
}

// upgradeFlexAuthFromPrevious installs the previous flex-auth chart with
// the stdout copy on, then upgrades the release to this chart the way
// deploy/UPGRADING.md says (--reset-then-reuse-values): the upgrade must
// succeed without warnings and the stored workload must run this chart's
// pod (a StatefulSet instead of the Deployment, the stdout copy by the
// flex-auth image's log follow).
func upgradeFlexAuthFromPrevious(ctx context.Context, t *testing.T, s *kube.Server, helm string) {
	prev, version := previousChart(t, "flex-auth")
	cur := readFile(t, filepath.Join(chartDir("flex-auth"), "Chart.yaml"))
	if strings.Contains(cur, "\nversion: "+version+"\n") {
		t.Fatalf("the previous chart has the same version %s: bump the chart's version", version)
	}
	const name, ns = "flex-auth-upgrade", "flex-auth"
	if err := s.EnsureNamespace(ctx, ns); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) {
		t.Helper()
		_, stderr, err := s.Helm(ctx, helm, args...)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(strings.ToLower(stderr), "warning") {
			t.Errorf("helm %s warns:\n%s", args[0], stderr)
		}
	}
	run("install", name, prev, "--namespace", ns, "--set", "decisionLog.stdout.enabled=true")
	run("upgrade", name, chartDir("flex-auth"), "--namespace", ns, "--reset-then-reuse-values")
	manifest, err := render.Template(helm, render.Release{Chart: chartDir("flex-auth"), Name: name, Namespace: ns,
		Set: []string{"decisionLog.stdout.enabled=true"}})
	if err != nil {
		t.Fatal(err)
	}
	objs, err := render.Decode(manifest)
	if err != nil {
		t.Fatal(err)
	}
	want := workload(t, objs)
	// Charts before 0.3.0 ran a Deployment: none may be left, and this
	// chart's StatefulSet has a claim per pod.
	if _, found, err := s.Get(ctx, kube.Object{APIVersion: "apps/v1", Kind: "Deployment", Namespace: ns, Name: want.Name}); err != nil || found {
		t.Errorf("the previous Deployment after the upgrade: found %v, %v", found, err)
	}
	got, found, err := s.Get(ctx, kube.Object{APIVersion: "apps/v1", Kind: "StatefulSet", Namespace: ns, Name: want.Name})
	if err != nil || !found {
		t.Fatalf("StatefulSet after the upgrade: found %v, %v", found, err)
	}
	raw, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	var ss appsv1.StatefulSet
	if err := json.Unmarshal(raw, &ss); err != nil {
		t.Fatal(err)
	}
	if len(ss.Spec.VolumeClaimTemplates) != 1 {
		t.Errorf("StatefulSet after the upgrade has claim templates %+v, want the decision log's", ss.Spec.VolumeClaimTemplates)
	}
	stored := render.Workloads([]render.Object{{Typed: &ss}})[0]
	var sidecar *corev1.Container
	for i, c := range stored.Spec.Template.Spec.Containers {
		if c.Name == "decision-log-stdout" {
			sidecar = &stored.Spec.Template.Spec.Containers[i]
		}
	}
	main := want.Spec.Template.Spec.Containers[0]
	switch {
	case sidecar == nil:
		t.Fatalf("no decision-log-stdout container after the upgrade: %+v", stored.Spec.Template.Spec.Containers)
	case sidecar.Image != main.Image || strings.Join(sidecar.Args, " ") != "log follow --file "+argValue(t, main.Args, "--log")+" --from-start":
		t.Errorf("decision-log-stdout after the upgrade runs %s %v, want %s log follow", sidecar.Image, sidecar.Args, main.Image)
	}
	if label := stored.Labels["helm.sh/chart"]; label == "flex-auth-"+version {
		t.Errorf("the Deployment still carries the previous chart's label %s", label)
	}
	run("uninstall", name, "--namespace", ns)
}

func installUpgradeUninstall(ctx context.Context, t *testing.T, s *kube.Server, helm string, r render.Release) {
	manifest, err := render.Template(helm, r)
	if err != nil {
		t.Fatal(err)
	}
	// The release namespace and any other the chart writes to (the JWKS
	// ConfigMap may go to the registry's) must exist, as in a cluster.
	namespaces, err := kube.Namespaces(manifest)
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range append(namespaces, r.Namespace) {
		if err := s.EnsureNamespace(ctx, ns); err != nil {
			t.Fatal(err)
		}
	}
	objs, err := s.ApplyManifest(ctx, manifest, r.Namespace, true)
	if err != nil {
		t.Fatalf("strict server-side apply (dry run): %v", err)
	}
	var dep kube.Object
	for _, o := range objs {
		if o.Kind == "Deployment" || o.Kind == "StatefulSet" {
			dep = o
		}
	}
	if dep.Name == "" {
		t.Fatal("no Deployment or StatefulSet rendered")
	}
	args := []string{r.Name, r.Chart, "--namespace", r.Namespace}
	for _, v := range r.Values {
		args = append(args, "--values", v)
	}
	for _, v := range r.Set {
		args = append(args, "--set", v)
	}
	helmRun := func(args ...string) {
		t.Helper()
		_, stderr, err := s.Helm(ctx, helm, args...)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(strings.ToLower(stderr), "warning") {
			t.Errorf("helm %s warns:\n%s", args[0], stderr)
		}
	}
	helmRun(append([]string{"install"}, args...)...)
	helmRun(append(append([]string{"upgrade"}, args...), "--set", "podAnnotations.authgate-check=upgraded")...)
	got, found, err := s.Get(ctx, dep)
	if err != nil || !found {
		t.Fatalf("%s after upgrade: found %v, %v", dep, found, err)
	}
	if a := annotation(got, "authgate-check"); a != "upgraded" {
		t.Errorf("the upgraded value did not reach the %s: pod annotation %q", dep.Kind, a)
	}
	helmRun("uninstall", r.Name, "--namespace", r.Namespace)
	if _, found, err := s.Get(ctx, dep); err != nil || found {
		t.Errorf("%s after uninstall: found %v, %v", dep, found, err)
	}
}

// annotation reads spec.template.metadata.annotations[key] of a
// Deployment decoded as JSON.
func annotation(obj map[string]any, key string) string {
	m := obj
	for _, k := range []string{"spec", "template", "metadata", "annotations"} {
		next, ok := m[k].(map[string]any)
		if !ok {
			return ""
		}
		m = next
	}
	v, _ := m[key].(string)
	return v
}
