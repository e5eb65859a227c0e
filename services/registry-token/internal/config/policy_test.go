package config_test

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/authgate/pkg/testkit/certtest"
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

// writeCA writes a self-signed CA certificate (PEM) to dir/name and
// returns its path.
func writeCA(t *testing.T, dir, name string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	certtest.SelfSigned(t, "flex-auth test CA", 1).WriteFiles(t, path, "")
	return path
}

func TestPolicyCAFile(t *testing.T) {
	dir := t.TempDir()
	ca := writeCA(t, dir, "ca.crt")
	files := map[string]string{
		"CA":      ca,
		"MISSING": filepath.Join(dir, "missing.crt"),
		"DIR":     dir,
		"EMPTY":   filepath.Join(dir, "empty.crt"),
		"GARBAGE": filepath.Join(dir, "garbage.crt"),
		"KEY":     filepath.Join(dir, "key.pem"),
	}
	for name, body := range map[string]string{
		"EMPTY":   "",
		"GARBAGE": "not a certificate\n",
		"KEY":     "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n-----END PRIVATE KEY-----\n",
	} {
		if err := os.WriteFile(files[name], []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// expand replaces $NAME with the path of that file.
	expand := func(s string) string { return os.Expand(s, func(k string) string { return files[k] }) }

	cases := []struct {
		name     string
		yaml     string
		env      []string
		caFile   string
		problems []string
	}{
		{name: "absent: system roots", yaml: "policy: {url: \"https://flex-auth.example.com\"}\n"},
		{name: "https url and a CA bundle",
			yaml:   "policy: {url: \"https://flex-auth.flex-auth.svc.cluster.local:8080\", caFile: \"$CA\"}\n",
			caFile: ca},
		{name: "from the environment",
			yaml:   "policy: {url: \"https://flex-auth.example.com\"}\n",
			env:    []string{"REGISTRY_TOKEN_POLICY__CAFILE=$CA"},
			caFile: ca},
		{name: "without url", yaml: "policy: {caFile: \"$CA\"}\n",
			problems: []string{"policy.caFile: requires policy.url"}},
		{name: "without url from the environment", env: []string{"REGISTRY_TOKEN_POLICY__CAFILE=$CA"},
			problems: []string{"policy.caFile: requires policy.url"}},
		{name: "http url", yaml: "policy: {url: \"http://flex-auth:8080\", caFile: \"$CA\"}\n",
			problems: []string{"policy.caFile: requires an https:// policy.url"}},
		{name: "http url with a password", yaml: "policy: {url: \"http://rt:pa55word@flex-auth:8080\", caFile: \"$CA\"}\n",
			problems: []string{"policy.caFile: requires an https:// policy.url", "rt:REDACTED@flex-auth"}},
		{name: "missing file", yaml: "policy: {url: \"https://flex-auth:8080\", caFile: \"$MISSING\"}\n",
			problems: []string{"policy.caFile: open " + files["MISSING"], "no such file"}},
		{name: "unreadable (a directory)", yaml: "policy: {url: \"https://flex-auth:8080\", caFile: \"$DIR\"}\n",
			problems: []string{"policy.caFile: read " + dir}},
		{name: "empty file", yaml: "policy: {url: \"https://flex-auth:8080\", caFile: \"$EMPTY\"}\n",
			problems: []string{"policy.caFile: no PEM certificates in " + files["EMPTY"]}},
		{name: "not PEM", yaml: "policy: {url: \"https://flex-auth:8080\", caFile: \"$GARBAGE\"}\n",
			problems: []string{"policy.caFile: no PEM certificates in " + files["GARBAGE"]}},
		{name: "PEM without a certificate", yaml: "policy: {url: \"https://flex-auth:8080\", caFile: \"$KEY\"}\n",
			problems: []string{"policy.caFile: no PEM certificates in " + files["KEY"]}},
		{name: "key spelled in lower case", yaml: "policy: {url: \"https://flex-auth:8080\", cafile: \"$CA\"}\n",
			problems: []string{`"policy.cafile"`}},
		{name: "every problem at once", yaml: "policy: {caFile: \"$MISSING\", timeout: 1m}\n",
			problems: []string{"policy.caFile: requires policy.url", "policy.caFile: open", "policy.timeout"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var env []string
			for _, e := range tc.env {
				env = append(env, expand(e))
			}
			cfg, err := config.LoadData([]byte(valid+expand(tc.yaml)), env)
			if len(tc.problems) > 0 {
				if err == nil {
					t.Fatal("accepted")
				}
				for _, p := range tc.problems {
					if !strings.Contains(err.Error(), p) {
						t.Errorf("%q not reported in:\n%v", p, err)
					}
				}
				if strings.Contains(err.Error(), "pa55word") {
					t.Errorf("password in:\n%v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Policy.CAFile != tc.caFile {
				t.Fatalf("policy.caFile %q, want %q", cfg.Policy.CAFile, tc.caFile)
			}
			pool, err := cfg.Policy.RootCAs()
			if err != nil {
				t.Fatal(err)
			}
			if (pool != nil) != (tc.caFile != "") {
				t.Fatalf("pool %v for caFile %q", pool, tc.caFile)
			}
		})
	}
}

// The pool holds the bundle's certificates: a certificate the CA signed
// verifies against it.
func TestPolicyRootCAsVerify(t *testing.T) {
	dir := t.TempDir()
	a, b := writeCA(t, dir, "a.crt"), writeCA(t, dir, "b.crt")
	bundle := filepath.Join(dir, "bundle.crt")
	var all []byte
	for _, f := range []string{a, b} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, data...)
	}
	if err := os.WriteFile(bundle, all, 0o600); err != nil {
		t.Fatal(err)
	}
	pool, err := config.Policy{CAFile: bundle}.RootCAs()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{a, b} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		block, _ := pem.Decode(data)
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cert.Verify(x509.VerifyOptions{Roots: pool}); err != nil {
			t.Errorf("%s does not verify against the bundle: %v", f, err)
		}
	}
	if pool, err := (config.Policy{}).RootCAs(); pool != nil || err != nil {
		t.Fatalf("no caFile: %v, %v", pool, err)
	}
}
