package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stellaops/authgate/services/registry-token/internal/config"
)

func TestSigningKeysList(t *testing.T) {
	cfg, err := config.LoadData([]byte(valid+`
signing:
  keys:
    - {file: /keys/b.pem, status: next}
    - {file: /keys/a.pem, status: active, keyId: key-a, passwordFile: /keys/a.pass}
    - {file: /keys/old.p12, status: retired, password: s3cret, retiredAt: "2026-12-01T10:00:00Z"}
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	keys := cfg.Signing.KeySet()
	if len(keys) != 3 || keys[1].Status != config.KeyActive || keys[1].KeyID != "key-a" || cfg.Signing.KeyFile != "" {
		t.Fatalf("%+v (keyFile %q)", keys, cfg.Signing.KeyFile)
	}
	want := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	if !keys[2].RetiredAt.Equal(want) {
		t.Fatalf("retiredAt %s", keys[2].RetiredAt)
	}
	if got := keys[2].RetiredUntil(5 * time.Minute); !got.Equal(want.Add(5*time.Minute + config.RetiredGrace)) {
		t.Fatalf("retired until %s", got)
	}
	out, err := cfg.YAML()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "s3cret") || !strings.Contains(string(out), "2026-12-01T10:00:00Z") {
		t.Fatalf("printed configuration:\n%s", out)
	}
}

// The single keyFile is the simple case: one active key.
func TestSingleKeyFileIsTheActiveKey(t *testing.T) {
	cfg, err := config.LoadData([]byte(valid), []string{"REGISTRY_TOKEN_SIGNING__KEYFILE=/k.pem", "REGISTRY_TOKEN_SIGNING__KEYID=k1"})
	if err != nil {
		t.Fatal(err)
	}
	keys := cfg.Signing.KeySet()
	if len(keys) != 1 || keys[0].File != "/k.pem" || keys[0].Status != config.KeyActive || keys[0].KeyID != "k1" {
		t.Fatalf("%+v", keys)
	}
}

// Every problem of the key list is listed at once.
func TestSigningKeysProblems(t *testing.T) {
	for _, tc := range []struct {
		name string
		keys string
		env  []string
		want []string
	}{
		{name: "no active key", keys: `[{file: a.pem, status: next}, {file: b.pem, status: retired}]`,
			want: []string{"signing.keys: exactly one key must be active, 0 are"}},
		{name: "two active keys", keys: `[{file: a.pem, status: active}, {file: b.pem, status: active}]`,
			want: []string{"exactly one key must be active, 2 are"}},
		{name: "everything wrong", keys: `[{status: active}, {file: a.pem, status: current, retiredAt: "2026-01-01T00:00:00Z", password: x, passwordFile: y}, {file: a.pem}, {file: c.pem, status: retired, kid: x}]`,
			want: []string{
				"signing.keys[0].file: required",
				`signing.keys[1].status: "current" is not next, active or retired`,
				`signing.keys[1].retiredAt: only a retired key has one`,
				"signing.keys[1]: password and passwordFile: set at most one",
				`signing.keys[2].file: "a.pem" is also signing.keys[1]`,
				"signing.keys[2].status: required",
				`unknown key "kid" in signing.keys[3]`,
			}},
		{name: "duplicate kid", keys: `[{file: a.pem, status: active, keyId: k}, {file: b.pem, status: next, keyId: k}]`,
			want: []string{`signing.keys[1].keyId: "k" is also signing.keys[0]`}},
		{name: "bad retiredAt", keys: `[{file: a.pem, status: active}, {file: b.pem, status: retired, retiredAt: yesterday}]`,
			want: []string{"retiredAt"}},
		{name: "single-key settings too", keys: `[{file: a.pem, status: active}]`,
			env:  []string{"REGISTRY_TOKEN_SIGNING__KEYFILE=/other.pem", "REGISTRY_TOKEN_SIGNING__KEYID=x"},
			want: []string{"signing.keyFile: not allowed with signing.keys", "signing.keyId: not allowed with signing.keys"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.LoadData([]byte(valid+"signing:\n  keys: "+tc.keys+"\n"), tc.env)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}
