package app_test

import (
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/authgate/pkg/testkit/authoritytest"
	"github.com/stellaops/authgate/services/registry-token/internal/app"
)

// A reload that changes a restart-only setting applies the rest and keeps
// the running value: authority.senderConstraint turned from required to
// optional in the file does not let an unbound OpTok through until the
// service restarts (then it does: the control).
func TestReloadKeepsTheRunningSenderConstraint(t *testing.T) {
	dir := t.TempDir()
	a := authoritytest.New(t)
	path := writeConfig(t, dir, a, writeKey(t, dir, 0o600))
	unbound := a.Mint(t, a.Claims("user-unbound", time.Now()))
	bearer := func(s *server) int {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, s.base+"/token?service=registry.localhost&scope=repository:stella-ops/public/base:pull", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+unbound)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}

	s := startServer(t, "--config", path)
	if code := bearer(s); code != http.StatusUnauthorized {
		t.Fatalf("senderConstraint required: an unbound OpTok got %d", code)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	optional := strings.Replace(string(b), "requireHttpsMetadata: false", "requireHttpsMetadata: false\n  senderConstraint: optional", 1)
	writeAtomic(t, path, optional)
	r := s.reload(t).Config.LastReload
	if r == nil || r.Result != app.ReloadSuccess || !slices.Contains(r.RestartRequired, "authority.senderConstraint") {
		t.Fatalf("reload %+v: want success naming authority.senderConstraint as restart-only", r)
	}
	if code := bearer(s); code != http.StatusUnauthorized {
		t.Fatalf("after a reload to senderConstraint optional, an unbound OpTok got %d: the running value must hold until a restart", code)
	}
	if !strings.Contains(s.logs.String(), "authority.senderConstraint") {
		t.Fatalf("the restart-only setting is not named in the log:\n%s", s.logs)
	}

	// Control: a service started with the new file accepts the OpTok.
	restarted := startServer(t, "--config", path)
	if code := bearer(restarted); code != http.StatusOK {
		t.Fatalf("senderConstraint optional at start: an unbound OpTok got %d", code)
	}
}
