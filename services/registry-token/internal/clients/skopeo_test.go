package clients

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// containersEnv isolates containers/image (skopeo, podman) from the
// machine's configuration: no registries.conf, a private auth file, and a
// policy accepting anything.
func containersEnv(t *testing.T) ([]string, string) {
	t.Helper()
	dir := t.TempDir()
	policy := filepath.Join(dir, "policy.json")
	regs := filepath.Join(dir, "registries.conf")
	auth := filepath.Join(dir, "auth.json")
	files := map[string]string{policy: `{"default":[{"type":"insecureAcceptAnything"}]}`, regs: "unqualified-search-registries = []\n", auth: `{"auths":{}}`}
	for p, s := range files {
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return []string{"CONTAINERS_REGISTRIES_CONF=" + regs, "REGISTRY_AUTH_FILE=" + auth,
		"XDG_RUNTIME_DIR=" + dir, "HOME=" + dir}, policy
}

// authFile is the REGISTRY_AUTH_FILE of a containersEnv.
func authFile(env []string) string {
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "REGISTRY_AUTH_FILE="); ok {
			return v
		}
	}
	return ""
}

// layoutDigest is the digest of the image tagged tag in an OCI layout.
func layoutDigest(t *testing.T, dir, tag string) string {
	t.Helper()
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range m.Manifests {
		if d.Annotations["org.opencontainers.image.ref.name"] == tag {
			return d.Digest.String()
		}
	}
	t.Fatalf("no image tagged %s in %s", tag, dir)
	return ""
}

// TestSkopeo pushes and pulls with a certificate-bound OpTok as the
// password (GET /token with Basic) and the client certificate in a
// certs.d-style --cert-dir.
func TestSkopeo(t *testing.T) {
	skopeo := tool(t, "skopeo", "apt-get install skopeo")
	w := getWorld(t)
	env, policy := containersEnv(t)
	src := t.TempDir()
	want := ociImage(t, src)
	ref := "docker://" + w.host + "/stella-ops/team/skopeo:v1"
	creds := "oauth2accesstoken:" + w.certOpTok(t)
	mark := w.logs.Len()

	run(t, env, skopeo, "--policy", policy, "copy", "--preserve-digests", "--dest-cert-dir", w.certDir, "--dest-creds", creds, "oci:"+src+":v1", ref)
	got := strings.TrimSpace(run(t, env, skopeo, "inspect", "--cert-dir", w.certDir, "--creds", creds, "--format", "{{.Digest}}", ref))
	if got != want {
		t.Fatalf("registry holds %s, pushed %s", got, want)
	}
	dst := t.TempDir()
	run(t, env, skopeo, "--policy", policy, "copy", "--src-cert-dir", w.certDir, "--src-creds", creds, ref, "oci:"+dst+":v1")
	if got := layoutDigest(t, dst, "v1"); got != want {
		t.Fatalf("pulled %s, pushed %s", got, want)
	}
	if n := w.decisions(mark, "basic"); n == 0 {
		t.Fatalf("no token was issued through Basic: %s", w.logs.String()[mark:])
	}

	t.Run("identity token in the auth file: POST refresh_token grant", func(t *testing.T) {
		env, policy := containersEnv(t)
		// containers/image reads identitytoken only next to an auth entry
		// (docker login writes both).
		auth := map[string]any{"auths": map[string]any{w.host: map[string]string{
			"auth": base64.StdEncoding.EncodeToString([]byte("oauth2accesstoken:")), "identitytoken": w.certOpTok(t)}}}
		b, _ := json.Marshal(auth)
		if err := os.WriteFile(authFile(env), b, 0o600); err != nil {
			t.Fatal(err)
		}
		mark := w.logs.Len()
		ref := "docker://" + w.host + "/stella-ops/team/skopeo:refresh"
		run(t, env, skopeo, "--policy", policy, "copy", "--preserve-digests", "--dest-cert-dir", w.certDir, "oci:"+src+":v1", ref)
		dst := t.TempDir()
		run(t, env, skopeo, "--policy", policy, "copy", "--src-cert-dir", w.certDir, ref, "oci:"+dst+":v1")
		if got := layoutDigest(t, dst, "v1"); got != want {
			t.Fatalf("pulled %s, pushed %s", got, want)
		}
		if w.decisions(mark, "refresh_token") == 0 || w.decisions(mark, "basic") != 0 {
			t.Fatalf("tokens not issued through the refresh_token grant:\n%s", w.logs.String()[mark:])
		}
	})

	t.Run("without the client certificate", func(t *testing.T) {
		caOnly := t.TempDir()
		ca, _ := os.ReadFile(w.caFile)
		_ = os.WriteFile(filepath.Join(caOnly, "ca.crt"), ca, 0o600)
		_, errOut, err := runErr(env, skopeo, "inspect", "--cert-dir", caOnly, "--creds", creds, ref)
		if err == nil {
			t.Fatal("inspect succeeded without the bound certificate")
		}
		if !strings.Contains(errOut, "401") && !strings.Contains(strings.ToLower(errOut), "unauthorized") {
			t.Fatalf("want a 401 from the token service: %s", errOut)
		}
	})
}
