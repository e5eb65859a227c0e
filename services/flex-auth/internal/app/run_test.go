package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/stellaops/authgate/pkg/testkit/filetest"
	"github.com/stellaops/authgate/services/flex-auth/internal/checkapi"
	"github.com/stellaops/authgate/services/flex-auth/internal/config"
	"github.com/stellaops/authgate/services/flex-auth/internal/decisionlog"
	"github.com/stellaops/authgate/services/flex-auth/internal/engine"
)

const (
	fixtureRegistry = "../../../../configs/ops-warden/production_registry_snapshot.json"
	fixturePolicy   = "../../../../configs/ops-warden/policy_package.md"
)

var fixtureActors = []string{"adm-example", "agt-codex-interhub-bootstrap", "agt-state-hub-bridge", "atm-backup-daily"}

// instance is one flex-auth serve started in-process on 127.0.0.1:0.
type instance struct {
	url      string
	logFile  string
	registry string
	policy   string
	signals  chan os.Signal
	stderr   *syncBuffer
	done     chan error
	cancel   context.CancelFunc
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// copyFile replaces to with the content of from through a rename.
var copyFile = filetest.Copy

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start copies the fixtures into a temporary directory and serves them.
func start(t *testing.T, extra ...string) *instance {
	t.Helper()
	dir := t.TempDir()
	in := &instance{
		logFile:  filepath.Join(dir, "log", "ops-warden-decisions.jsonl"),
		registry: filepath.Join(dir, "production_registry_snapshot.json"),
		policy:   filepath.Join(dir, "policy_package.md"),
		signals:  make(chan os.Signal, 1),
		stderr:   &syncBuffer{},
		done:     make(chan error, 1),
	}
	copyFile(t, fixtureRegistry, in.registry)
	copyFile(t, fixturePolicy, in.policy)
	args := append([]string{"--addr", "127.0.0.1:0", "--registry", in.registry, "--policy", in.policy, "--log", in.logFile}, extra...)
	ctx, cancel := context.WithCancel(context.Background())
	in.cancel = cancel
	addr := make(chan net.Addr, 1)
	go func() {
		in.done <- Run(ctx, Env{Args: args, Stderr: in.stderr, Signals: in.signals, Listening: func(a net.Addr) { addr <- a }})
	}()
	select {
	case a := <-addr:
		in.url = "http://" + a.String()
	case err := <-in.done:
		t.Fatalf("serve exited: %v\n%s", err, in.stderr.String())
	}
	t.Cleanup(func() {
		cancel()
		if err := <-in.done; err != nil {
			t.Errorf("serve returned %v", err)
		}
	})
	return in
}

func (in *instance) post(t *testing.T, path, body string) (int, []byte) {
	t.Helper()
	resp, err := http.Post(in.url+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

func (in *instance) get(t *testing.T, path string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(in.url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

func (in *instance) check(t *testing.T, body string) checkapi.Decision {
	t.Helper()
	code, b := in.post(t, "/v1/check", body)
	if code != http.StatusOK {
		t.Fatalf("POST /v1/check %s: %d %s", body, code, b)
	}
	var d checkapi.Decision
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

func (in *instance) health(t *testing.T) map[string]any {
	t.Helper()
	code, b := in.get(t, "/healthz")
	if code != http.StatusOK {
		t.Fatalf("/healthz: %d %s", code, b)
	}
	var h map[string]any
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

// logLines reads the decision log strictly.
func logLines(t *testing.T, path string) map[string]engine.Decision {
	t.Helper()
	lines, err := decisionlog.ReadDecisions(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]engine.Decision{}
	for _, l := range lines {
		out[l.ID] = l.Decision
	}
	return out
}

func metricFamilies(t *testing.T, in *instance) map[string]*familyView {
	t.Helper()
	code, b := in.get(t, "/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("metrics do not parse: %v", err)
	}
	out := map[string]*familyView{}
	for name, f := range fams {
		v := &familyView{values: map[string]float64{}}
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			val := m.GetCounter().GetValue() + m.GetGauge().GetValue() + float64(m.GetHistogram().GetSampleCount())
			v.values[strings.Join(labels, ",")] = val
		}
		out[name] = v
	}
	return out
}

type familyView struct{ values map[string]float64 }

func (f *familyView) get(labels string) float64 {
	if f == nil {
		return -1
	}
	return f.values[labels]
}

func TestContractOpsWarden(t *testing.T) {
	in := start(t)
	h := in.health(t)
	if h["status"] != "ok" || h["registry"].(map[string]any)["actors"] != float64(4) {
		t.Fatalf("healthz = %v", h)
	}
	if code, _ := in.get(t, "/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz = %d", code)
	}

	type want struct{ effect, reason string }
	seen := map[string]checkapi.Decision{}
	expect := func(body string, w want) checkapi.Decision {
		t.Helper()
		d := in.check(t, body)
		if d.Effect != w.effect || d.Reason != w.reason {
			t.Fatalf("%s: got %s/%s, want %s/%s", body, d.Effect, d.Reason, w.effect, w.reason)
		}
		if d.Backend == "" || d.Policy.Digest != h["policy"].(map[string]any)["digest"] || d.Registry.Digest != h["registry"].(map[string]any)["digest"] {
			t.Fatalf("envelope %+v does not name the active pair %v", d, h)
		}
		seen[d.DecisionID] = d
		return d
	}
	for _, a := range fixtureActors {
		expect(fmt.Sprintf(`{"actor":%q}`, a), want{"allow", "signing_policy_matched"})
		expect(fmt.Sprintf(`{"actor":%q,"subject":"iam:%s"}`, a, a), want{"allow", "signing_policy_matched"})
	}
	d := expect(`{"actor":"agt-state-hub-bridge","subject":"iam:agt-state-hub-bridge","action":"ssh.sign","principal":"agt-task-bridge","ttl_hours":24}`,
		want{"allow", "signing_policy_matched"})
	if d.TTLHours == nil || *d.TTLHours != 24 || d.Principal != "agt-task-bridge" {
		t.Fatalf("design request envelope = %+v", d)
	}
	expect(`{"actor":"agt-state-hub-bridge","ttl_hours":999}`, want{"deny", "ttl_out_of_bounds"})
	expect(`{"actor":"agt-unknown-actor"}`, want{"deny", "unknown_actor_resource"})
	expect(`{"actor":"agt-state-hub-bridge","subject":"iam:atm-backup-daily"}`, want{"deny", "subject_not_bound"})
	expect(`{"actor":"agt-state-hub-bridge","principal":"adm-full"}`, want{"deny", "principal_not_allowed"})

	lines := logLines(t, in.logFile)
	for id, d := range seen {
		l, ok := lines[id]
		if !ok {
			t.Fatalf("decision %s is not in the log", id)
		}
		if string(l.Effect) != d.Effect || l.Reason != d.Reason || l.Actor != d.Actor || l.Subject != d.Subject ||
			l.PolicyDigest != d.Policy.Digest || l.RegistryDigest != d.Registry.Digest || l.Backend != d.Backend {
			t.Fatalf("log line %+v does not match decision %+v", l, d)
		}
	}
	if len(lines) != len(seen) {
		t.Fatalf("log has %d lines for %d decisions", len(lines), len(seen))
	}

	m := metricFamilies(t, in)
	if got := m["flex_auth_decisions_total"].get("effect=allow,reason=signing_policy_matched"); got != 9 {
		t.Fatalf("allow decisions metric = %v", got)
	}
	if got := m["flex_auth_decisions_total"].get("effect=deny,reason=ttl_out_of_bounds"); got != 1 {
		t.Fatalf("ttl deny metric = %v", got)
	}
	if got := m["flex_auth_actors_loaded"].get(""); got != 4 {
		t.Fatalf("actors loaded = %v", got)
	}
	if got := m["flex_auth_reloads_total"].get("result=success"); got != 1 {
		t.Fatalf("reloads = %v", got)
	}
	if got := m["flex_auth_decision_duration_seconds"].get(""); got != float64(len(seen)) {
		t.Fatalf("latency histogram count = %v", got)
	}
}

func TestMalformedRequestsAre400NamingTheField(t *testing.T) {
	in := start(t)
	for _, tc := range []struct{ body, field string }{
		{`{"actor":"a","color":"red"}`, "color"},
		{`{"actor":"a","ttl_hours":"24"}`, "ttl_hours"},
		{`{"actor":"a","context":{"x":{"y":1}}}`, "context.x"},
		{`{"subject":"x"}`, "actor"},
		{`{"actor":"a"}{"actor":"b"}`, "body"},
		{`{"actor":"` + strings.Repeat("x", checkapi.MaxBodyBytes) + `"}`, "body"},
		{`not json`, "body"},
	} {
		code, b := in.post(t, "/v1/check", tc.body)
		var p struct {
			Status int    `json:"status"`
			Error  string `json:"error"`
			Field  string `json:"field"`
		}
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatalf("%.60s: body %s: %v", tc.body, b, err)
		}
		if code != 400 || p.Status != 400 || p.Error != "invalid_request" || p.Field != tc.field {
			t.Fatalf("%.60s: %d %s", tc.body, code, b)
		}
	}
	if lines := logLines(t, in.logFile); len(lines) != 0 {
		t.Fatalf("rejected requests were logged as decisions: %v", lines)
	}
}

func TestBadSnapshotOnSIGHUPKeepsServingTheOldPair(t *testing.T) {
	in := start(t)
	before := in.check(t, `{"actor":"agt-state-hub-bridge"}`)
	if err := os.WriteFile(in.registry, []byte(`{"version":1,"actors":[{"name":"agt-x","type":"atm"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	in.signals <- syscall.SIGHUP
	waitFor(t, func() bool { return in.health(t)["status"] == "degraded" })
	h := in.health(t)
	reload := h["reload"].(map[string]any)
	if !strings.Contains(reload["last_error"].(string), "production_registry_snapshot.json") || reload["failures"] != float64(1) {
		t.Fatalf("healthz reload = %v", reload)
	}
	after := in.check(t, `{"actor":"agt-state-hub-bridge"}`)
	if after.Effect != "allow" || after.Registry.Digest != before.Registry.Digest {
		t.Fatalf("after a bad reload: %+v", after)
	}
	if got := metricFamilies(t, in)["flex_auth_reloads_total"].get("result=failure"); got != 1 {
		t.Fatalf("failed reloads metric = %v", got)
	}

	// A good snapshot on the next SIGHUP becomes active and clears the error.
	copyFile(t, fixtureRegistry, in.registry)
	b, _ := os.ReadFile(in.registry)
	if err := os.WriteFile(in.registry, bytes.Replace(b, []byte(`"max_ttl_hours": 24`), []byte(`"max_ttl_hours": 6`), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	in.signals <- syscall.SIGHUP
	waitFor(t, func() bool { return in.health(t)["status"] == "ok" })
	if d := in.check(t, `{"actor":"agt-state-hub-bridge","ttl_hours":12}`); d.Reason != "ttl_out_of_bounds" || d.Registry.Digest == before.Registry.Digest {
		t.Fatalf("new snapshot not active: %+v", d)
	}
}

func TestUnwritableLogAnswers503Deny(t *testing.T) {
	in := start(t)
	in.check(t, `{"actor":"atm-backup-daily"}`)
	if err := os.Remove(in.logFile); err != nil {
		t.Fatal(err)
	}
	code, b := in.post(t, "/v1/check", `{"actor":"atm-backup-daily"}`)
	var p map[string]any
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	if code != http.StatusServiceUnavailable || p["effect"] != "deny" || p["reason"] != "decision_log_unavailable" || p["decision_id"] != nil {
		t.Fatalf("with the log removed: %d %s", code, b)
	}
	if h := in.health(t); h["status"] != "degraded" || h["decision_log"].(map[string]any)["last_error"] == nil {
		t.Fatalf("healthz = %v", h)
	}
	if got := metricFamilies(t, in)["flex_auth_decision_log_write_errors_total"].get(""); got != 1 {
		t.Fatalf("write errors metric = %v", got)
	}
	// The next decision creates the file again and is logged there.
	d := in.check(t, `{"actor":"atm-backup-daily"}`)
	if _, ok := logLines(t, in.logFile)[d.DecisionID]; !ok {
		t.Fatal("decision after recovery not logged")
	}
}

func TestSIGUSR1ReopensTheLog(t *testing.T) {
	in := start(t)
	first := in.check(t, `{"actor":"adm-example"}`)
	rotated := in.logFile + ".1"
	if err := os.Rename(in.logFile, rotated); err != nil {
		t.Fatal(err)
	}
	in.signals <- syscall.SIGUSR1
	waitFor(t, func() bool { _, err := os.Stat(in.logFile); return err == nil })
	second := in.check(t, `{"actor":"adm-example"}`)
	if _, ok := logLines(t, rotated)[first.DecisionID]; !ok {
		t.Fatal("first decision not in the rotated file")
	}
	if _, ok := logLines(t, in.logFile)[second.DecisionID]; !ok {
		t.Fatal("second decision not in the reopened file")
	}
}

func TestConfigFileAndEnvironment(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "flex-auth.yaml")
	if err := os.WriteFile(file, []byte("server: {addr: \"127.0.0.1:9\"}\nregistry: r.json\npolicy: p.md\ndecisionLog: {file: d.jsonl, sync: always}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig([]string{"--config", file, "--log-sync", "off"}, []string{"FLEX_AUTH_POLICY=env.md", "FLEX_AUTH_RELOAD__WATCH=true"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Addr != "127.0.0.1:9" || cfg.Registry != "r.json" || cfg.Policy != "env.md" || cfg.DecisionLog.Sync != "off" || !cfg.Reload.Watch {
		t.Fatalf("cfg = %+v", cfg)
	}
	_, err = LoadConfig([]string{"--log-sync", "sometimes"}, []string{"FLEX_AUTH_NOPE=1"})
	for _, want := range []string{"FLEX_AUTH_NOPE", "registry", "policy", "decisionLog.file"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
	if _, err := LoadConfig([]string{"--bogus"}, nil); err == nil {
		t.Fatal("unknown flag accepted")
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

func TestShippedConfigLoads(t *testing.T) {
	cfg, err := LoadConfig([]string{"--config", "../../../../configs/flex-auth.yaml"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Addr != config.DefaultAddr || cfg.DecisionLog.Sync != "batch" || cfg.Auth.Enabled() {
		t.Fatalf("cfg = %+v", cfg)
	}
}

// waitReady polls /readyz until 200: with caller authentication, a new
// replay epoch keeps the instance unready for auth.dpopClockSkew.
func (in *instance) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if code, _ := in.get(t, "/readyz"); code == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready after 30s\n%s", in.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
