package deploy_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/stellaops/authgate/deploy/internal/render"
	"github.com/stellaops/authgate/pkg/testkit/certtest"
	"github.com/stellaops/authgate/pkg/testkit/proctest"
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
			dep := workload(t, objs)
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
			// Files the policy client reads at start: a real CA and
			// client certificate stand in for the Secrets.
			data = withFlexAuthTLS(t, dir, data)
			// The replay store's Secrets (Redis credentials and CA, nonce keys).
			data = withReplayStoreFiles(t, dir, data)
			env := cleanEnv("REGISTRY_TOKEN_")
			if strings.Contains(data, `backend: "redis"`) {
				// The URL comes from a Secret, through the environment.
				env = append(env, "REGISTRY_TOKEN_AUTHORITY__REPLAYCACHE__REDISURL=redis://redis.redis.svc.cluster.local:6379/0")
			}
			if strings.Contains(data, signingKeysDir) {
				// A key set: each key of its own, passwords as empty files.
				data = withKeySet(t, dir, data)
			} else {
				env = append(env, "REGISTRY_TOKEN_SIGNING__KEYFILE="+sample, "REGISTRY_TOKEN_SIGNING__KEYPASSWORDFILE=")
			}
			if err := os.WriteFile(file, []byte(data), 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(bin, "check-config", "--config", file)
			cmd.Env = env
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("registry-token check-config rejects the rendered config: %v\n%s\n--- config ---\n%s", err, out, data)
			}
		})
	}
}

// signingKeysDir is where the chart mounts the Secrets of signing.keys.
const signingKeysDir = "/etc/registry-token/signing-keys/"

// withKeySet replaces the key files of a rendered signing.keys with fresh
// keys in dir (PEM whatever the name: the loader detects PEM by content)
// and password files with empty files.
func withKeySet(t *testing.T, dir, data string) string {
	t.Helper()
	for _, m := range regexp.MustCompile(`(file|passwordFile): "(`+signingKeysDir+`[^"]+)"`).FindAllStringSubmatch(data, -1) {
		local := filepath.Join(dir, strings.ReplaceAll(strings.TrimPrefix(m[2], signingKeysDir), "/", "_"))
		var content []byte
		if m[1] == "file" {
			k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			der, err := x509.MarshalPKCS8PrivateKey(k)
			if err != nil {
				t.Fatal(err)
			}
			content = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
			local += ".pem"
		}
		if err := os.WriteFile(local, content, 0o600); err != nil {
			t.Fatal(err)
		}
		data = strings.ReplaceAll(data, `"`+m[2]+`"`, `"`+local+`"`)
	}
	return data
}

// withFlexAuthTLS replaces the flex-auth CA bundle and client certificate
// files the chart renders into the policy section (flexAuth.caSecret,
// flexAuth.clientCertSecret) by a real certificate and key in dir.
func withFlexAuthTLS(t *testing.T, dir, data string) string {
	t.Helper()
	c := certtest.SelfSigned(t, "registry-token", 1)
	for _, m := range regexp.MustCompile(`(caFile|certFile|keyFile): "(/etc/registry-token/flex-auth-(?:ca|client)/[^"]+)"`).FindAllStringSubmatch(data, -1) {
		local := filepath.Join(dir, "flex-auth-"+m[1])
		content := c.CertPEM
		if m[1] == "keyFile" {
			content = c.KeyPEM
		}
		if err := os.WriteFile(local, content, 0o600); err != nil {
			t.Fatal(err)
		}
		data = strings.ReplaceAll(data, m[2], local)
	}
	return data
}
