package deploy_test

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stellaops/authgate/deploy/internal/render"
	"github.com/stellaops/authgate/pkg/yamljson"
)

var ruleFiles = map[string]string{
	"registry-token": "monitoring/registry-token.rules.yaml",
	"flex-auth":      "monitoring/flex-auth.rules.yaml",
}

// TestAlertRules checks the rule files and runs their unit tests with the
// pinned promtool.
func TestAlertRules(t *testing.T) {
	promtool, err := render.Promtool()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range ruleFiles {
		if out, err := exec.Command(promtool, "check", "rules", f).CombinedOutput(); err != nil {
			t.Errorf("promtool check rules %s: %v\n%s", f, err, out)
		}
	}
	tests, err := filepath.Glob("monitoring/tests/*.test.yaml")
	if err != nil || len(tests) != len(ruleFiles) {
		t.Fatalf("want one test file per rule file, got %v (%v)", tests, err)
	}
	for _, f := range tests {
		if out, err := exec.Command(promtool, "test", "rules", f).CombinedOutput(); err != nil {
			t.Errorf("promtool test rules %s: %v\n%s", f, err, out)
		}
	}
}

// TestEveryAlertIsTested: each alert of a rule file appears in an
// alert_rule_test with at least one firing expectation.
func TestEveryAlertIsTested(t *testing.T) {
	for svc, f := range ruleFiles {
		var rules render.RuleFile
		if err := yamljson.UnmarshalStrict([]byte(readFile(t, f)), &rules); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		var tf struct {
			Tests []struct {
				AlertRuleTest []struct {
					Alertname string           `json:"alertname"`
					ExpAlerts []map[string]any `json:"exp_alerts"`
				} `json:"alert_rule_test"`
			} `json:"tests"`
		}
		if err := yamljson.Unmarshal([]byte(readFile(t, filepath.Join("monitoring", "tests", svc+".test.yaml"))), &tf); err != nil {
			t.Fatal(err)
		}
		fired := map[string]bool{}
		for _, tc := range tf.Tests {
			for _, a := range tc.AlertRuleTest {
				if len(a.ExpAlerts) > 0 {
					fired[a.Alertname] = true
				}
			}
		}
		for _, g := range rules.Groups {
			for _, r := range g.Rules {
				if r.Alert != "" && !fired[r.Alert] {
					t.Errorf("%s: alert %s has no test where it fires", f, r.Alert)
				}
				if r.Alert != "" && !strings.Contains(r.Annotations["runbook_url"], "deploy/runbooks/") {
					t.Errorf("%s: alert %s has no runbook_url", f, r.Alert)
				} else if r.Alert != "" {
					runbook, anchor, _ := strings.Cut(r.Annotations["runbook_url"][strings.Index(r.Annotations["runbook_url"], "deploy/runbooks/")+len("deploy/"):], "#")
					doc := strings.ToLower(readFile(t, runbook))
					if !strings.Contains(doc, "### "+anchor) {
						t.Errorf("%s: %s has no section for %s", runbook, r.Alert, anchor)
					}
				}
			}
		}
	}
}

var metricName = regexp.MustCompile(`\b(registry_token|flex_auth)_[a-z_]+\b`)

// catalog reads the metric names the services export from their metric
// catalog files (counters get _total, histograms _bucket/_sum/_count).
func catalog(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	files := []string{"../services/registry-token/internal/token/metrics.go", "../services/flex-auth/internal/metrics/metrics.go"}
	for _, f := range files {
		for _, m := range regexp.MustCompile(`=\s*"((?:registry_token|flex_auth)_[a-z_]+)"`).FindAllStringSubmatch(readFile(t, f), -1) {
			for _, suffix := range []string{"", "_total", "_bucket", "_sum", "_count"} {
				names[m[1]+suffix] = true
			}
		}
	}
	if len(names) == 0 {
		t.Fatal("no metric names found in the catalogs")
	}
	return names
}

// TestMonitoringUsesExportedMetrics: the rules and the dashboard name only
// metrics the services export, or recording rules of the rule files.
func TestMonitoringUsesExportedMetrics(t *testing.T) {
	known := catalog(t)
	for _, f := range ruleFiles {
		for _, m := range regexp.MustCompile(`record:\s*(\S+)`).FindAllStringSubmatch(readFile(t, f), -1) {
			known[m[1]] = true
		}
	}
	check := func(file, text string) {
		// Recording rule names carry a level prefix (namespace:...:...).
		text = regexp.MustCompile(`namespace:[a-z_]+:[a-z0-9_]+`).ReplaceAllStringFunc(text, func(s string) string {
			if !known[s] {
				t.Errorf("%s uses unknown recording rule %s", file, s)
			}
			return ""
		})
		for _, m := range metricName.FindAllString(text, -1) {
			if !known[m] {
				t.Errorf("%s uses %s, which no service exports", file, m)
			}
		}
	}
	for _, f := range ruleFiles {
		check(f, regexp.MustCompile(`(?m)^\s*#.*$|runbook_url:.*|summary:.*|alert:.*`).ReplaceAllString(readFile(t, f), ""))
	}
	dash := readFile(t, "monitoring/grafana-dashboard.json")
	var d struct {
		UID    string `json:"uid"`
		Panels []struct {
			ID      int    `json:"id"`
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal([]byte(dash), &d); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	ids := map[int]bool{}
	var exprs []string
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("dashboard panel id %d repeats", p.ID)
		}
		ids[p.ID] = true
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	joined := strings.Join(exprs, "\n")
	check("grafana-dashboard.json", joined)
	for _, must := range []string{"registry_token_issued_total", "registry_token_rejected_total", "flex_auth_decisions_total", "flex_auth_decision_log_write_errors_total", "flex_auth_reloads_total"} {
		if !strings.Contains(joined, must) {
			t.Errorf("dashboard does not chart %s", must)
		}
	}
}

// TestChartRulesMatchMonitoring: the PrometheusRule a chart renders holds
// exactly the groups of deploy/monitoring's rule file.
func TestChartRulesMatchMonitoring(t *testing.T) {
	helm := helmBin(t)
	for svc, f := range ruleFiles {
		r := defaultRelease(svc)
		r.Set = []string{"prometheusRule.enabled=true"}
		objs := renderObjects(t, helm, r)
		pr := one[*render.PrometheusRule](t, objs)
		var want render.RuleFile
		if err := yamljson.UnmarshalStrict([]byte(readFile(t, f)), &want); err != nil {
			t.Fatal(err)
		}
		got, _ := json.Marshal(pr.Spec)
		exp, _ := json.Marshal(want)
		if string(got) != string(exp) {
			t.Errorf("%s PrometheusRule differs from %s:\n got %s\nwant %s", svc, f, got, exp)
		}
	}
}
