package konfig

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type testTLS struct {
	CertFile string `koanf:"certFile"`
}

type testServer struct {
	Addr string  `koanf:"addr"`
	TLS  testTLS `koanf:"tls"`
}

type testRule struct {
	Repository string   `koanf:"repository"`
	Actions    []string `koanf:"actions"`
}

type testConfig struct {
	Server      testServer            `koanf:"server"`
	Lifetime    time.Duration         `koanf:"lifetime"`
	Audiences   []string              `koanf:"audiences"`
	Plans       map[string][]testRule `koanf:"plans"`
	DefaultPlan string                `koanf:"defaultPlan"`
}

func defaults() testConfig {
	return testConfig{Server: testServer{Addr: "0.0.0.0:8085"}, Lifetime: 5 * time.Minute, Audiences: []string{"registry"}}
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadOrderDefaultsFileEnv(t *testing.T) {
	file := writeFile(t, `
server:
  addr: "127.0.0.1:9000"
  tls: {certFile: /tls/cert.pem}
lifetime: 10m
plans:
  community:
    - {repository: "a/*", actions: [pull]}
defaultPlan: community
`)
	var cfg testConfig
	err := Load(defaults(), Source{File: file, EnvPrefix: "RT_", Environ: []string{
		"RT_SERVER__ADDR=127.0.0.1:9100",
		"rt_defaultplan=enterprise",
		"RT_AUDIENCES=registry,mirror",
		"OTHER=1",
	}}, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Addr != "127.0.0.1:9100" || cfg.Server.TLS.CertFile != "/tls/cert.pem" {
		t.Fatalf("server = %+v", cfg.Server)
	}
	if cfg.Lifetime != 10*time.Minute || cfg.DefaultPlan != "enterprise" {
		t.Fatalf("lifetime=%v defaultPlan=%q", cfg.Lifetime, cfg.DefaultPlan)
	}
	if strings.Join(cfg.Audiences, ",") != "registry,mirror" {
		t.Fatalf("audiences = %v", cfg.Audiences)
	}
	if r := cfg.Plans["community"]; len(r) != 1 || r[0].Repository != "a/*" {
		t.Fatalf("plans = %+v", cfg.Plans)
	}
}

func TestDefaultsApplyWithoutFile(t *testing.T) {
	var cfg testConfig
	if err := Load(defaults(), Source{}, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Addr != "0.0.0.0:8085" || cfg.Lifetime != 5*time.Minute {
		t.Fatalf("cfg = %+v", cfg)
	}
}

func TestEveryProblemIsReportedAtOnce(t *testing.T) {
	file := writeFile(t, `
server:
  adr: "x"
  tls: {certfile: "wrong case"}
lifetime: "ten minutes"
extra: 1
`)
	var cfg testConfig
	err := Load(defaults(), Source{File: file, EnvPrefix: "RT_", Environ: []string{"RT_SIGNING__NOPE=1"}}, &cfg)
	if err == nil {
		t.Fatal("want error")
	}
	msg := err.Error()
	for _, want := range []string{
		`unknown key "server.adr"`,
		`unknown key "server.tls.certfile"`,
		`unknown key "extra"`,
		`RT_SIGNING__NOPE: unknown key "signing.nope"`,
		`lifetime`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
}

func TestInvalidYAMLNamesTheFile(t *testing.T) {
	file := writeFile(t, "server: [unclosed\n")
	var cfg testConfig
	err := Load(defaults(), Source{File: file}, &cfg)
	if err == nil || !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), "invalid YAML") {
		t.Fatalf("err = %v", err)
	}
}

func TestMissingFile(t *testing.T) {
	var cfg testConfig
	err := Load(defaults(), Source{File: filepath.Join(t.TempDir(), "absent.yaml")}, &cfg)
	if err == nil || !strings.Contains(err.Error(), "absent.yaml") {
		t.Fatalf("err = %v", err)
	}
}

func TestIgnoredEnvironmentVariable(t *testing.T) {
	var cfg testConfig
	if err := Load(defaults(), Source{EnvPrefix: "RT_", Environ: []string{"RT_CONFIG=/etc/x.yaml"}, IgnoreEnv: []string{"RT_CONFIG"}}, &cfg); err != nil {
		t.Fatal(err)
	}
}

func FuzzLoadYAML(f *testing.F) {
	f.Add([]byte("server: {addr: x}\nlifetime: 5m\n"))
	f.Add([]byte("plans: {a: [{repository: x}]}"))
	f.Add([]byte("lifetime: [1,2]"))
	f.Add([]byte("\x00\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var cfg testConfig
		_ = Load(defaults(), Source{Data: data}, &cfg)
	})
}

type listConfig struct {
	Keys []testRule `koanf:"keys"`
}

// The items of a list of structs are checked for unknown keys too, each
// named by its index.
func TestUnknownKeysInListItems(t *testing.T) {
	file := writeFile(t, `
keys:
  - {repository: a, actions: [pull]}
  - {repository: b, action: [pull], extra: 1}
`)
	var cfg listConfig
	err := Load(listConfig{}, Source{File: file}, &cfg)
	if err == nil {
		t.Fatal("want error")
	}
	for _, want := range []string{`unknown key "action" in keys[1]`, `unknown key "extra" in keys[1]`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "keys[0]") {
		t.Errorf("valid item reported: %v", err)
	}
	good := writeFile(t, "keys: [{repository: a}]\n")
	if err := Load(listConfig{}, Source{File: good}, &cfg); err != nil || len(cfg.Keys) != 1 || cfg.Keys[0].Repository != "a" {
		t.Fatalf("%+v %v", cfg, err)
	}
}
