package faults

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/authgate/pkg/testkit/proctest"
)

// TestStartupErrors is scenario 9 where it applies to flex-auth (it has
// no signing key and no plans): an unknown config key, invalid values,
// and a snapshot and a policy that do not load each make "flex-auth
// serve" exit non-zero, naming every problem found together.
func TestStartupErrors(t *testing.T) {
	bin := proctest.Build(t, "./services/flex-auth")
	fig := proctest.NewFigures("9-flex-auth")
	cases := []struct {
		name   string
		config string // YAML of --config, if any
		args   func(dir string) []string
		want   []string
	}{
		{"unknown config key and invalid values", "server:\n  adress: \"127.0.0.1:1\"\ndecisionLog:\n  sync: sometimes\nlogLevel: loud\n", //nolint:misspell // the misspelt key is the test
			func(dir string) []string { return nil },
			[]string{`server.adress`, `sometimes`, `logLevel "loud"`, "registry (--registry) is required", "policy (--policy) is required"}},
		{"snapshot and policy both broken", "",
			func(dir string) []string {
				reg, pol := filepath.Join(dir, "registry.json"), filepath.Join(dir, "policy.md")
				writeFile(t, reg, `{"version": 1, "actors": [{"name": 7}]}`)
				writeFile(t, pol, "---\nname: x\nversion: [\n---\n")
				return []string{"--registry", reg, "--policy", pol, "--log", filepath.Join(dir, "d.jsonl")}
			},
			[]string{"registry " + "REG", "policy " + "POL"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			args := []string{"serve", "--addr", "127.0.0.1:0"}
			if tc.config != "" {
				cfg := filepath.Join(dir, "flex-auth.yaml")
				writeFile(t, cfg, tc.config)
				args = append(args, "--config", cfg)
			}
			args = append(args, tc.args(dir)...)
			fig.Sent()
			res := proctest.Run(t, bin, dir, nil, 30*time.Second, args...)
			if res.Code == 0 {
				fig.Allowed()
				fig.Lost()
				t.Fatal("serve exited 0")
			}
			fig.Denied()
			r := strings.NewReplacer("REG", filepath.Join(dir, "registry.json"), "POL", filepath.Join(dir, "policy.md"))
			for _, w := range tc.want {
				if w = r.Replace(w); !strings.Contains(res.Stderr, w) {
					t.Errorf("exit %d, stderr does not name %q:\n%s", res.Code, w, res.Stderr)
				}
			}
			t.Logf("exit %d: %s", res.Code, strings.ReplaceAll(strings.TrimSpace(res.Stderr), "\n", " | "))
		})
	}
	fig.Log(t)
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}
