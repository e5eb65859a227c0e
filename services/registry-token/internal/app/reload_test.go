package app_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/stellaops/authgate/pkg/dpop"
	"github.com/stellaops/authgate/pkg/testkit/authoritytest"
	"github.com/stellaops/authgate/pkg/testkit/proctest"
	"github.com/stellaops/authgate/services/registry-token/internal/app"
)

// server is one registry-token run by app.Run in the test, with a signal
// channel standing in for the process signals.
type server struct {
	base string
	sigs chan os.Signal
	logs *proctest.Buffer
	done chan error
}

func startServer(t *testing.T, args ...string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{sigs: make(chan os.Signal, 1), logs: &proctest.Buffer{}, done: make(chan error, 1)}
	listening := make(chan net.Addr, 1)
	go func() {
		s.done <- app.Run(ctx, app.Env{
			Args: append([]string{"serve", "--addr", "127.0.0.1:0"}, args...), Stdout: io.Discard, Stderr: s.logs,
			Listening: func(addr net.Addr) { listening <- addr }, Signals: s.sigs,
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-s.done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	select {
	case addr := <-listening:
		s.base = "http://" + addr.String()
	case err := <-s.done:
		t.Fatalf("Run returned early: %v\n%s", err, s.logs)
	}
	deadline := time.Now().Add(20 * time.Second)
	for s.readyz(t).Status != "ready" {
		if time.Now().After(deadline) {
			t.Fatalf("not ready:\n%s", s.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return s
}

type readyBody struct {
	Status string           `json:"status"`
	Config app.ReloadStatus `json:"config"`
}

func (s *server) readyz(t *testing.T) readyBody {
	t.Helper()
	var body []byte
	get(t, s.base+"/readyz", &body)
	var r readyBody
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("readyz %s: %v", body, err)
	}
	return r
}

// reload sends SIGHUP and waits until the reload attempt is recorded.
func (s *server) reload(t *testing.T) readyBody {
	t.Helper()
	before := s.readyz(t).Config.Reloads
	s.sigs <- syscall.SIGHUP
	return s.waitReload(t, before)
}

// writeAtomic replaces path in one rename, as an operator's tooling or a
// ConfigMap volume would.
func writeAtomic(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// caller requests tokens with a DPoP-bound community OpTok.
type caller struct {
	key   jwk.Key
	optok string
}

func newCaller(t *testing.T, a *authoritytest.Authority) caller {
	key := authoritytest.NewKey(t)
	jkt, err := dpop.Thumbprint(key)
	if err != nil {
		t.Fatal(err)
	}
	cl := a.Claims("user-reload", time.Now())
	cl["cnf"] = map[string]any{"jkt": jkt}
	cl["exp"] = time.Now().Add(10 * time.Minute).Unix()
	return caller{key: key, optok: a.Mint(t, cl)}
}

type issued struct {
	status int
	body   string
	kid    string
	life   int64 // exp - iat of the registry token
}

func (c caller) get(client *http.Client, base string) (issued, error) {
	proof, err := dpop.NewProof(c.key, "ES256", http.MethodGet, publicURL+"/token", c.optok, "", time.Now())
	if err != nil {
		return issued{}, err
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/token?service=registry.localhost&scope=repository:stella-ops/public/base:pull", nil)
	req.Header.Set("Authorization", "DPoP "+c.optok)
	req.Header.Set("DPoP", proof)
	resp, err := client.Do(req)
	if err != nil {
		return issued{}, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	out := issued{status: resp.StatusCode, body: string(b)}
	if resp.StatusCode != http.StatusOK {
		return out, nil
	}
	var r struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return out, err
	}
	msg, err := jws.Parse([]byte(r.Token))
	if err != nil {
		return out, err
	}
	out.kid = msg.Signatures()[0].ProtectedHeaders().KeyID()
	parts := strings.Split(r.Token, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return out, err
	}
	var cl struct{ Exp, Iat int64 }
	if err := json.Unmarshal(payload, &cl); err != nil {
		return out, err
	}
	out.life = cl.Exp - cl.Iat
	return out, nil
}

// reloadConfig is one version of the storm: valid or broken in one of
// several ways. Each version has its own signing.lifetime (60 s + n), so
// a token tells which version issued it, and its active key alternates.
func reloadConfig(a *authoritytest.Authority, keyA, keyB string, n int) (string, bool, string) {
	active, next := keyA, keyB
	kid := "key-a"
	if (n/2)%2 == 1 {
		active, next, kid = keyB, keyA, "key-b"
	}
	keys := fmt.Sprintf("    - {file: %q, keyId: %s, status: active}\n    - {file: %q, keyId: %s, status: next}\n",
		active, kid, next, map[string]string{"key-a": "key-b", "key-b": "key-a"}[kid])
	plans := "  community: [{repository: \"stella-ops/public/*\", actions: [pull]}]\n"
	extra := ""
	valid := n%2 == 0
	if !valid {
		switch (n / 2) % 5 {
		case 0:
			plans += "  broken: [\n" // not YAML
		case 1:
			extra = "unknownSetting: 1\n"
		case 2:
			keys = strings.Replace(keys, active, active+".missing", 1)
		case 3:
			keys = strings.Replace(keys, "status: next", "status: active", 1)
		case 4:
			extra = "defaultPlan: gold\nrevokedLicenses: [\"\"]\n"
		}
	}
	return fmt.Sprintf(`
server: {addr: "127.0.0.1:0", publicUrl: %q}
authority: {issuer: %q, metadataUrl: %q, requireHttpsMetadata: false, clockSkew: %ds}
registry: {realm: %q, services: [registry.localhost]}
signing:
  lifetime: %ds
  keys:
%splans:
%s%s`, publicURL, a.Issuer, a.MetadataURL(), 30+min(n, 1), publicURL+"/token", 60+n, keys, plans, extra), valid, kid
}

// TestReloadStorm reloads the configuration 100 times, half of the files
// broken, while callers request tokens: no request fails, broken files
// never serve, and every token was issued by a configuration that was
// valid and in force while the request ran (its lifetime names the
// version, its kid the version's active key).
func TestReloadStorm(t *testing.T) {
	dir := t.TempDir()
	a := authoritytest.New(t)
	keyA, keyB := filepath.Join(dir, "a.pem"), filepath.Join(dir, "b.pem")
	for _, k := range []string{keyA, keyB} {
		if err := os.Rename(writeKey(t, dir, 0o600), k); err != nil {
			t.Fatal(err)
		}
	}
	cfgFile := filepath.Join(dir, "registry-token.yaml")
	first, _, _ := reloadConfig(a, keyA, keyB, 0)
	writeAtomic(t, cfgFile, first)
	s := startServer(t, "--config", cfgFile)

	const versions = 101        // version 0 at start, then 100 reloads
	kidOf := map[int64]string{} // lifetime -> active kid of a valid version
	for n := 0; n < versions; n += 2 {
		_, _, kid := reloadConfig(a, keyA, keyB, n)
		kidOf[int64(60+n)] = kid
	}
	var applied, written atomic.Int64 // newest version in force / written
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	defer client.CloseIdleConnections()
	stop := make(chan struct{})
	var (
		wg       sync.WaitGroup
		requests atomic.Int64
	)
	for range 8 {
		c := newCaller(t, a)
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				low := applied.Load()
				got, err := c.get(client, s.base)
				high := written.Load()
				requests.Add(1)
				switch {
				case err != nil:
					t.Errorf("request: %v", err)
					return
				case got.status != http.StatusOK:
					t.Errorf("request refused during the storm: %d %s", got.status, got.body)
					return
				}
				kid, ok := kidOf[got.life]
				v := got.life - 60
				switch {
				case !ok:
					t.Errorf("token lifetime %ds is not a valid version's", got.life)
				case kid != got.kid:
					t.Errorf("version %d token signed by %s, want %s", v, got.kid, kid)
				case v < low || v > high:
					t.Errorf("version %d token, while versions %d..%d were in force", v, low, high)
				}
			}
		})
	}
	for n := 1; n < versions; n++ {
		content, valid, _ := reloadConfig(a, keyA, keyB, n)
		writeAtomic(t, cfgFile, content)
		if valid {
			written.Store(int64(n))
		}
		r := s.reload(t)
		last := r.Config.LastReload
		switch {
		case r.Status != "ready" || last == nil:
			t.Fatalf("readyz after reload %d: %+v", n, r)
		case valid && last.Result != app.ReloadSuccess:
			t.Fatalf("valid version %d refused: %v", n, last.Problems)
		case !valid && (last.Result != app.ReloadFailure || len(last.Problems) == 0):
			t.Fatalf("broken version %d: %+v", n, last)
		}
		if valid {
			applied.Store(int64(n))
		}
	}
	close(stop)
	wg.Wait()
	if requests.Load() < versions {
		t.Fatalf("only %d requests during %d reloads", requests.Load(), versions)
	}
	r := s.readyz(t)
	if r.Config.Reloads != versions-1 || r.Config.FailedReloads != versions/2 {
		t.Fatalf("reload counts %+v", r.Config)
	}
	var metrics []byte
	get(t, s.base+"/metrics", &metrics)
	for _, want := range []string{
		fmt.Sprintf(`registry_token_config_reloads_total{result="failure"} %d`, versions/2),
		fmt.Sprintf(`registry_token_config_reloads_total{result="success"} %d`, versions/2),
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	logs := s.logs.String()
	for _, want := range []string{
		`"msg":"configuration reload failed: the previous configuration keeps serving"`,
		`unknown key \"unknownSetting\"`, "exactly one key must be active, 2 are", `defaultPlan: \"gold\" is not a plan`,
		`revokedLicenses[0]: empty licence id`, "a.pem.missing", "b.pem.missing",
		`"settings":["authority.clockSkew"]`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s", want)
		}
	}
	t.Logf("%d token requests during %d reloads (%d broken), none failed", requests.Load(), versions-1, versions/2)
}
