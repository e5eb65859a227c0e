package app_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/authgate/pkg/testkit/authoritytest"
	"github.com/stellaops/authgate/services/registry-token/internal/app"
	"github.com/stellaops/authgate/services/registry-token/internal/signing"
)

// volume is a directory laid out as Kubernetes mounts a ConfigMap or a
// Secret: name -> ..data/name, ..data -> ..<version>, swapped atomically.
type volume struct {
	t       *testing.T
	dir     string
	version int
}

func newVolume(t *testing.T, files map[string][]byte) *volume {
	v := &volume{t: t, dir: t.TempDir()}
	v.swap(files)
	for name := range files {
		if err := os.Symlink(filepath.Join("..data", name), filepath.Join(v.dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return v
}

func (v *volume) path(name string) string { return filepath.Join(v.dir, name) }

func (v *volume) swap(files map[string][]byte) {
	v.version++
	d := fmt.Sprintf("..2026_12_03_%d", v.version)
	if err := os.Mkdir(filepath.Join(v.dir, d), 0o755); err != nil {
		v.t.Fatal(err)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(v.dir, d, name), content, 0o600); err != nil {
			v.t.Fatal(err)
		}
	}
	tmp := filepath.Join(v.dir, "..data_tmp")
	if err := os.Symlink(d, tmp); err != nil {
		v.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(v.dir, "..data")); err != nil {
		v.t.Fatal(err)
	}
}

func newKeyPEM(t *testing.T) ([]byte, string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "k.pem")
	if err := signing.WriteNewKey(p); err != nil {
		t.Fatal(err)
	}
	k, err := signing.Load(signing.Options{File: p})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b, k.KeyID()
}

// waitReload waits until the service recorded a reload after before.
func (s *server) waitReload(t *testing.T, before int) readyBody {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := s.readyz(t)
		if r.Config.Reloads > before {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("no reload seen:\n%s", s.logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// With reload.watch, a ConfigMap update (the ..data swap) changes
// licences, services and the policy section in operation; a broken
// version keeps the previous one serving and shows in /readyz; a
// restart-only setting is named; a Secret update of the key file changes
// the signing key.
func TestWatchAppliesConfigMapAndSecretUpdates(t *testing.T) {
	a := authoritytest.New(t)
	keyA, kidA := newKeyPEM(t)
	keyB, kidB := newKeyPEM(t)
	secret := newVolume(t, map[string][]byte{"signing.pem": keyA})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + ln.Addr().String() // a flex-auth that is not there
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	var services string
	config := func(extra string) map[string][]byte {
		return map[string][]byte{"registry-token.yaml": fmt.Appendf(nil, `
server: {addr: "127.0.0.1:0", publicUrl: %q}
authority: {issuer: %q, metadataUrl: %q, requireHttpsMetadata: false}
signing: {keyFile: %q}
reload: {watch: true, debounce: 20ms}
registry: {realm: "http://localhost:8085/token", services: [%s]}
%s`, publicURL, a.Issuer, a.MetadataURL(), secret.path("signing.pem"), services, extra)}
	}
	const plansOK = "plans: {community: [{repository: \"stella-ops/public/*\"}]}\n"
	services = "registry.localhost"
	cm := newVolume(t, config(plansOK))
	s := startServer(t, "--config", cm.path("registry-token.yaml"))

	status := func() (int, string) { return pullToken(t, a, s.base) }
	kid := func() []string {
		var b []byte
		get(t, s.base+"/jwks.json", &b)
		return authoritytest.KeyIDs(t, b)
	}
	if code, body := status(); code != http.StatusOK || !slices.Equal(kid(), []string{kidA}) {
		t.Fatalf("start: %d %s, kids %v", code, body, kid())
	}
	steps := []struct {
		name     string
		services string
		extra    string
		want     int
		reason   string
		failed   bool
		restarts []string
	}{
		{name: "plans", services: "registry.localhost", extra: "plans: {community: [{repository: \"other/*\"}]}\n",
			want: http.StatusForbidden, reason: "not_entitled"},
		{name: "defaultPlan", services: "registry.localhost", extra: plansOK + "  enterprise: []\n" + "defaultPlan: enterprise\n",
			failed: true, want: http.StatusForbidden, reason: "not_entitled"},
		{name: "services", services: "other", extra: plansOK,
			want: http.StatusBadRequest, reason: "service_not_allowed"},
		{name: "policy section", services: "registry.localhost", extra: plansOK + fmt.Sprintf("policy: {url: %q, timeout: 1s}\n", down),
			want: http.StatusServiceUnavailable, reason: "policy_unavailable"},
		{name: "broken file keeps the policy", services: "registry.localhost", extra: plansOK + "bogus: 1\n",
			failed: true, want: http.StatusServiceUnavailable, reason: "policy_unavailable"},
		{name: "restart-only setting", services: "registry.localhost", extra: plansOK + "log: {level: warn}\n",
			want: http.StatusOK, restarts: []string{"log.level"}},
	}
	spec := loadSpec(t)
	for _, st := range steps {
		before := s.readyz(t).Config.Reloads
		services = st.services
		cm.swap(config(st.extra))
		r := s.waitReload(t, before)
		last := r.Config.LastReload
		if r.Status != "ready" || last == nil || (last.Result == app.ReloadFailure) != st.failed {
			t.Fatalf("%s: readyz %+v (%+v)", st.name, r, last)
		}
		if st.failed && len(last.Problems) == 0 {
			t.Fatalf("%s: failure without problems", st.name)
		}
		// The /readyz detail after each kind of reload is what the spec says.
		resp, err := http.Get(s.base + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		detail, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		spec.check(t, http.MethodGet, "/readyz", resp, detail)
		if !st.failed && !slices.Equal(last.RestartRequired, st.restarts) {
			t.Fatalf("%s: restart required %v, want %v", st.name, last.RestartRequired, st.restarts)
		}
		code, body := status()
		if code != st.want || !strings.Contains(body, st.reason) {
			t.Fatalf("%s: %d %s, want %d %s", st.name, code, body, st.want, st.reason)
		}
	}
	if !strings.Contains(s.logs.String(), `"settings":["log.level"]`) {
		t.Errorf("restart-only setting not named in the log:\n%s", s.logs)
	}

	// The Secret holding the key is updated: the new key signs.
	before := s.readyz(t).Config.Reloads
	secret.swap(map[string][]byte{"signing.pem": keyB})
	if r := s.waitReload(t, before); r.Config.ActiveKeyID != kidB || !slices.Equal(kid(), []string{kidB}) {
		t.Fatalf("after the key swap: active %s, jwks %v", r.Config.ActiveKeyID, kid())
	}
}

// "registry-token jwks" prints the active, next and retired keys, and
// leaves out a retired key whose tokens have all expired.
func TestJWKSCommandPublishesTheKeySet(t *testing.T) {
	a := authoritytest.New(t)
	dir := t.TempDir()
	files := map[string]string{}
	kids := map[string]string{}
	for _, n := range []string{"active", "next", "retired", "expired"} {
		pem, kid := newKeyPEM(t)
		files[n], kids[n] = filepath.Join(dir, n+".pem"), kid
		if err := os.WriteFile(files[n], pem, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg := writeConfig(t, dir, a, files["active"])
	body, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	recent := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	long := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339) // > 5m lifetime + 1m
	keys := fmt.Sprintf(`signing:
  keys:
    - {file: %q, status: retired, retiredAt: %q}
    - {file: %q, status: active}
    - {file: %q, status: next}
    - {file: %q, status: retired, retiredAt: %q}
`, files["retired"], recent, files["active"], files["next"], files["expired"], long)
	text := strings.Replace(string(body), fmt.Sprintf("signing: {keyFile: %q}\n", files["active"]), keys, 1)
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := app.Run(t.Context(), app.Env{Args: []string{"jwks", "--config", cfg}, Stdout: &out}); err != nil {
		t.Fatal(err)
	}
	got := authoritytest.KeyIDs(t, []byte(out.String()))
	if want := []string{kids["active"], kids["retired"], kids["next"]}; !slices.Equal(got, want) {
		t.Fatalf("jwks kids %v, want %v (active, then the others in order; not the expired one)", got, want)
	}
}
