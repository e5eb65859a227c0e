package engine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/authgate/pkg/policy"
)

const (
	todoPolicy   = "../../../../configs/todo-app/policy_package.md"
	todoData     = "../../../../configs/todo-app/entities.yaml"
	testPkgFront = "---\nname: %s\nversion: \"1\"\nbackend: flex-auth\n%sreasons:\n  - {code: ok, description: ok}\ndefault_reason: ok\n---\n\nAllow.\n\n```rule\nid: r\neffect: allow\nreason: ok\nwhen: \"true\"\n```\n"
)

func writePkg(t *testing.T, dir, name, decides string) string {
	t.Helper()
	p := filepath.Join(dir, name+".md")
	src := strings.Replace(strings.Replace(testPkgFront, "%s", name, 1), "%s", decides, 1)
	if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPackagesRouteByDecides(t *testing.T) {
	e, err := New(Config{RegistryFile: fixtureRegistry, PolicyFile: fixturePolicy, PolicyFiles: []string{todoPolicy}, DataFile: todoData})
	if err != nil {
		t.Fatal(err)
	}
	p := e.Active()
	if len(p.Packages) != 2 || p.Data == nil {
		t.Fatalf("%d packages, data %v", len(p.Packages), p.Data)
	}
	d := p.Decide(policy.Request{Actor: "atm-backup-daily"})
	if d.Err != nil || !d.Allowed() || d.PolicyPackage != "ops-warden-ssh-signing" || d.DataDigest != "" {
		t.Fatalf("%+v", d)
	}
	// a check request for an action the todo package claims is not
	// decided by the ops-warden package, nor by the todo package (whose
	// shape is authzen)
	d = p.Decide(policy.Request{Actor: "atm-backup-daily", Action: "can_read_todos"})
	if d.Effect != policy.EffectDeny || d.Reason != ReasonNoPackage || d.PolicyPackage != "" {
		t.Fatalf("%+v", d)
	}
	ev := &policy.Evaluation{Subject: policy.Entity{Type: "user", ID: "beth@the-smiths.com"},
		Action: policy.Action{Name: "can_read_todos"}, Resource: policy.Entity{Type: "todo", ID: "x"}}
	d, err = p.DecideAuthZEN(ev)
	if err != nil || d.Err != nil || !d.Allowed() || d.PolicyPackage != "todo-app" || d.DataDigest != p.Data.Digest() || d.Resource != "x" {
		t.Fatalf("%+v %v", d, err)
	}
}

func TestPackageOverlapIsALoadError(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		a, b, want string
	}{
		{"decides: {actions: [\"registry.*\"]}\n", "decides: {actions: [registry.pull]}\n", `"registry.*" and "registry.pull" overlap`},
		{"", "", "both decide every request"},
		{"decides: {actions: [read], resource_types: [doc]}\n", "decides: {actions: [read], resource_types: [doc, todo]}\n", "overlap"},
	} {
		a := writePkg(t, dir, "alpha", tc.a)
		b := writePkg(t, dir, "beta", tc.b)
		_, err := LoadSet(Config{RegistryFile: fixtureRegistry, PolicyFile: a, PolicyFiles: []string{b}}, time.Now())
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "alpha") || !strings.Contains(err.Error(), "beta") {
			t.Errorf("%q/%q: %v", tc.a, tc.b, err)
		}
	}
	// disjoint packages load together; a directory loads its *.md files
	writePkg(t, dir, "alpha", "decides: {actions: [read], resource_types: [doc]}\n")
	writePkg(t, dir, "beta", "decides: {actions: [read], resource_types: [todo]}\n")
	p, err := LoadSet(Config{RegistryFile: fixtureRegistry, PolicyFile: dir}, time.Now())
	if err != nil || len(p.Packages) != 2 || p.Route("read", "todo").Name() != "beta" || p.Route("read", "x") != nil {
		t.Fatalf("%v", err)
	}
}

// A bad entity data document keeps the previous set active, and a good
// one replaces it together with the packages.
func TestDataReloadKeepsThePreviousSet(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "entities.yaml")
	orig, err := os.ReadFile(todoData)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(data, orig, 0o600); err != nil {
		t.Fatal(err)
	}
	e, err := New(Config{RegistryFile: fixtureRegistry, PolicyFile: todoPolicy, DataFile: data})
	if err != nil {
		t.Fatal(err)
	}
	first := e.Active().DataDigest()
	if err := os.WriteFile(data, []byte("version: 1\nsubjects: [{type: user}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := e.Reload(); err == nil || !strings.Contains(err.Error(), "subjects[0]: id: is required") {
		t.Fatalf("reload: %v", err)
	}
	if e.Active().DataDigest() != first || e.Status().LastReloadError == "" {
		t.Fatal("a broken data document replaced the active one")
	}
	if err := os.WriteFile(data, append(orig, []byte("  - {type: todo, id: todo-2}\n")...), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := e.Reload(); err != nil {
		t.Fatal(err)
	}
	if e.Active().DataDigest() == first || e.Active().Data.Resources() != 2 {
		t.Fatalf("not reloaded: %d resources", e.Active().Data.Resources())
	}
}
