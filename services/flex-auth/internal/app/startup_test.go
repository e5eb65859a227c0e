package app

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBrokenFilesAtStartUp: with no previous pair, the log must not claim
// that one stays active.
func TestBrokenFilesAtStartUp(t *testing.T) {
	dir := t.TempDir()
	reg, pol := filepath.Join(dir, "r.json"), filepath.Join(dir, "p.md")
	if err := os.WriteFile(reg, []byte(`{"version": 1, "actors": [{"name": 7}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	copyFile(t, fixturePolicy, pol)
	stderr := &syncBuffer{}
	err := Run(context.Background(), Env{Stderr: stderr,
		Args: []string{"--addr", "127.0.0.1:0", "--registry", reg, "--policy", pol, "--log", filepath.Join(dir, "d.jsonl")}})
	if err == nil {
		t.Fatal("Run succeeded with a broken registry")
	}
	out := stderr.String()
	if strings.Contains(out, "stay active") || !strings.Contains(out, "not starting") {
		t.Fatalf("process log:\n%s", out)
	}
}
