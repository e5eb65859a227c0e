package engine

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stellaops/authgate/pkg/policy"
	"github.com/stellaops/authgate/pkg/testkit/filetest"
)

const (
	fixtureRegistry = "../../../../configs/ops-warden/production_registry_snapshot.json"
	fixturePolicy   = "../../../../configs/ops-warden/policy_package.md"
)

func TestDecideOpsWardenFixture(t *testing.T) {
	e, err := New(Config{RegistryFile: fixtureRegistry, PolicyFile: fixturePolicy})
	if err != nil {
		t.Fatal(err)
	}
	type tc struct {
		name           string
		req            policy.Request
		effect, reason string
	}
	var cases []tc
	for _, a := range e.Active().Snapshot.Actors() {
		cases = append(cases,
			tc{a.Name + " plain", policy.Request{Actor: a.Name}, "allow", "signing_policy_matched"},
			tc{a.Name + " iam", policy.Request{Actor: a.Name, Subject: "iam:" + a.Name}, "allow", "signing_policy_matched"},
		)
	}
	if len(cases) != 8 {
		t.Fatalf("fixture has %d actors, want 4", len(cases)/2)
	}
	cases = append(cases,
		tc{"ttl 999", policy.Request{Actor: "agt-state-hub-bridge", TTLHours: 999, HasTTL: true}, "deny", "ttl_out_of_bounds"},
		tc{"ttl 0", policy.Request{Actor: "agt-state-hub-bridge", TTLHours: 0, HasTTL: true}, "deny", "ttl_out_of_bounds"},
		tc{"unknown actor", policy.Request{Actor: "agt-nobody"}, "deny", "unknown_actor_resource"},
		tc{"other subject", policy.Request{Actor: "agt-state-hub-bridge", Subject: "iam:adm-example"}, "deny", "subject_not_bound"},
		tc{"other principal", policy.Request{Actor: "agt-state-hub-bridge", Principal: "adm-full"}, "deny", "principal_not_allowed"},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := e.Active().Decide(c.req)
			if d.Err != nil {
				t.Fatal(d.Err)
			}
			if string(d.Effect) != c.effect || d.Reason != c.reason {
				t.Fatalf("got %s/%s, want %s/%s", d.Effect, d.Reason, c.effect, c.reason)
			}
			if d.Action != "ssh.sign" || d.Subject == "" || !strings.HasPrefix(d.PolicyDigest, "sha256:") || !strings.HasPrefix(d.RegistryDigest, "sha256:") {
				t.Fatalf("decision = %+v", d)
			}
		})
	}
}

func TestBadReloadKeepsThePreviousSet(t *testing.T) {
	dir := t.TempDir()
	reg, pol := filepath.Join(dir, "r.json"), filepath.Join(dir, "p.md")
	filetest.Copy(t, fixtureRegistry, reg)
	filetest.Copy(t, fixturePolicy, pol)
	var results []string
	e, err := New(Config{RegistryFile: reg, PolicyFile: pol, OnReload: func(r string, _ error) { results = append(results, r) }})
	if err != nil {
		t.Fatal(err)
	}
	before := e.Active()
	if err := os.WriteFile(reg, []byte(`{"version":1,"actors":[{"name":"x"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := e.Reload(); err == nil {
		t.Fatal("reload of a broken snapshot succeeded")
	}
	if e.Active() != before {
		t.Fatal("a failed reload replaced the active set")
	}
	st := e.Status()
	if st.LastReloadError == "" || st.Failures != 1 || !strings.Contains(st.LastReloadError, "r.json") {
		t.Fatalf("status = %+v", st)
	}
	if strings.Join(results, ",") != "success,failure" {
		t.Fatalf("results = %v", results)
	}
	filetest.Copy(t, fixtureRegistry, reg)
	if err := e.Reload(); err != nil {
		t.Fatal(err)
	}
	if e.Active() == before || e.Status().LastReloadError != "" {
		t.Fatal("a good reload did not replace the set or clear the error")
	}
}

func TestDecisionsDuringReloadsAllSucceed(t *testing.T) {
	e, err := New(Config{RegistryFile: fixtureRegistry, PolicyFile: fixturePolicy})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				_ = e.Reload()
			}
		}
	}()
	for range 2000 {
		d := e.Active().Decide(policy.Request{Actor: "atm-backup-daily"})
		if d.Err != nil || !d.Allowed() {
			t.Fatalf("decision during reload: %+v", d)
		}
	}
	close(stop)
	wg.Wait()
}

// TestWatchSeesConfigMapSymlinkSwap lays out files the way a Kubernetes
// ConfigMap volume does (name -> ..data/name, ..data -> ..<timestamp>) and
// swaps ..data atomically.
func TestWatchSeesConfigMapSymlinkSwap(t *testing.T) {
	dir := t.TempDir()
	version := func(name string, registry []byte) {
		d := filepath.Join(dir, name)
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "registry.json"), registry, 0o644); err != nil {
			t.Fatal(err)
		}
		filetest.Copy(t, fixturePolicy, filepath.Join(d, "policy.md"))
		tmp := filepath.Join(dir, "..data_tmp")
		if err := os.Symlink(name, tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	orig, err := os.ReadFile(fixtureRegistry)
	if err != nil {
		t.Fatal(err)
	}
	version("..2026_06_23_1", orig)
	for _, n := range []string{"registry.json", "policy.md"} {
		if err := os.Symlink(filepath.Join("..data", n), filepath.Join(dir, n)); err != nil {
			t.Fatal(err)
		}
	}
	e, err := New(Config{RegistryFile: filepath.Join(dir, "registry.json"), PolicyFile: filepath.Join(dir, "policy.md")})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := e.Watch(ctx, 20*time.Millisecond, func(err error) { t.Error(err) }); err != nil {
		t.Fatal(err)
	}
	first := e.Active().Snapshot.Digest()

	version("..2026_06_23_2", []byte("{broken"))
	waitFor(t, func() bool { return e.Status().LastReloadError != "" })
	if e.Active().Snapshot.Digest() != first {
		t.Fatal("a broken snapshot replaced the active one")
	}

	changed := strings.Replace(string(orig), `"max_ttl_hours": 24`, `"max_ttl_hours": 12`, 1)
	version("..2026_06_23_3", []byte(changed))
	waitFor(t, func() bool { return e.Active().Snapshot.Digest() != first })
	a, _ := e.Active().Snapshot.Lookup("agt-state-hub-bridge")
	if a.MaxTTLHours != 12 || e.Status().LastReloadError != "" {
		t.Fatalf("after swap: max ttl %d, status %+v", a.MaxTTLHours, e.Status())
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
