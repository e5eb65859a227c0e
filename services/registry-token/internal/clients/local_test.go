package clients

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/authgate/pkg/testkit/proctest"
	"github.com/stellaops/authgate/services/registry-token/internal/app"
	"github.com/stellaops/authgate/services/registry-token/internal/devstack"
)

// TestLocalStackRecipes runs the README's block "Against the local stack"
// as written, with bash, against the development stack of "go tool task
// run" (plain HTTP, the development Authority's DPoP-bound OpToks) on free
// ports: the REGISTRY=... line is the only one replaced. skopeo, crane,
// oras and helm push and pull through registry-token-helper.
func TestLocalStackRecipes(t *testing.T) {
	tools := map[string]string{
		"skopeo": tool(t, "skopeo", "apt-get install skopeo"),
		"crane":  tool(t, "crane", "go tool task tools:crane"),
		"oras":   tool(t, "oras", "go tool task tools:oras"),
		"helm":   tool(t, "helm", "go tool task tools:helm"),
	}
	for _, name := range []string{"registry-token-dev", "registry-token-helper"} {
		tools[name] = proctest.Build(t, "./services/registry-token/cmd/"+name)
	}
	root, err := proctest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(root, "services", "registry-token", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(raw), "### Against the local stack (`go tool task run`)")
	_, block, ok2 := strings.Cut(section, "```sh\n")
	script, _, ok3 := strings.Cut(block, "```")
	if !ok || !ok2 || !ok3 {
		t.Fatal("the README has no shell block under \"Against the local stack\"")
	}

	var logs bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := devstack.Up(ctx, devstack.Options{
		ConfigFile: filepath.Join(root, devstack.DefaultConfigFile), RunDir: t.TempDir(),
		RunService: func(ctx context.Context, args, environ []string, listening func(net.Addr)) error {
			return app.Run(ctx, app.Env{Args: args, Environ: environ, Stdout: &logs, Stderr: &logs, Listening: listening,
				Signals: make(chan os.Signal)})
		},
	})
	if err != nil {
		t.Fatalf("development stack: %v\n%s", err, logs.String())
	}
	defer func() { _ = s.Close() }()

	ports := regexp.MustCompile(`(?m)^REGISTRY=.*$`)
	if len(ports.FindAllString(script, -1)) != 1 {
		t.Fatalf("the block has no single REGISTRY=... line:\n%s", script)
	}
	script = ports.ReplaceAllLiteralString(script,
		"REGISTRY="+s.Registry.Host+" REALM="+s.Realm+" AUTHORITY="+s.Authority.URL)

	// A working directory like the repository root: bin/ with the
	// commands and clients, .run/ for the files.
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	for _, d := range []string{bin, filepath.Join(dir, ".run")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for name, p := range tools {
		if err := os.Symlink(p, filepath.Join(bin, name)); err != nil {
			t.Fatal(err)
		}
	}
	env, policy := containersEnv(t)
	var home string
	for _, kv := range env {
		if h, ok := strings.CutPrefix(kv, "HOME="); ok {
			home = h
		}
	}
	if err := os.MkdirAll(filepath.Join(home, ".config", "containers"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(policy, filepath.Join(home, ".config", "containers", "policy.json")); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "-c", "set -euo pipefail\n"+script)
	cmd.Dir = dir
	cmd.Env = append(env, "PATH="+bin+":/usr/local/bin:/usr/bin:/bin", "AUTHGATE_TOOLS="+bin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the README's local recipes failed: %v\n%s\n--- script ---\n%s", err, out, script)
	}
	for _, want := range []string{
		".run/push/pulled/index.json", ".run/pulled/app-0.1.0.tgz", ".run/docker/config.json",
	} {
		if _, err := os.Stat(filepath.Join(dir, want)); err != nil {
			t.Errorf("%s after the recipes: %v\n%s", want, err, out)
		}
	}
	for _, tag := range []string{"v1", "v2"} {
		if !regexp.MustCompile(`(?m)^` + tag + `$`).Match(out) {
			t.Errorf("crane ls does not list %s:\n%s", tag, out)
		}
	}
}
