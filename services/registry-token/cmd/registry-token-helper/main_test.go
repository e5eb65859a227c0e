package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestChallengeParams(t *testing.T) {
	got := challengeParams(`realm="https://rt.example.com/token",service="registry.example.com", scope="repository:a/b:pull,push", error=invalid_token`)
	want := map[string]string{"realm": "https://rt.example.com/token", "service": "registry.example.com",
		"scope": "repository:a/b:pull,push", "error": "invalid_token"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if got := challengeParams(`realm="a\"b"`); got["realm"] != `a"b` {
		t.Errorf("escaped quote: %q", got["realm"])
	}
}

func FuzzChallengeParams(f *testing.F) {
	f.Add(`realm="https://rt/token",service="s"`)
	f.Add(`realm="unterminated`)
	f.Add(`=,=,"\`)
	f.Fuzz(func(t *testing.T, s string) {
		for k := range challengeParams(s) {
			if k != strings.ToLower(k) {
				t.Fatalf("name %q not lower-cased", k)
			}
		}
	})
}

func TestWriteDockerConfigKeepsTheRest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	before := `{"auths":{"other.example.com":{"auth":"dTpw"},"registry.example.com":{"auth":"b2xkOm9sZA==","identitytoken":"x"}},"credsStore":"desktop","psFormat":"table"}`
	if err := os.WriteFile(path, []byte(before), 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	if err := writeDockerConfig(path, "registry.example.com", "a.b.c", &stderr); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Auths      map[string]map[string]string `json:"auths"`
		CredsStore string                       `json:"credsStore"`
		PSFormat   string                       `json:"psFormat"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	if e := cfg.Auths["registry.example.com"]; len(e) != 1 || e["registrytoken"] != "a.b.c" {
		t.Fatalf("entry %v", e)
	}
	if cfg.Auths["other.example.com"]["auth"] != "dTpw" || cfg.CredsStore != "desktop" || cfg.PSFormat != "table" {
		t.Fatalf("other settings lost: %s", b)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}
	if !strings.Contains(stderr.String(), "credsStore") {
		t.Fatalf("no warning about the credential store: %q", stderr.String())
	}
	if err := os.WriteFile(path, []byte("not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := writeDockerConfig(path, "r", "a.b.c", &stderr); err == nil {
		t.Fatal("a broken config file was overwritten")
	}
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	optok := filepath.Join(dir, "optok")
	key := filepath.Join(dir, "key")
	_ = os.WriteFile(optok, []byte("not a jwt\n"), 0o600)
	_ = os.WriteFile(key, []byte("{}"), 0o600)
	for name, tc := range map[string]struct {
		args  []string
		usage bool
		msg   string
	}{
		"nothing":        {nil, true, "--dpop-key, --optok-file, --registry required"},
		"registry a URL": {[]string{"--registry", "https://r/v2", "--optok-file", optok, "--dpop-key", key}, true, "host[:port]"},
		"extra argument": {[]string{"--registry", "r", "--optok-file", optok, "--dpop-key", key, "x"}, true, "unexpected argument"},
		"bad OpTok file": {[]string{"--registry", "r", "--realm", "https://rt/token", "--service", "s", "--optok-file", optok, "--dpop-key", key}, false, "does not hold one JWT"},
	} {
		t.Run(name, func(t *testing.T) {
			var stderr bytes.Buffer
			err := run(context.Background(), tc.args, noEnv, strings.NewReader(""), &bytes.Buffer{}, &stderr)
			if err == nil || errors.Is(err, errUsage) != tc.usage || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %v, want usage=%v containing %q", err, tc.usage, tc.msg)
			}
		})
	}
}

// A Docker config file that is empty, null, or has "auths": null is an
// empty configuration (not a crash); one whose auths is not an object is
// refused and left as it was.
func TestWriteDockerConfigEmptyForms(t *testing.T) {
	for _, before := range []string{"", "  \n", "null", `{"auths":null,"psFormat":"table"}`, `{"auths":{}}`} {
		path := filepath.Join(t.TempDir(), "config.json")
		if err := os.WriteFile(path, []byte(before), 0o600); err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		if err := writeDockerConfig(path, "registry.example.com", "a.b.c", &stderr); err != nil {
			t.Fatalf("%q: %v", before, err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var cfg struct {
			Auths map[string]map[string]string `json:"auths"`
		}
		if err := json.Unmarshal(b, &cfg); err != nil || cfg.Auths["registry.example.com"]["registrytoken"] != "a.b.c" {
			t.Fatalf("%q became %s (%v)", before, b, err)
		}
	}
	for _, before := range []string{`{"auths":[]}`, `{"auths":"x"}`, `[]`, `"x"`, `{"Auths":{}}`} {
		path := filepath.Join(t.TempDir(), "config.json")
		if err := os.WriteFile(path, []byte(before), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := writeDockerConfig(path, "registry.example.com", "a.b.c", &bytes.Buffer{}); err == nil {
			t.Fatalf("%q was accepted", before)
		}
		if b, _ := os.ReadFile(path); string(b) != before {
			t.Fatalf("%q was changed to %s", before, b)
		}
	}
}

// FuzzWriteDockerConfig: whatever the file holds, the helper either
// writes a config whose entry for the registry is the token, or refuses
// and leaves the file as it was; it never panics.
func FuzzWriteDockerConfig(f *testing.F) {
	for _, s := range []string{"", "null", `{"auths":null}`, `{"auths":{"r":{"auth":"eDp5"}},"credsStore":"x"}`, `{"auths":[]}`, `[`, `{"credHelpers":{"r":"h"}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, before []byte) {
		path := filepath.Join(t.TempDir(), "config.json")
		if err := os.WriteFile(path, before, 0o600); err != nil {
			t.Fatal(err)
		}
		err := writeDockerConfig(path, "r", "a.b.c", &bytes.Buffer{})
		after, rerr := os.ReadFile(path)
		if rerr != nil {
			t.Fatal(rerr)
		}
		if err != nil {
			if !bytes.Equal(after, before) {
				t.Fatalf("refused (%v) but changed the file", err)
			}
			return
		}
		var cfg struct {
			Auths map[string]map[string]string `json:"auths"`
		}
		if err := json.Unmarshal(after, &cfg); err != nil || cfg.Auths["r"]["registrytoken"] != "a.b.c" {
			t.Fatalf("%q became %s (%v)", before, after, err)
		}
	})
}
