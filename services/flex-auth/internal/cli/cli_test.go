package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

const (
	opsPolicy   = "../../../../configs/ops-warden/policy_package.md"
	opsRegistry = "../../../../configs/ops-warden/production_registry_snapshot.json"
	opsCases    = "../../../../configs/ops-warden/cases.yaml"
	schemaDir   = "../../../../api/schemas"
)

// run calls Run with buffers and returns the exit code and both outputs.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Run(context.Background(), args, []string{"HOME=/nonexistent"}, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test -update rewrites it)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestValidateGolden(t *testing.T) {
	for _, tc := range []struct {
		golden string
		args   []string
		code   int
	}{
		{"broken.txt", []string{"testdata/validate/broken.md"}, ExitFailure},
		{"broken.json", []string{"--json", "testdata/validate/broken.md"}, ExitFailure},
		{"style.txt", []string{"testdata/validate/style.md"}, ExitOK},
		{"style.json", []string{"testdata/validate/style.md", "--json"}, ExitOK},
		{"style.strict.txt", []string{"--strict", "testdata/validate/style.md"}, ExitFailure},
		{"style.strict.json", []string{"--strict", "--json", "testdata/validate/style.md"}, ExitFailure},
		{"opswarden.strict.txt", []string{"--strict", opsPolicy}, ExitOK},
		{"two-files.txt", []string{opsPolicy, "testdata/validate/broken.md"}, ExitFailure},
		{"missing-file.txt", []string{"testdata/validate/nope.md"}, ExitFailure},
		{"costly.strict.txt", []string{"--strict", "testdata/validate/costly.md"}, ExitFailure},
		{"todo.strict.txt", []string{"--strict", "../../../../configs/todo-app/policy_package.md"}, ExitOK},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			code, out, errOut := run(t, append([]string{"policy", "validate"}, tc.args...)...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tc.code, out, errOut)
			}
			golden(t, tc.golden, out)
			if strings.HasSuffix(tc.golden, ".json") {
				var diags []map[string]any
				if err := json.Unmarshal([]byte(out), &diags); err != nil {
					t.Fatalf("not a JSON array: %v", err)
				}
				for _, d := range diags {
					for _, k := range []string{"file", "line", "severity", "code", "message"} {
						if _, ok := d[k]; !ok {
							t.Errorf("diagnostic without %s: %v", k, d)
						}
					}
				}
			}
		})
	}
}

func TestValidateUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"--bogus", "x.md"}} {
		code, _, errOut := run(t, append([]string{"policy", "validate"}, args...)...)
		if code != ExitUsage || !strings.Contains(errOut, "usage: flex-auth policy validate") {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
	}
}

func TestLoadRegistry(t *testing.T) {
	code, out, _ := run(t, "load-registry", "--file", opsRegistry)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, out)
	}
	for _, want := range []string{"valid registry snapshot", "actors:       4 (adm 1, agt 2, atm 1)", "digest:       sha256:"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	code, out, _ = run(t, "load-registry", "--json", "--file", opsRegistry)
	var rep registryReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != ExitOK {
		t.Fatalf("exit %d, %v: %s", code, err, out)
	}
	if !rep.Valid || rep.Actors != 4 || rep.ActorsByType["agt"] != 2 || !strings.HasPrefix(rep.Digest, "sha256:") {
		t.Errorf("report %+v", rep)
	}

	code, out, _ = run(t, "load-registry", "--file", "testdata/invalid_snapshot.json")
	if code != ExitFailure {
		t.Fatalf("invalid snapshot: exit %d", code)
	}
	for _, want := range []string{
		`actors[0].max_ttl_hours (actor "agt-a"): must be greater than 0`,
		`actors[1].name (actor "adm-b"): does not start with "agt-"`,
		`actors[1].default_ttl_hours (actor "adm-b"): 8 exceeds max_ttl_hours 4`,
		`actors[1].allowed_subjects (actor "adm-b"): must list at least one subject`,
		`actors[2].name (actor "agt-a"): duplicate actor name (first at actors[0])`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = run(t, "load-registry", "--json", "--file", "testdata/invalid_snapshot.json")
	rep = registryReport{}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != ExitFailure || rep.Valid || len(rep.Errors) != 5 {
		t.Fatalf("exit %d, %v: %+v", code, err, rep)
	}

	if code, _, _ := run(t, "load-registry", "--file", "testdata/none.json"); code != ExitFailure {
		t.Errorf("missing file: exit %d", code)
	}
	for _, args := range [][]string{{}, {"--file"}, {"--file", opsRegistry, "extra"}} {
		if code, _, _ := run(t, append([]string{"load-registry"}, args...)...); code != ExitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, ExitUsage)
		}
	}
}

// TestSimulateOpsWarden runs the committed ops-warden cases: this is the
// simulation smoke CI runs.
func TestSimulateOpsWarden(t *testing.T) {
	code, out, errOut := run(t, "policy", "simulate", "--policy", opsPolicy, "--registry", opsRegistry, "--cases", opsCases)
	if code != ExitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if strings.Contains(out, "FAIL") || !strings.Contains(out, " 0 failed") {
		t.Fatalf("unexpected output:\n%s", out)
	}

	code, out, _ = run(t, "policy", "simulate", "--json", "--policy", opsPolicy, "--registry", opsRegistry, "--cases", opsCases)
	var rep simulationReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != ExitOK {
		t.Fatalf("exit %d, %v", code, err)
	}
	reasons := map[string]int{}
	actors := map[string]bool{}
	for _, c := range rep.Cases {
		if !c.Pass {
			t.Errorf("case %q failed: %+v", c.Name, c)
		}
		reasons[c.Reason]++
		if c.Effect == "allow" {
			actors[c.Subject] = true
		}
	}
	for _, r := range []string{"signing_policy_matched", "ttl_out_of_bounds", "unknown_actor_resource", "subject_not_bound", "principal_not_allowed"} {
		if reasons[r] == 0 {
			t.Errorf("no case covers %s", r)
		}
	}
	for _, a := range []string{"adm-example", "agt-codex-interhub-bootstrap", "agt-state-hub-bridge", "atm-backup-daily"} {
		if !actors[a] || !actors["iam:"+a] {
			t.Errorf("actor %s is not allowed under both subject forms in the cases", a)
		}
	}
	if rep.Failed != 0 || rep.Passed != len(rep.Cases) || rep.Policy.Digest == "" || rep.Registry.Digest == "" {
		t.Errorf("report totals %+v", rep)
	}
}

func TestSimulateReportsMismatches(t *testing.T) {
	code, out, _ := run(t, "policy", "simulate", "--policy", opsPolicy, "--registry", opsRegistry, "--cases", "testdata/failing_cases.yaml")
	if code != ExitFailure {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(out, "FAIL    wrong expectation") || !strings.Contains(out, "PASS    bridge allowed") || !strings.Contains(out, "2 cases: 1 passed, 1 failed") {
		t.Fatalf("output:\n%s", out)
	}
}

func TestSimulateRejectsBadInputs(t *testing.T) {
	code, _, errOut := run(t, "policy", "simulate", "--policy", opsPolicy, "--registry", opsRegistry, "--cases", "testdata/bad_cases.yaml")
	if code != ExitFailure {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"cases[0].request.actor: is required", "cases[0].expect.effect", "cases[1].name: duplicate case name", "cases[1].request.ttl: unknown field", "cases[1].expect.reason: is required"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if code, _, errOut := run(t, "policy", "simulate", "--policy", "testdata/validate/broken.md", "--registry", opsRegistry, "--cases", opsCases); code != ExitFailure || !strings.Contains(errOut, "unknown_reason") {
		t.Errorf("broken policy: exit %d %s", code, errOut)
	}
	if code, _, _ := run(t, "policy", "simulate", "--policy", opsPolicy, "--registry", "testdata/invalid_snapshot.json", "--cases", opsCases); code != ExitFailure {
		t.Errorf("invalid registry: exit %d", code)
	}
	if code, _, _ := run(t, "policy", "simulate", "--policy", opsPolicy); code != ExitUsage {
		t.Errorf("missing flags: exit %d", code)
	}
}

func TestDispatcher(t *testing.T) {
	if code, _, errOut := run(t); code != ExitUsage || !strings.Contains(errOut, "usage: flex-auth") {
		t.Errorf("no args: exit %d", code)
	}
	if code, out, _ := run(t, "help"); code != ExitOK || !strings.Contains(out, "policy validate") || !strings.Contains(out, "load-registry") {
		t.Errorf("help: exit %d %s", code, out)
	}
	if code, _, errOut := run(t, "frobnicate"); code != ExitUsage || !strings.Contains(errOut, `unknown command "frobnicate"`) {
		t.Errorf("unknown: exit %d %s", code, errOut)
	}
	if code, _, errOut := run(t, "policy", "explain"); code != ExitUsage || !strings.Contains(errOut, `unknown command "policy explain"`) {
		t.Errorf("unknown policy subcommand: exit %d %s", code, errOut)
	}
	if code, _, _ := run(t, "load-registry", "-h"); code != ExitOK {
		t.Errorf("-h: exit %d", code)
	}
}

func TestEnvLookup(t *testing.T) {
	env := Env{Vars: []string{"A=1", "B=x=y", "A=2"}}
	if v, ok := env.Lookup("A"); !ok || v != "2" {
		t.Errorf("A = %q %v", v, ok)
	}
	if v, ok := env.Lookup("B"); !ok || v != "x=y" {
		t.Errorf("B = %q %v", v, ok)
	}
	if _, ok := env.Lookup("C"); ok {
		t.Error("C found")
	}
}

// TestSimulateTodoApp runs the todo-app cases (AuthZEN evaluations, entity
// data) and checks that every rule of the package is exercised.
func TestSimulateTodoApp(t *testing.T) {
	const dir = "../../../../configs/todo-app/"
	code, out, errOut := run(t, "policy", "simulate", "--json", "--policy", dir+"policy_package.md", "--data", dir+"entities.yaml",
		"--registry", opsRegistry, "--cases", dir+"cases.yaml")
	if code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	var rep simulationReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	rules := map[string]bool{}
	for _, c := range rep.Cases {
		rules[c.RuleID] = true
	}
	for _, r := range []string{"read-user", "read-todos", "create-todo", "update-any-todo", "update-own-todo", "delete-any-todo", "delete-own-todo", ""} {
		if !rules[r] {
			t.Errorf("no case decided by rule %q", r)
		}
	}
	// without the entity data nobody has a role
	code, out, _ = run(t, "policy", "simulate", "--policy", dir+"policy_package.md", "--registry", opsRegistry, "--cases", dir+"cases.yaml")
	if code != ExitFailure || !strings.Contains(out, "FAIL    rick reads todos") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	// an authzen package does not decide check requests
	code, out, _ = run(t, "policy", "simulate", "--policy", dir+"policy_package.md", "--registry", opsRegistry, "--cases", opsCases)
	if code != ExitFailure || strings.Contains(out, "PASS") {
		t.Fatalf("exit %d\n%s", code, out)
	}
}
