package app

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// --policy repeats; the YAML file lists more packages under policies and
// names the entity data under data; flags win.
func TestSeveralPoliciesAndData(t *testing.T) {
	cfg, err := LoadConfig([]string{"--registry", "r.json", "--log", "d.jsonl",
		"--policy", "a.md", "--policy", "dir", "--policy", "c.md", "--data", "e.yaml"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Policy != "a.md" || !reflect.DeepEqual(cfg.Policies, []string{"dir", "c.md"}) || cfg.Data != "e.yaml" {
		t.Fatalf("flags: %q %v %q", cfg.Policy, cfg.Policies, cfg.Data)
	}
	file := filepath.Join(t.TempDir(), "flex-auth.yaml")
	yaml := "registry: r.json\npolicy: a.md\npolicies: [b.md, dir]\ndata: e.json\ndecisionLog: {file: d.jsonl}\n"
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err = LoadConfig([]string{"--config", file}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Policy != "a.md" || !reflect.DeepEqual(cfg.Policies, []string{"b.md", "dir"}) || cfg.Data != "e.json" {
		t.Fatalf("file: %q %v %q", cfg.Policy, cfg.Policies, cfg.Data)
	}
	if _, err := LoadConfig([]string{"--registry", "r.json", "--log", "d", "--policy", ""}, nil); err == nil {
		t.Fatal("an empty --policy was accepted")
	}
}

// A second package that decides the same requests as the first stops
// the service from starting, naming both.
func TestOverlappingPackagesDoNotStart(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile("../../../../configs/ops-warden/policy_package.md")
	if err != nil {
		t.Fatal(err)
	}
	second := filepath.Join(dir, "second.md")
	renamed := strings.Replace(string(src), "name: ops-warden-ssh-signing", "name: second", 1)
	if err := os.WriteFile(second, []byte(renamed), 0o600); err != nil {
		t.Fatal(err)
	}
	err = Run(t.Context(), Env{Args: []string{"--addr", "127.0.0.1:0", "--registry", fixtureRegistry, "--policy", fixturePolicy,
		"--policy", second, "--log", filepath.Join(dir, "d.jsonl")}, Stderr: &syncBuffer{}})
	if err == nil {
		t.Fatal("started with two packages deciding every request")
	}
	for _, want := range []string{"both decide every request", "second.md", "policy_package.md"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}
