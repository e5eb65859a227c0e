package deploy_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/stellaops/authgate/deploy/internal/render"
	"github.com/stellaops/authgate/pkg/proctest"
)

// TestRenderedConfigLoads feeds registry-token's own `check-config` with the
// configuration each scenario renders (the strict loader rejects unknown
// keys and invalid values). The key file is the repository's sample key,
// since the Secret does not exist here.
func TestRenderedConfigLoads(t *testing.T) {
	helm := helmBin(t)
	bin := proctest.Build(t, "./services/registry-token")
	sample, err := filepath.Abs("../configs/registry-signing-sample.pem")
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range scenarios(t, "registry-token") {
		t.Run(sc.name, func(t *testing.T) {
			objs := renderObjects(t, helm, sc.rel)
			dep := one[*appsv1.Deployment](t, objs)
			path := argValue(t, dep.Spec.Template.Spec.Containers[0].Args, "--config")
			var data string
			for _, cm := range render.Find[*corev1.ConfigMap](objs) {
				if d, ok := cm.Data[filepath.Base(path)]; ok {
					data = d
				}
			}
			if data == "" {
				t.Fatalf("no ConfigMap holds %s", filepath.Base(path))
			}
			dir := t.TempDir()
			file := filepath.Join(dir, "registry-token.yaml")
			// Files the pod mounts from Secrets stand in as empty files here.
			for _, p := range []string{"tls.crt", "tls.key", "ca.crt"} {
				if strings.Contains(data, "/etc/registry-token/tls/"+p) {
					data = strings.ReplaceAll(data, "/etc/registry-token/tls/"+p, filepath.Join(dir, p))
					if err := os.WriteFile(filepath.Join(dir, p), nil, 0o600); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := os.WriteFile(file, []byte(data), 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(bin, "check-config", "--config", file)
			cmd.Env = append(cleanEnv("REGISTRY_TOKEN_"),
				"REGISTRY_TOKEN_SIGNING__KEYFILE="+sample,
				"REGISTRY_TOKEN_SIGNING__KEYPASSWORDFILE=",
				"REGISTRY_TOKEN_AUTHORITY__REPLAYCACHE__REDISURL=redis://redis.redis.svc.cluster.local:6379/0")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("registry-token check-config rejects the rendered config: %v\n%s\n--- config ---\n%s", err, out, data)
			}
		})
	}
}
