package images

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// podman runs podman against a private, temporary store: its own root and
// runroot, the vfs storage driver, the runc runtime and lowered ulimits
// (what works inside an unprivileged build container). Nothing touches
// the host's images or containers.
type podman struct {
	t       *testing.T
	bin     string
	global  []string
	environ []string
}

func newPodman(t *testing.T) *podman {
	t.Helper()
	bin, err := exec.LookPath("podman")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("podman is not installed; CI needs it for the container test (.ci/run installs it with apt-get install podman)")
		}
		t.Skip("podman is not installed (apt-get install podman); the container test needs it")
	}
	// A short path: conmon's attach socket must fit in a Unix socket name.
	dir, err := os.MkdirTemp("", "pm-")
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "containers.conf")
	if err := os.WriteFile(conf, []byte(`[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
netns = "host"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "`+filepath.Join(dir, "events.log")+`"
`), 0o644); err != nil {
		t.Fatal(err)
	}
	registries := filepath.Join(dir, "registries.conf")
	if err := os.WriteFile(registries, []byte("unqualified-search-registries = []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &podman{t: t, bin: bin,
		global: []string{"--root", filepath.Join(dir, "root"), "--runroot", filepath.Join(dir, "run"),
			"--storage-driver", "vfs", "--tmpdir", filepath.Join(dir, "tmp")},
		environ: append(os.Environ(), "CONTAINERS_CONF="+conf, "CONTAINERS_REGISTRIES_CONF="+registries),
	}
	t.Cleanup(func() {
		_, _ = p.try("rm", "--all", "--force", "--time", "5")
		_, _ = p.try("rmi", "--all", "--force")
		// vfs layers hold read-only directories: make them removable.
		_ = exec.Command("chmod", "-R", "u+rwX", dir).Run()
		if err := os.RemoveAll(dir); err != nil {
			t.Logf("podman store %s: %v", dir, err)
		}
	})
	return p
}

// try runs one podman command and returns its stdout.
func (p *podman) try(args ...string) (string, error) {
	cmd := exec.Command(p.bin, append(append([]string{}, p.global...), args...)...)
	cmd.Env = p.environ
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("podman %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return strings.TrimSpace(stdout.String()), nil
}

func (p *podman) run(args ...string) string {
	p.t.Helper()
	out, err := p.try(args...)
	if err != nil {
		p.t.Fatal(err)
	}
	return out
}

// load reads the host platform's image from an OCI archive and returns
// its id.
func (p *podman) load(archive string) string {
	p.t.Helper()
	return p.run("pull", "--quiet", "oci-archive:"+archive)
}

// start runs a detached container and stops it (printing its logs on
// failure) when the test ends.
func (p *podman) start(name string, args ...string) {
	p.t.Helper()
	p.run(append([]string{"run", "--detach", "--name", name}, args...)...)
	p.t.Cleanup(func() {
		_, _ = p.try("stop", "--time", "10", name)
	})
}

// logs returns a container's stdout and stderr.
func (p *podman) logs(name string) string {
	cmd := exec.Command(p.bin, append(append([]string{}, p.global...), "logs", name)...)
	cmd.Env = p.environ
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Sprintf("%s(podman logs: %v)", out, err)
	}
	return string(out)
}

// state reports a container's state ("running", "exited") and exit code.
func (p *podman) state(name string) string {
	out, _ := p.try("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", name)
	return out
}

// waitUntil polls ok every 100 ms until it holds or the timeout passes.
func waitUntil(timeout time.Duration, ok func() bool) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if ok() {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return ok()
}
