package faults

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// TestSIGHUPReloadsTheBinary sends real SIGHUPs to the registry-token
// binary: a plan change applies without a restart, a broken file is
// refused (previous configuration serving, /readyz and the metric say so)
// and the process keeps running throughout.
func TestSIGHUPReloadsTheBinary(t *testing.T) {
	auth := startAuthority(t)
	dir := t.TempDir()
	cfg := writeConfig(t, dir, auth, rtConfig{})
	rt := startRegistryToken(t, "registry-token", cfg, "", "")
	c := newCaller(t, auth.Authority, rt.URL+"/token")
	client := newClient(2)
	defer client.CloseIdleConnections()
	status := func() answer { return requestToken(context.Background(), client, rt.URL, c, c.proof(t)) }
	if a := status(); a.Status != http.StatusOK {
		t.Fatalf("before: %d %s", a.Status, a.Body)
	}
	reloads := func() (total, failed int) {
		resp, err := http.Get(rt.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r struct {
			Config struct {
				Reloads       int `json:"reloads"`
				FailedReloads int `json:"failedReloads"`
			} `json:"config"`
		}
		b, _ := io.ReadAll(resp.Body)
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatalf("readyz %s: %v", b, err)
		}
		return r.Config.Reloads, r.Config.FailedReloads
	}
	hup := func(content []byte) {
		t.Helper()
		before, _ := reloads()
		if err := os.WriteFile(cfg+".tmp", content, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(cfg+".tmp", cfg); err != nil {
			t.Fatal(err)
		}
		if err := rt.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 20*time.Second, "the reload", func() bool { n, _ := reloads(); return n > before })
	}
	orig, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(orig, &doc); err != nil {
		t.Fatal(err)
	}
	doc["plans"] = map[string]any{plan: []map[string]any{{"repository": "other/*"}}}
	changed, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}

	hup(changed)
	if a := status(); a.Status != http.StatusForbidden || a.Reason != "not_entitled" {
		t.Fatalf("after the plan change: %d %s", a.Status, a.Body)
	}
	hup(append(append([]byte{}, orig...), "unknownSetting: 1\n"...))
	if a := status(); a.Status != http.StatusForbidden || a.Reason != "not_entitled" {
		t.Fatalf("after a broken file: %d %s (the previous configuration must serve)", a.Status, a.Body)
	}
	if total, failed := reloads(); total != 2 || failed != 1 {
		t.Fatalf("reloads %d, failed %d", total, failed)
	}
	m, err := rt.Metrics(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Labels("registry_token_config_reloads_total", "result"); got["success"] != 1 || got["failure"] != 1 {
		t.Fatalf("registry_token_config_reloads_total %v", got)
	}
	if !strings.Contains(rt.Stderr(), `unknown key \"unknownSetting\"`) {
		t.Fatalf("the refused reload is not logged with its problem:\n%s", rt.Stderr())
	}
	hup(orig)
	if a := status(); a.Status != http.StatusOK || !rt.Running() {
		t.Fatalf("back to the original: %d %s, running %v", a.Status, a.Body, rt.Running())
	}
}
