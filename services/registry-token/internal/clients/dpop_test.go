package clients

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/authgate/pkg/testkit/proctest"
	"github.com/stellaops/authgate/services/registry-token/internal/dpopclient"
)

// helperConfig runs registry-token-helper with a fresh DPoP key and an
// OpTok bound to it, writing a registry token for scope into a new Docker
// config file, and returns that file.
func helperConfig(t *testing.T, scope string) string {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "docker", "config.json")
	helper(t, scope, "--docker-config", cfg)
	return cfg
}

// helper runs registry-token-helper with a fresh DPoP key and an OpTok
// bound to it, for scope, and returns what it prints.
func helper(t *testing.T, scope string, extra ...string) string {
	t.Helper()
	w := getWorld(t)
	bin := proctest.Build(t, "./services/registry-token/cmd/registry-token-helper")
	key, err := dpopclient.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	tok, err := w.stack.Authority.MintDPoP("dpop-enterprise", "enterprise", "lic-dpop", key.JKT, []string{"registry.token.issue"}, []string{"registry"}, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keyJSON, err := json.Marshal(key.Key)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{filepath.Join(dir, "dpop.jwk"): keyJSON, filepath.Join(dir, "optok.jwt"): []byte(tok)}
	for p, b := range files {
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	mark := w.logs.Len()
	out := run(t, nil, bin, append([]string{"--registry", w.host, "--realm", w.stack.Realm, "--cacert", w.caFile, "--optok-file", filepath.Join(dir, "optok.jwt"),
		"--dpop-key", filepath.Join(dir, "dpop.jwk"), "--scope", scope}, extra...)...)
	if w.decisions(mark, "dpop") != 1 {
		t.Fatalf("the helper did not get its token with a DPoP proof:\n%s", w.logs.String()[mark:])
	}
	return strings.TrimSpace(out)
}

// TestCraneWithDPoPHelper pushes and pulls with crane, which reads the
// registry token the helper wrote into the Docker config.
func TestCraneWithDPoPHelper(t *testing.T) {
	crane := tool(t, "crane", "go tool task tools:crane")
	w := getWorld(t)
	ref := w.host + "/stella-ops/team/crane:v1"
	cfg := helperConfig(t, "repository:stella-ops/team/crane:pull,push")
	env := []string{"DOCKER_CONFIG=" + filepath.Dir(cfg), "SSL_CERT_FILE=" + w.caFile, "HOME=" + t.TempDir()}
	src := t.TempDir()
	want := ociImage(t, src)
	run(t, env, crane, "push", src, ref)
	if got := strings.TrimSpace(run(t, env, crane, "digest", ref)); got != want {
		t.Fatalf("registry holds %s, pushed %s", got, want)
	}
	dst := t.TempDir()
	run(t, env, crane, "pull", "--format", "oci", ref, dst)
	if got := layoutDigest(t, dst, ""); got != want {
		t.Fatalf("pulled %s, pushed %s", got, want)
	}
	// The token covers only the scopes asked for.
	if _, errOut, err := runErr(env, crane, "digest", w.host+"/stella-ops/team/other:v1"); err == nil || !strings.Contains(errOut, "UNAUTHORIZED") {
		t.Fatalf("another repository with the helper's token: %v %s", err, errOut)
	}
}

// TestHelmWithDPoPHelper pushes and pulls a chart with the registry token
// the helper wrote into helm's registry config.
func TestHelmWithDPoPHelper(t *testing.T) {
	helm := tool(t, "helm", "go tool task tools:helm")
	w := getWorld(t)
	env := helmEnv(t)
	cfg := helperConfig(t, "repository:stella-ops/charts/dpop:pull,push")
	env = append(env, "HELM_REGISTRY_CONFIG="+cfg)
	helmPushPull(t, helm, env, helmChart(t, helm, "dpop"), "dpop", "--ca-file", w.caFile)
}

// TestSkopeoWithDPoPHelper pushes and pulls with skopeo's
// --dest-registry-token/--src-registry-token, the token printed by the
// helper; the certificate directory holds only the CA.
func TestSkopeoWithDPoPHelper(t *testing.T) {
	skopeo := tool(t, "skopeo", "apt-get install skopeo")
	w := getWorld(t)
	env, policy := containersEnv(t)
	caOnly := t.TempDir()
	ca, err := os.ReadFile(w.caFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(caOnly, "ca.crt"), ca, 0o600); err != nil {
		t.Fatal(err)
	}
	token := helper(t, "repository:stella-ops/team/skopeo-dpop:pull,push")
	src := t.TempDir()
	want := ociImage(t, src)
	ref := "docker://" + w.host + "/stella-ops/team/skopeo-dpop:v1"
	run(t, env, skopeo, "--policy", policy, "copy", "--preserve-digests", "--dest-cert-dir", caOnly, "--dest-registry-token", token, "oci:"+src+":v1", ref)
	dst := t.TempDir()
	run(t, env, skopeo, "--policy", policy, "copy", "--src-cert-dir", caOnly, "--src-registry-token", token, ref, "oci:"+dst+":v1")
	if got := layoutDigest(t, dst, "v1"); got != want {
		t.Fatalf("pulled %s, pushed %s", got, want)
	}
}
