package deploy_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/auth"
	_ "github.com/distribution/distribution/v3/registry/auth/token" // registers the "token" access controller

	corev1 "k8s.io/api/core/v1"

	"github.com/stellaops/authgate/deploy/internal/render"
)

const exampleDir = "examples/registry"

// TestRegistryExampleMatchesRegistryToken renders registry-token with the
// example's values and checks the example registry against it: realm,
// service, issuer, and the JWKS file mounted from the ConfigMap the chart
// writes. The registry's own configuration parser and token access
// controller load the result.
func TestRegistryExampleMatchesRegistryToken(t *testing.T) {
	helm := helmBin(t)
	rel := defaultRelease("registry-token")
	rel.Values = []string{filepath.Join(exampleDir, "registry-token-values.yaml")}
	rtObjs := renderObjects(t, helm, rel)
	cfg := configOf(t, rtObjs, workload(t, rtObjs))

	regObjs, err := render.Decode([]byte(readFile(t, filepath.Join(exampleDir, "registry.yaml"))))
	if err != nil {
		t.Fatal(err)
	}
	dep := workload(t, regObjs)
	c := dep.Spec.Template.Spec.Containers[0]
	if !strings.HasPrefix(c.Image, "registry:3.") {
		t.Errorf("example runs %s, want the distribution registry v3", c.Image)
	}

	// The registry configuration, parsed by distribution itself.
	var regCM *corev1.ConfigMap
	for _, cm := range render.Find[*corev1.ConfigMap](regObjs) {
		if cm.Name == "registry-config" {
			regCM = cm
		}
	}
	if regCM == nil {
		t.Fatal("no ConfigMap registry-config")
	}
	regCfg, err := configuration.Parse(strings.NewReader(regCM.Data["config.yml"]))
	if err != nil {
		t.Fatalf("distribution rejects config.yml: %v", err)
	}
	opts := map[string]any(regCfg.Auth["token"])
	if opts == nil {
		t.Fatal("config.yml has no auth.token")
	}
	if opts["realm"] != cfg.Registry.Realm {
		t.Errorf("registry realm %v, registry-token realm %s", opts["realm"], cfg.Registry.Realm)
	}
	if !slices.Contains(cfg.Registry.Services, opts["service"].(string)) {
		t.Errorf("registry service %v is not in registry-token's services %v", opts["service"], cfg.Registry.Services)
	}
	if opts["issuer"] != cfg.Signing.Issuer {
		t.Errorf("registry issuer %v, registry-token signing.issuer %s", opts["issuer"], cfg.Signing.Issuer)
	}

	// The jwks file comes from the ConfigMap the registry-token chart renders.
	jwksPath, _ := opts["jwks"].(string)
	var jwksCMName string
	for _, m := range c.VolumeMounts {
		if m.MountPath == filepath.Dir(jwksPath) {
			for _, v := range dep.Spec.Template.Spec.Volumes {
				if v.Name == m.Name && v.ConfigMap != nil {
					jwksCMName = v.ConfigMap.Name
				}
			}
		}
	}
	var jwksCM *corev1.ConfigMap
	for _, cm := range render.Find[*corev1.ConfigMap](rtObjs) {
		if cm.Name == jwksCMName {
			jwksCM = cm
		}
	}
	if jwksCM == nil {
		t.Fatalf("registry mounts ConfigMap %q at %s; registry-token renders no such ConfigMap", jwksCMName, filepath.Dir(jwksPath))
	}
	if jwksCM.Namespace != dep.Namespace {
		t.Errorf("JWKS ConfigMap is in namespace %s, the registry in %s", jwksCM.Namespace, dep.Namespace)
	}
	jwks, ok := jwksCM.Data[filepath.Base(jwksPath)]
	if !ok {
		t.Fatalf("JWKS ConfigMap has no key %s", filepath.Base(jwksPath))
	}

	// The example key set is the one registry-token prints for the sample key.
	if got, want := canonicalJSON(t, jwks), canonicalJSON(t, printJWKS(t)); got != want {
		t.Errorf("example jwks differs from `registry-token jwks --config configs/registry-token.yaml`:\n got %s\nwant %s", got, want)
	}

	// The registry's token access controller accepts the options and key set.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "jwks.json"), []byte(jwks), 0o600); err != nil {
		t.Fatal(err)
	}
	local := map[string]any{}
	for k, v := range opts {
		local[k] = v
	}
	local["jwks"] = filepath.Join(dir, "jwks.json")
	if _, err := auth.GetAccessController("token", local); err != nil {
		t.Errorf("distribution token access controller: %v", err)
	}
}

// printJWKS runs the registry-token CLI on the development config.
func printJWKS(t *testing.T) string {
	t.Helper()
	cmd := exec.Command("go", "run", "./services/registry-token", "jwks", "--config", "configs/registry-token.yaml")
	cmd.Dir = ".."
	cmd.Env = cleanEnv("REGISTRY_TOKEN_")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("registry-token jwks: %v", err)
	}
	return string(out)
}

func cleanEnv(prefix string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, prefix) {
			env = append(env, kv)
		}
	}
	return env
}

func canonicalJSON(t *testing.T, s string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, s)
	}
	b, _ := json.Marshal(v)
	return string(b)
}
