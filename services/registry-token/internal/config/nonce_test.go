package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/authgate/services/registry-token/internal/config"
)

func TestNonceKeyFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	key := strings.Repeat("A", 43) + "=" // 32 bytes
	for _, tc := range []struct {
		name    string
		env     []string
		keys    int
		problem string
	}{
		{name: "none: a random key at start", keys: 0},
		{name: "file with two keys", env: []string{"REGISTRY_TOKEN_AUTHORITY__DPOP__NONCEKEYFILE=" + write("two", "# new\n"+key+"\n"+key+"\n")}, keys: 2},
		{name: "nonceKey", env: []string{"REGISTRY_TOKEN_AUTHORITY__DPOP__NONCEKEY=" + strings.Repeat("k", 32)}, keys: 1},
		{name: "missing file", env: []string{"REGISTRY_TOKEN_AUTHORITY__DPOP__NONCEKEYFILE=" + filepath.Join(dir, "absent")}, problem: "authority.dpop.nonceKeyFile: open"},
		{name: "short key", env: []string{"REGISTRY_TOKEN_AUTHORITY__DPOP__NONCEKEYFILE=" + write("short", "QUFB\n")}, problem: "line 1: key of 3 bytes, at least 32 required"},
		{name: "empty file", env: []string{"REGISTRY_TOKEN_AUTHORITY__DPOP__NONCEKEYFILE=" + write("empty", "")}, problem: "no key"},
		{name: "both", env: []string{"REGISTRY_TOKEN_AUTHORITY__DPOP__NONCEKEYFILE=" + write("one", key), "REGISTRY_TOKEN_AUTHORITY__DPOP__NONCEKEY=" + strings.Repeat("k", 32)},
			problem: "authority.dpop.nonceKey and nonceKeyFile: set one, not both"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.LoadData([]byte(valid), tc.env)
			if tc.problem != "" {
				if err == nil || !strings.Contains(err.Error(), tc.problem) {
					t.Fatalf("error %v, want %q", err, tc.problem)
				}
				if strings.Contains(err.Error(), key) {
					t.Fatal("the error repeats a key")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			keys, err := cfg.Authority.DPoP.NonceKeys()
			if err != nil || len(keys) != tc.keys {
				t.Fatalf("%d keys, %v; want %d", len(keys), err, tc.keys)
			}
		})
	}
}
