package app_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/authgate/pkg/testkit/authoritytest"
	"github.com/stellaops/authgate/services/registry-token/internal/app"
)

// A reload that brings other key material under a keyId already in use is
// refused (tokens signed before would stop verifying where verifiers cache
// keys by kid): the previous keys keep signing and stay published, and the
// problem names the keyId. The same new key under a new keyId is accepted.
func TestReloadRefusesNewKeyUnderPinnedKeyID(t *testing.T) {
	dir := t.TempDir()
	a := authoritytest.New(t)
	keyA, keyB, keyC := filepath.Join(dir, "a.pem"), filepath.Join(dir, "b.pem"), filepath.Join(dir, "c.pem")
	for _, k := range []string{keyA, keyB, keyC} {
		if err := os.Rename(writeKey(t, dir, 0o600), k); err != nil {
			t.Fatal(err)
		}
	}
	cfgFile := filepath.Join(dir, "registry-token.yaml")
	write := func(keys string) {
		writeAtomic(t, cfgFile, fmt.Sprintf(`
server: {addr: "127.0.0.1:0", publicUrl: %q}
authority: {issuer: %q, metadataUrl: %q, requireHttpsMetadata: false}
registry: {realm: %q, services: [registry.localhost]}
signing:
  keys:
%splans:
  community: [{repository: "stella-ops/public/*", actions: [pull]}]
`, publicURL, a.Issuer, a.MetadataURL(), publicURL+"/token", keys))
	}
	write(fmt.Sprintf("    - {file: %q, keyId: k1, status: active}\n    - {file: %q, keyId: k2, status: next}\n", keyA, keyB))
	s := startServer(t, "--config", cfgFile)
	c := newCaller(t, a)
	client := &http.Client{}
	before, err := c.get(client, s.base)
	if err != nil || before.status != http.StatusOK || before.kid != "k1" {
		t.Fatalf("before: %+v %v", before, err)
	}
	var jwksBefore []byte
	if code := get(t, s.base+"/jwks.json", &jwksBefore); code != http.StatusOK || !strings.Contains(string(jwksBefore), `"k2"`) {
		t.Fatalf("jwks.json: %d %s", code, jwksBefore)
	}

	for _, tc := range []struct{ name, keys, kid string }{
		{"active key replaced", fmt.Sprintf("    - {file: %q, keyId: k1, status: active}\n    - {file: %q, keyId: k2, status: next}\n", keyC, keyB), "k1"},
		{"next key replaced", fmt.Sprintf("    - {file: %q, keyId: k1, status: active}\n    - {file: %q, keyId: k2, status: next}\n", keyA, keyC), "k2"},
		{"keyIds swapped", fmt.Sprintf("    - {file: %q, keyId: k2, status: active}\n    - {file: %q, keyId: k1, status: next}\n", keyA, keyB), "k1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			write(tc.keys)
			last := s.reload(t).Config.LastReload
			if last == nil || last.Result != app.ReloadFailure {
				t.Fatalf("reload accepted: %+v", last)
			}
			if p := strings.Join(last.Problems, "\n"); !strings.Contains(p, fmt.Sprintf("keyId %q", tc.kid)) || !strings.Contains(p, "new keyId") {
				t.Fatalf("problems %q: want the keyId %s named and a new keyId asked for", p, tc.kid)
			}
			var jwks []byte
			get(t, s.base+"/jwks.json", &jwks)
			if string(jwks) != string(jwksBefore) {
				t.Fatalf("published keys changed after a refused reload:\n%s\nwas\n%s", jwks, jwksBefore)
			}
			got, err := c.get(client, s.base)
			if err != nil || got.status != http.StatusOK || got.kid != "k1" {
				t.Fatalf("after the refused reload: %+v %v", got, err)
			}
		})
	}

	// Control: the new key under a new keyId is a rotation step.
	write(fmt.Sprintf("    - {file: %q, keyId: k1, status: active}\n    - {file: %q, keyId: k2, status: next}\n    - {file: %q, keyId: k3, status: next}\n", keyA, keyB, keyC))
	if last := s.reload(t).Config.LastReload; last == nil || last.Result != app.ReloadSuccess {
		t.Fatalf("new key under a new keyId refused: %+v", last)
	}
}
