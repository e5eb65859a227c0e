// Package render runs the pinned helm binary over the charts in deploy/helm
// and decodes what it renders strictly into the Kubernetes API types.
package render

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// HelmVersion is the helm release the charts are checked with;
// deploy/tools/install-helm.sh installs it from the Go module proxy.
const HelmVersion = "v3.21.4"

// PromtoolVersion is the Prometheus module version promtool is built from
// (deploy/tools/install-promtool.sh).
const PromtoolVersion = "v0.315.0"

// ToolsDir is where the tasks install pinned tools, outside the repository:
// $AUTHGATE_TOOLS, else <user cache dir>/authgate-tools.
func ToolsDir() string {
	if d := os.Getenv("AUTHGATE_TOOLS"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "authgate-tools")
	}
	return filepath.Join(os.TempDir(), "authgate-tools")
}

// Helm finds the helm binary: $HELM_BIN, else ToolsDir()/helm installed
// by deploy/tools/install-helm.sh at HelmVersion.
func Helm() (string, error) {
	return tool("HELM_BIN", "helm", HelmVersion, "deploy/tools/install-helm.sh   (task tools:helm)")
}

// Promtool finds the promtool binary: $PROMTOOL_BIN, else
// ToolsDir()/promtool built by deploy/tools/install-promtool.sh from
// prometheus PromtoolVersion.
func Promtool() (string, error) {
	return tool("PROMTOOL_BIN", "promtool", PromtoolVersion, "deploy/tools/install-promtool.sh   (task tools:promtool)")
}

func tool(env, name, version, install string) (string, error) {
	if p := os.Getenv(env); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w", env, p, err)
		}
		return p, nil
	}
	p := filepath.Join(ToolsDir(), name)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%s %s not found at %s and %s is unset; install it from the repository root with:\n  %s", name, version, p, env, install)
	}
	if b, err := os.ReadFile(p + ".version"); err != nil || strings.TrimSpace(string(b)) != version {
		return "", fmt.Errorf("%s at %s is not the pinned %s (marker %s.version: %q); reinstall it with:\n  %s", name, p, version, p, strings.TrimSpace(string(b)), install)
	}
	return p, nil
}

// Release names one helm template run.
type Release struct {
	Chart     string   // chart directory
	Name      string   // release name
	Namespace string   // release namespace
	Values    []string // values files, in order
	Set       []string // --set arguments
}

// Template runs `helm template` and returns the rendered manifest.
func Template(helm string, r Release) ([]byte, error) {
	args := []string{"template", r.Name, r.Chart, "--namespace", r.Namespace}
	args = append(args, valueArgs(r)...)
	return run(helm, args...)
}

// Lint runs `helm lint --strict` with the release's values.
func Lint(helm string, r Release) ([]byte, error) {
	args := []string{"lint", "--strict", r.Chart, "--namespace", r.Namespace}
	args = append(args, valueArgs(r)...)
	return run(helm, args...)
}

func valueArgs(r Release) []string {
	var args []string
	for _, v := range r.Values {
		args = append(args, "--values", v)
	}
	for _, s := range r.Set {
		args = append(args, "--set", s)
	}
	return args
}

func run(bin string, args ...string) ([]byte, error) {
	cmd := exec.Command(bin, args...)
	// A private helm home: no repositories, plugins or caches of the host.
	home, err := os.MkdirTemp("", "authgate-helm-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(home)
	cmd.Env = append(os.Environ(),
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"),
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return stdout.Bytes(), fmt.Errorf("%s %s: %w\n%s%s", filepath.Base(bin), strings.Join(args, " "), err, stdout.String(), stderr.String())
		}
		return nil, err
	}
	return stdout.Bytes(), nil
}
