package config_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/authgate/pkg/testkit/certtest"
	"github.com/stellaops/authgate/services/registry-token/internal/config"
)

// TestPolicyClientCertificate: policy.certFile and policy.keyFile come
// together, over https, and must load as a pair.
func TestPolicyClientCertificate(t *testing.T) {
	dir := t.TempDir()
	a, b := certtest.SelfSigned(t, "registry-token", 1), certtest.SelfSigned(t, "other", 2)
	crt, key := filepath.Join(dir, "a.crt"), filepath.Join(dir, "a.key")
	a.WriteFiles(t, crt, key)
	otherKey := filepath.Join(dir, "b.key")
	b.WriteFiles(t, filepath.Join(dir, "b.crt"), otherKey)
	const https = `url: "https://flex-auth.flex-auth.svc.cluster.local:8080"`
	cases := []struct {
		name, policy string
		problem      string // "" accepts
	}{
		{"certificate and key", fmt.Sprintf("{%s, certFile: %q, keyFile: %q}", https, crt, key), ""},
		{"certificate without key", fmt.Sprintf("{%s, certFile: %q}", https, crt), "must be set together"},
		{"key without certificate", fmt.Sprintf("{%s, keyFile: %q}", https, key), "must be set together"},
		{"plain http url", fmt.Sprintf("{url: \"http://flex-auth:8080\", certFile: %q, keyFile: %q}", crt, key), "requires an https:// policy.url"},
		{"no url", fmt.Sprintf("{certFile: %q, keyFile: %q}", crt, key), "requires policy.url"},
		{"key of another certificate", fmt.Sprintf("{%s, certFile: %q, keyFile: %q}", https, crt, otherKey), "policy.certFile/keyFile"},
		{"missing file", fmt.Sprintf("{%s, certFile: %q, keyFile: %q}", https, filepath.Join(dir, "none.crt"), key), "policy.certFile/keyFile"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.LoadData([]byte(valid+"policy: "+tc.policy+"\n"), nil)
			switch {
			case tc.problem == "" && err != nil:
				t.Fatal(err)
			case tc.problem == "" && (cfg.Policy.CertFile != crt || cfg.Policy.KeyFile != key):
				t.Fatalf("policy %+v", cfg.Policy)
			case tc.problem != "" && (err == nil || !strings.Contains(err.Error(), tc.problem)):
				t.Fatalf("err = %v, want %q", err, tc.problem)
			}
		})
	}
}
