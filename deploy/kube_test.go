package deploy_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
		if o.Kind == "Deployment" {
			dep = o
		}
	}
	if dep.Name == "" {
		t.Fatal("no Deployment rendered")
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
		t.Fatalf("Deployment after upgrade: found %v, %v", found, err)
	}
	if a := annotation(got, "authgate-check"); a != "upgraded" {
		t.Errorf("the upgraded value did not reach the Deployment: pod annotation %q", a)
	}
	helmRun("uninstall", r.Name, "--namespace", r.Namespace)
	if _, found, err := s.Get(ctx, dep); err != nil || found {
		t.Errorf("Deployment after uninstall: found %v, %v", found, err)
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
