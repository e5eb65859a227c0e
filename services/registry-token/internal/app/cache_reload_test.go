package app_test

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/authgate/pkg/dpop"
	"github.com/stellaops/authgate/pkg/testkit/authoritytest"
)

// A licence revoked by a reload is refused at once, also for an OpTok
// whose verification is cached (it was accepted just before), and
// taking the revocation back serves it again.
func TestReloadRevokedLicenceRefusesCachedOpTok(t *testing.T) {
	dir := t.TempDir()
	a := authoritytest.New(t)
	key := writeKey(t, dir, 0o600)
	cfgFile := filepath.Join(dir, "registry-token.yaml")
	config := func(revoked string) string {
		return fmt.Sprintf(`
server: {addr: "127.0.0.1:0", publicUrl: %q}
authority: {issuer: %q, metadataUrl: %q, requireHttpsMetadata: false}
registry: {realm: %q, services: [registry.localhost]}
signing: {keyFile: %q}
plans:
  community: [{repository: "stella-ops/public/*", actions: [pull]}]
revokedLicenses: [%s]
`, publicURL, a.Issuer, a.MetadataURL(), publicURL+"/token", key, revoked)
	}
	writeAtomic(t, cfgFile, config(`"lic-other"`))
	s := startServer(t, "--config", cfgFile)

	c := newCaller(t, a)
	cl := a.Claims("user-licence", time.Now())
	jkt, err := dpop.Thumbprint(c.key)
	if err != nil {
		t.Fatal(err)
	}
	cl["cnf"] = map[string]any{"jkt": jkt}
	cl["stellaops:plan"], cl["stellaops:license"] = "community", "lic-7"
	c.optok = a.Mint(t, cl)
	client := &http.Client{}
	want := func(status int, body string) {
		t.Helper()
		for range 2 { // the second request uses the cached OpTok
			got, err := c.get(client, s.base)
			if err != nil {
				t.Fatal(err)
			}
			if got.status != status || !strings.Contains(got.body, body) {
				t.Fatalf("status %d %s, want %d with %q", got.status, got.body, status, body)
			}
		}
	}
	want(http.StatusOK, `"token"`)
	writeAtomic(t, cfgFile, config(`"lic-other", "lic-7"`))
	if r := s.reload(t); r.Config.LastReload.Result != "success" {
		t.Fatalf("reload: %+v", r.Config.LastReload)
	}
	want(http.StatusForbidden, "license_revoked")
	writeAtomic(t, cfgFile, config(`"lic-other"`))
	if r := s.reload(t); r.Config.LastReload.Result != "success" {
		t.Fatalf("reload: %+v", r.Config.LastReload)
	}
	want(http.StatusOK, `"token"`)
}
