package deploy_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/stellaops/authgate/deploy/internal/render"
	"github.com/stellaops/authgate/pkg/testkit/certtest"
	"github.com/stellaops/authgate/pkg/testkit/proctest"
	"github.com/stellaops/authgate/pkg/yamljson"
)

const httpsFlexAuthURL = "https://flex-auth.flex-auth.svc.cluster.local:8080"

// registryTokenConfigData returns the registry-token.yaml the
// Deployment's --config names, as the ConfigMap holds it.
func registryTokenConfigData(t *testing.T, objs []render.Object, dep *appsv1.Deployment) string {
	t.Helper()
	path := argValue(t, dep.Spec.Template.Spec.Containers[0].Args, "--config")
	for _, cm := range render.Find[*corev1.ConfigMap](objs) {
		if d, ok := cm.Data[filepath.Base(path)]; ok {
			return d
		}
	}
	t.Fatalf("no ConfigMap holds %s", filepath.Base(path))
	return ""
}

// renderedPolicyCAFile is policy.caFile of a rendered configuration ("" when unset).
func renderedPolicyCAFile(t *testing.T, data string) string {
	t.Helper()
	var cfg struct {
		Policy *struct {
			URL    string `json:"url"`
			CAFile string `json:"caFile"`
		} `json:"policy"`
	}
	if err := yamljson.Unmarshal([]byte(data), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Policy == nil {
		return ""
	}
	return cfg.Policy.CAFile
}

// TestRegistryTokenFlexAuthCA: flexAuth.caSecret mounts exactly the CA key
// of that Secret, read-only, where the rendered policy.caFile points; it
// renders nothing without a Secret name.
func TestRegistryTokenFlexAuthCA(t *testing.T) {
	helm := helmBin(t)
	cases := []struct {
		name   string
		set    []string
		secret string
		key    string
	}{
		{name: "default key", set: []string{"flexAuth.url=" + httpsFlexAuthURL, "flexAuth.caSecret.name=flex-auth-tls"},
			secret: "flex-auth-tls", key: "ca.crt"},
		{name: "other key", set: []string{"flexAuth.url=" + httpsFlexAuthURL, "flexAuth.caSecret.name=flex-auth-ca", "flexAuth.caSecret.key=bundle.pem"},
			secret: "flex-auth-ca", key: "bundle.pem"},
		{name: "https without a CA Secret", set: []string{"flexAuth.url=" + httpsFlexAuthURL}},
		{name: "no policy call"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := defaultRelease("registry-token")
			r.Set = tc.set
			if out, err := render.Lint(helm, r); err != nil {
				t.Fatalf("helm lint: %v\n%s", err, out)
			}
			objs := renderObjects(t, helm, r)
			dep := workload(t, objs)
			checkHardened(t, dep)
			pod := dep.Spec.Template.Spec
			caFile := renderedPolicyCAFile(t, registryTokenConfigData(t, objs, dep))

			var caVolumes []corev1.Volume
			for _, v := range pod.Volumes {
				if v.Secret != nil && v.Secret.SecretName != "" && v.Secret.SecretName == tc.secret {
					caVolumes = append(caVolumes, v)
				}
			}
			if tc.secret == "" {
				if caFile != "" {
					t.Errorf("policy.caFile %q without flexAuth.caSecret.name", caFile)
				}
				for _, v := range pod.Volumes {
					if v.Name == "flex-auth-ca" {
						t.Errorf("volume %s rendered without flexAuth.caSecret.name", v.Name)
					}
				}
				return
			}

			if len(caVolumes) != 1 {
				t.Fatalf("%d volumes of Secret %s, want 1", len(caVolumes), tc.secret)
			}
			v := caVolumes[0]
			if len(v.Secret.Items) != 1 || v.Secret.Items[0].Key != tc.key || v.Secret.Items[0].Path != tc.key {
				t.Errorf("Secret volume items %+v, want only key %s (a cert-manager Secret also holds tls.key)", v.Secret.Items, tc.key)
			}
			if v.Secret.DefaultMode == nil || *v.Secret.DefaultMode&0o002 != 0 {
				t.Errorf("Secret volume mode %v is world-writable or unset", v.Secret.DefaultMode)
			}
			var mounts []corev1.VolumeMount
			for _, m := range pod.Containers[0].VolumeMounts {
				if m.Name == v.Name {
					mounts = append(mounts, m)
				}
			}
			if len(mounts) != 1 {
				t.Fatalf("volume %s mounted %d times in container %s", v.Name, len(mounts), pod.Containers[0].Name)
			}
			m := mounts[0]
			if !m.ReadOnly || m.SubPath != "" {
				t.Errorf("mount %+v is not a read-only directory mount", m)
			}
			if want := filepath.Join(m.MountPath, tc.key); caFile != want {
				t.Errorf("policy.caFile %q, want %q (the mounted key)", caFile, want)
			}
			if slices.ContainsFunc(pod.Containers[0].VolumeMounts, func(o corev1.VolumeMount) bool {
				return o.Name != m.Name && o.MountPath == m.MountPath
			}) {
				t.Errorf("another volume is mounted at %s", m.MountPath)
			}
		})
	}
}

// TestRegistryTokenFlexAuthCAConfigLoads feeds registry-token's
// check-config with the configuration rendered with a CA Secret, the
// mounted file standing in as a real CA bundle: accepted. With a file
// that holds no certificate it is refused, naming policy.caFile.
func TestRegistryTokenFlexAuthCAConfigLoads(t *testing.T) {
	helm := helmBin(t)
	bin := proctest.Build(t, "./services/registry-token")
	sample, err := filepath.Abs("../configs/registry-signing-sample.pem")
	if err != nil {
		t.Fatal(err)
	}
	r := defaultRelease("registry-token")
	r.Set = []string{"flexAuth.url=" + httpsFlexAuthURL, "flexAuth.caSecret.name=flex-auth-tls"}
	objs := renderObjects(t, helm, r)
	data := registryTokenConfigData(t, objs, workload(t, objs))
	mounted := renderedPolicyCAFile(t, data)
	if mounted == "" {
		t.Fatalf("no policy.caFile in:\n%s", data)
	}

	for _, tc := range []struct {
		name    string
		pem     []byte
		wantErr string
	}{
		{name: "CA bundle", pem: certtest.SelfSigned(t, "flex-auth CA", 1).CertPEM},
		{name: "no certificate", pem: []byte("not a certificate\n"), wantErr: "policy.caFile: no PEM certificates"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ca := filepath.Join(dir, "ca.crt")
			if err := os.WriteFile(ca, tc.pem, 0o600); err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(dir, "registry-token.yaml")
			if err := os.WriteFile(file, []byte(strings.ReplaceAll(data, mounted, ca)), 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(bin, "check-config", "--config", file)
			cmd.Env = append(cleanEnv("REGISTRY_TOKEN_"),
				"REGISTRY_TOKEN_SIGNING__KEYFILE="+sample,
				"REGISTRY_TOKEN_SIGNING__KEYPASSWORDFILE=")
			out, err := cmd.CombinedOutput()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("check-config rejects the rendered config: %v\n%s", err, out)
			case tc.wantErr == "" && !strings.Contains(string(out), "caFile: "+ca):
				t.Errorf("check-config output lacks policy.caFile:\n%s", out)
			case tc.wantErr != "" && (err == nil || !strings.Contains(string(out), tc.wantErr)):
				t.Errorf("check-config: %v, want %q in:\n%s", err, tc.wantErr, out)
			}
		})
	}
}
