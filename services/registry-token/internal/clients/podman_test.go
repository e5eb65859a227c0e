package clients

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// podmanArgs are the global flags and environment podman runs with here:
// the runc runtime, lowered ulimits, vfs storage in a temporary root, no
// systemd (containers.conf), and the isolated containers/image settings.
func podmanArgs(t *testing.T) ([]string, []string) {
	t.Helper()
	env, _ := containersEnv(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "containers.conf")
	const containersConf = `[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
netns = "host"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
`
	storage := filepath.Join(dir, "storage.conf")
	storageConf := "[storage]\ndriver = \"vfs\"\nrunroot = \"" + filepath.Join(dir, "runroot") + "\"\ngraphroot = \"" + filepath.Join(dir, "root") + "\"\n"
	for path, s := range map[string]string{conf: containersConf, storage: storageConf} {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env = append(env, "CONTAINERS_CONF="+conf, "CONTAINERS_STORAGE_CONF="+storage)
	flags := []string{"--root", filepath.Join(dir, "root"), "--runroot", filepath.Join(dir, "runroot"), "--storage-driver", "vfs",
		"--tmpdir", filepath.Join(dir, "tmp")}
	return env, flags
}

// TestPodman pulls an image from an OCI layout into its own storage,
// pushes it with a certificate-bound OpTok as the password and the client
// certificate in --cert-dir (GET /token with Basic), pulls it back and
// compares digests.
func TestPodman(t *testing.T) {
	podman := tool(t, "podman", "apt-get install podman")
	w := getWorld(t)
	env, flags := podmanArgs(t)
	p := func(args ...string) string {
		return run(t, env, podman, append(append([]string{}, flags...), args...)...)
	}
	// podman names the image after the layout's path: keep it lower-case.
	src, err := os.MkdirTemp("", "podman-layout-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(src) })
	ociImage(t, src)
	lines := strings.Fields(p("pull", "oci:"+src+":v1"))
	id := lines[len(lines)-1]
	ref := w.host + "/stella-ops/team/podman:v1"
	creds := "oauth2accesstoken:" + w.certOpTok(t)
	digestFile := filepath.Join(t.TempDir(), "digest")
	mark := w.logs.Len()
	p("push", "--cert-dir", w.certDir, "--creds", creds, "--digestfile", digestFile, id, "docker://"+ref)
	pushed, err := os.ReadFile(digestFile)
	if err != nil || !strings.HasPrefix(string(pushed), "sha256:") {
		t.Fatalf("digest file %q: %v", pushed, err)
	}
	p("rmi", "--all", "--force")
	p("pull", "--cert-dir", w.certDir, "--creds", creds, "docker://"+ref)
	if got := strings.TrimSpace(p("image", "inspect", "--format", "{{.Digest}}", ref)); got != strings.TrimSpace(string(pushed)) {
		t.Fatalf("pulled %s, pushed %s", got, pushed)
	}
	if w.decisions(mark, "basic") == 0 {
		t.Fatalf("no token issued through Basic:\n%s", w.logs.String()[mark:])
	}
}
