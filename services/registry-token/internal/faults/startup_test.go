package faults

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/stellaops/authgate/pkg/testkit/proctest"
)

// TestStartupErrors is scenario 9 for registry-token: a wrong PFX
// password, a world-readable key file, an unknown config key and a plan
// pattern that is not valid each make "registry-token serve" exit
// non-zero and name the problem; config problems found together are all
// named at once.
func TestStartupErrors(t *testing.T) {
	bin := proctest.Build(t, "./services/registry-token")
	auth := startAuthority(t)
	badPlan := func(doc map[string]any) {
		doc["plans"] = map[string]any{plan: []map[string]any{{"repository": "stella-ops/[public/**", "actions": []string{"pull"}}}}
	}
	unknownKey := func(doc map[string]any) {
		doc["authority"].(map[string]any)["replayCach"] = map[string]any{"backend": "memory"}
	}
	cases := []struct {
		name string
		edit func(t *testing.T, dir string, doc map[string]any)
		want []string // every one must appear in stderr
	}{
		{"wrong PFX password", func(t *testing.T, dir string, doc map[string]any) {
			setKey(doc, writePFX(t, dir, "right password", 0o600), "wrong password")
		}, []string{"signing key", "signing.pfx", "password incorrect"}},
		{"world-readable key file", func(t *testing.T, dir string, doc map[string]any) {
			key := doc["signing"].(map[string]any)["keyFile"].(string)
			if err := os.Chmod(key, 0o644); err != nil {
				t.Fatal(err)
			}
		}, []string{"signing.pem", "mode 0644", "group or others"}},
		{"unknown config key", func(t *testing.T, _ string, doc map[string]any) { unknownKey(doc) },
			[]string{"authority.replayCach"}},
		{"invalid plan pattern", func(t *testing.T, _ string, doc map[string]any) { badPlan(doc) },
			[]string{"plans", "stella-ops/[public/**"}},
		{"config problems together", func(t *testing.T, _ string, doc map[string]any) {
			unknownKey(doc)
			badPlan(doc)
			doc["signing"].(map[string]any)["lifetime"] = "5h"
			doc["defaultPlan"] = "gold"
		}, []string{"authority.replayCach", "stella-ops/[public/**", "signing.lifetime", `defaultPlan: "gold"`}},
		// Key and config problems are named together: the key is checked
		// (mode and password) even when the config is wrong.
		{"key and config problems together", func(t *testing.T, dir string, doc map[string]any) {
			setKey(doc, writePFX(t, dir, "right password", 0o644), "wrong password")
			unknownKey(doc)
			badPlan(doc)
		}, []string{"signing.pfx", "mode 0644", "group or others", "password incorrect", "authority.replayCach", "stella-ops/[public/**"}},
	}
	fig := proctest.NewFigures("9-registry-token")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := writeConfig(t, dir, auth, rtConfig{Edit: func(doc map[string]any) { tc.edit(t, dir, doc) }})
			port, err := proctest.FreePort()
			if err != nil {
				t.Fatal(err)
			}
			fig.Sent()
			res := proctest.Run(t, bin, dir, nil, 30*time.Second, "serve", "--config", cfg, "--addr", "127.0.0.1:"+strconv.Itoa(port))
			if res.Code == 0 {
				fig.Allowed()
				fig.Lost()
				t.Fatalf("serve exited 0")
			}
			fig.Denied()
			for _, w := range tc.want {
				if !strings.Contains(res.Stderr, w) {
					t.Errorf("exit %d, stderr does not name %q:\n%s", res.Code, w, res.Stderr)
				}
			}
			// Nothing was started: no Authority fetch was attempted.
			if strings.Contains(res.Stderr, "refresh failed") {
				t.Errorf("refused to start after starting the Authority client:\n%s", res.Stderr)
			}
			t.Logf("exit %d: %s", res.Code, strings.ReplaceAll(strings.TrimSpace(res.Stderr), "\n", " | "))
		})
	}
	fig.Log(t)
}

func setKey(doc map[string]any, file, password string) {
	s := doc["signing"].(map[string]any)
	s["keyFile"], s["keyPassword"] = file, password
}

// writePFX writes a PKCS#12 file holding a fresh P-256 key and a
// self-signed certificate, encrypted with password.
func writePFX(t *testing.T, dir, password string, mode os.FileMode) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "registry-token"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pfx, err := pkcs12.Modern.Encode(key, cert, nil, password)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "signing.pfx")
	if err := os.WriteFile(path, pfx, mode); err != nil {
		t.Fatal(err)
	}
	return path
}
