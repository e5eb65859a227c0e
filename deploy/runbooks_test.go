package deploy_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/authgate/pkg/testkit/proctest"
	"github.com/stellaops/authgate/pkg/yamljson"
)

// runbooks are the documents (relative to deploy/) whose sh blocks are
// checked against the repository; every one must have sh blocks.
var runbooks = []string{"runbooks/registry-token.md", "runbooks/ops-warden-registry-sync.md", "README.md", "examples/registry/README.md",
	"../README.md", "../services/registry-token/README.md"}

// shellCommands returns the commands of the ```sh blocks of a Markdown
// file, continuation lines joined.
func shellCommands(t *testing.T, file string) []string {
	t.Helper()
	var cmds []string
	in := false
	cur := ""
	for _, line := range strings.Split(readFile(t, file), "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case !in && trimmed == "```sh":
			in = true
		case in && trimmed == "```":
			in = false
		case in:
			cur += strings.TrimSuffix(trimmed, "\\")
			if strings.HasSuffix(trimmed, "\\") {
				cur += " "
				continue
			}
			if cur != "" {
				cmds = append(cmds, cur)
			}
			cur = ""
		}
	}
	if len(cmds) == 0 {
		t.Fatalf("%s has no sh blocks", file)
	}
	return cmds
}

// words splits a command line on blanks, keeping quoted strings together.
func words(cmd string) []string {
	return regexp.MustCompile(`'[^']*'|"[^"]*"|\S+`).FindAllString(cmd, -1)
}

// opsWardenCommands run in the ops-warden checkout, not in this repository.
var opsWardenCommands = regexp.MustCompile(`^(python scripts/build_flex_auth_registry\.py|warden sign|SMOKE_VAULT=1 ~/ops-warden/)`)

var repoPath = regexp.MustCompile(`^(configs|deploy|services|pkg|api)/[^\s'"]*$`)

// TestRunbookCommandsAreReal checks every command of the runbooks against
// this repository: paths exist, the CLIs have the subcommands and flags
// used, helm values set on the command line exist in the chart. The local
// CLI commands are run as written.
func TestRunbookCommandsAreReal(t *testing.T) {
	bins := buildCLIs(t)
	usage := map[string]string{}
	for name, bin := range bins {
		out, _ := exec.Command(bin, "help").CombinedOutput()
		usage[name] = string(out)
	}
	for _, rb := range runbooks {
		for _, cmd := range shellCommands(t, rb) {
			t.Run(strings.TrimPrefix(rb, "../")+"/"+cmd, func(t *testing.T) {
				if opsWardenCommands.MatchString(cmd) {
					return
				}
				checkCommand(t, cmd, usage)
			})
		}
	}
	// Run the local, side-effect free CLI commands exactly as written.
	for _, rb := range runbooks {
		for _, cmd := range shellCommands(t, rb) {
			w := words(cmd)
			if !runnable(w) {
				continue
			}
			t.Run("run/"+cmd, func(t *testing.T) {
				c := exec.Command(bins[w[0]], w[1:]...)
				c.Dir = ".."
				c.Env = cleanEnv("REGISTRY_TOKEN_")
				if out, err := c.CombinedOutput(); err != nil {
					t.Errorf("%s: %v\n%s", cmd, err, out)
				}
			})
		}
	}
}

func runnable(w []string) bool {
	if len(w) < 2 || (w[0] != "flex-auth" && w[0] != "registry-token") {
		return false
	}
	switch w[1] {
	case "load-registry", "policy", "check-config":
		return true
	}
	return false
}

func checkCommand(t *testing.T, cmd string, usage map[string]string) {
	w := words(cmd)
	// Leading VAR=value assignments.
	for len(w) > 0 && regexp.MustCompile(`^[A-Z_]+=`).MatchString(w[0]) {
		w = w[1:]
	}
	for _, word := range w {
		word = strings.Trim(word, `"'`)
		if _, v, ok := strings.Cut(word, "="); ok && repoPath.MatchString(v) {
			word = v
		}
		if repoPath.MatchString(word) && !strings.Contains(word, "*") {
			if _, err := os.Stat(filepath.Join("..", word)); err != nil {
				t.Errorf("path %s does not exist", word)
			}
		}
	}
	if len(w) == 0 {
		return
	}
	switch w[0] {
	case "registry-token", "flex-auth":
		checkCLI(t, w, usage[w[0]])
	case "go":
		if len(w) > 2 && w[1] == "run" {
			if _, err := os.Stat(filepath.Join("..", w[2])); err != nil {
				t.Errorf("go run %s: %v", w[2], err)
			}
		}
	case "helm":
		checkHelm(t, w)
	}
}

// checkCLI finds the usage line of the subcommand and checks the flags.
func checkCLI(t *testing.T, w []string, usage string) {
	t.Helper()
	sub := w[1]
	if sub == "policy" && len(w) > 2 {
		sub = "policy " + w[2]
	}
	line := ""
	for _, l := range strings.Split(usage, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), sub+" ") || strings.TrimSpace(l) == sub {
			line = l
		}
	}
	if line == "" {
		t.Fatalf("%s has no command %q:\n%s", w[0], sub, usage)
	}
	for _, word := range w[2:] {
		if f, _, _ := strings.Cut(word, "="); strings.HasPrefix(f, "--") && !strings.Contains(line, f) {
			t.Errorf("%s %s has no flag %s (usage: %s)", w[0], sub, f, strings.TrimSpace(line))
		}
	}
}

// checkHelm checks that values set on the command line exist in the chart.
func checkHelm(t *testing.T, w []string) {
	t.Helper()
	chart := ""
	for _, word := range w {
		if strings.HasPrefix(word, "deploy/helm/") {
			chart = word
		}
	}
	if chart == "" {
		return
	}
	var values map[string]any
	if err := yamljson.Unmarshal([]byte(readFile(t, filepath.Join("..", chart, "values.yaml"))), &values); err != nil {
		t.Fatal(err)
	}
	for i, word := range w {
		if (word == "--set" || word == "--set-file") && i+1 < len(w) {
			key, _, _ := strings.Cut(w[i+1], "=")
			if !hasValue(values, strings.Split(key, ".")) {
				t.Errorf("%s has no value %s", chart, key)
			}
		}
	}
}

func hasValue(m map[string]any, path []string) bool {
	v, ok := m[path[0]]
	if !ok {
		return false
	}
	if len(path) == 1 {
		return true
	}
	sub, ok := v.(map[string]any)
	return ok && hasValue(sub, path[1:])
}

// buildCLIs builds both services' binaries once.
func buildCLIs(t *testing.T) map[string]string {
	t.Helper()
	bins := map[string]string{}
	for _, name := range []string{"registry-token", "flex-auth"} {
		bins[name] = proctest.Build(t, "./services/"+name)
	}
	return bins
}

// TestServiceReadmesShowTheirHelp keeps the copy of "<service> help" in
// each service's README equal to what the binary prints.
func TestServiceReadmesShowTheirHelp(t *testing.T) {
	for name, bin := range buildCLIs(t) {
		out, err := exec.Command(bin, "help").CombinedOutput()
		if err != nil {
			t.Fatalf("%s help: %v\n%s", name, err, out)
		}
		readme := filepath.Join("..", "services", name, "README.md")
		block := "```text\n" + strings.TrimRight(string(out), "\n") + "\n```\n"
		if !strings.Contains(readFile(t, readme), block) {
			t.Errorf("%s does not show %s help as it is now:\n%s", readme, name, block)
		}
	}
}

// TestOpsWardenPreflight runs the runbook's pre-flight against a real
// flex-auth started with the runbook's serve command (on a free local
// port instead of 0.0.0.0:8080, the log in a temporary directory).
func TestOpsWardenPreflight(t *testing.T) {
	bins := buildCLIs(t)
	var serve, smoke []string
	for _, cmd := range shellCommands(t, "runbooks/ops-warden-registry-sync.md") {
		w := words(cmd)
		if len(w) > 1 && w[0] == "flex-auth" && w[1] == "serve" && serve == nil {
			serve = w
		}
		if len(w) > 1 && w[0] == "flex-auth" && w[1] == "smoke" {
			smoke = w
		}
	}
	if serve == nil || smoke == nil {
		t.Fatal("runbook has no flex-auth serve or flex-auth smoke command")
	}
	addr := freeAddr(t)
	logFile := filepath.Join(t.TempDir(), "ops-warden-decisions.jsonl")
	args := replaceArg(t, replaceArg(t, serve[1:], "--addr", addr), "--log", logFile)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := exec.CommandContext(ctx, bins["flex-auth"], args...)
	srv.Dir = ".."
	srvOut := &proctest.Buffer{}
	srv.Stdout, srv.Stderr = srvOut, srvOut
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = srv.Wait() }()
	base := "http://" + addr
	waitReady(t, base+"/readyz", srvOut)

	smokeArgs := replaceArg(t, smoke[1:], "--url", base)
	out, err := exec.Command(bins["flex-auth"], smokeArgs...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s\nserver:\n%s", strings.Join(smoke, " "), err, out, srvOut.String())
	}
	for _, want := range []string{"signing_policy_matched", "ttl_out_of_bounds"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("smoke output lacks %s:\n%s", want, out)
		}
	}
	if info, err := os.Stat(logFile); err != nil || info.Size() == 0 {
		t.Errorf("no decision log written at %s: %v", logFile, err)
	}
}

func replaceArg(t *testing.T, args []string, flag, value string) []string {
	t.Helper()
	out := append([]string(nil), args...)
	for i := 0; i+1 < len(out); i++ {
		if out[i] == flag {
			out[i+1] = value
			return out
		}
	}
	t.Fatalf("args %v lack %s", args, flag)
	return nil
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

func waitReady(t *testing.T, url string, log fmt.Stringer) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s not ready within 60s:\n%s", url, log.String())
}
