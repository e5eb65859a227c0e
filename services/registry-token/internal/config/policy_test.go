package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stellaops/authgate/services/registry-token/internal/config"
)

func TestPolicySection(t *testing.T) {
	cases := []struct {
		name       string
		yaml       string
		env        []string
		url        string
		timeout    time.Duration
		failClosed bool
		problems   []string
	}{
		{name: "absent: disabled, fail-closed defaults", timeout: 2 * time.Second, failClosed: true},
		{name: "as the chart renders it",
			yaml:    "policy:\n  url: \"http://flex-auth.flex-auth.svc.cluster.local:8080\"\n  timeout: 1500ms\n  failClosed: true\n",
			url:     "http://flex-auth.flex-auth.svc.cluster.local:8080",
			timeout: 1500 * time.Millisecond, failClosed: true},
		{name: "fail-open from the environment",
			yaml: "policy: {url: \"https://flex-auth.example.com\"}\n",
			env:  []string{"REGISTRY_TOKEN_POLICY__FAILCLOSED=false", "REGISTRY_TOKEN_POLICY__TIMEOUT=30s"},
			url:  "https://flex-auth.example.com", timeout: 30 * time.Second, failClosed: false},
		{name: "relative URL", yaml: "policy: {url: \"flex-auth:8080\"}\n", problems: []string{"policy.url"}},
		{name: "other scheme", yaml: "policy: {url: \"grpc://flex-auth:8080\"}\n", problems: []string{"policy.url"}},
		{name: "query", yaml: "policy: {url: \"http://flex-auth:8080/?x=1\"}\n", problems: []string{"policy.url", "query"}},
		{name: "zero timeout", yaml: "policy: {url: \"http://flex-auth:8080\", timeout: 0s}\n", problems: []string{"policy.timeout: 0s is outside (0, 30s]"}},
		{name: "negative timeout", yaml: "policy: {timeout: -1s}\n", problems: []string{"policy.timeout: -1s"}},
		{name: "timeout above 30s", yaml: "policy: {url: \"http://flex-auth:8080\", timeout: 31s}\n", problems: []string{"policy.timeout: 31s"}},
		{name: "unknown key", yaml: "policy: {url: \"http://flex-auth:8080\", failclosed: false}\n", problems: []string{`"policy.failclosed"`}},
		{name: "every problem at once", yaml: "policy: {url: \"nope\", timeout: 1m}\n", problems: []string{"policy.url", "policy.timeout"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.LoadData([]byte(valid+tc.yaml), tc.env)
			if len(tc.problems) > 0 {
				if err == nil {
					t.Fatal("accepted")
				}
				for _, p := range tc.problems {
					if !strings.Contains(err.Error(), p) {
						t.Errorf("%q not reported in:\n%v", p, err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			p := cfg.Policy
			if p.URL != tc.url || p.Timeout != tc.timeout || p.FailClosed != tc.failClosed || p.Enabled() != (tc.url != "") {
				t.Fatalf("policy %+v", p)
			}
		})
	}
}

func TestPolicyURLPasswordIsRedacted(t *testing.T) {
	cfg, err := config.LoadData([]byte(valid+"policy: {url: \"https://rt:pa55word@flex-auth.example.com\"}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	out, err := cfg.YAML()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "pa55word") || !strings.Contains(string(out), "failClosed: true") {
		t.Fatalf("rendering:\n%s", out)
	}
	_, err = config.LoadData([]byte(valid+"policy: {url: \"ftp://rt:pa55word@flex-auth\"}\n"), nil)
	if err == nil || strings.Contains(err.Error(), "pa55word") {
		t.Fatalf("error %v", err)
	}
}
