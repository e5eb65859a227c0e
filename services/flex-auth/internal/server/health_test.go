package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stellaops/authgate/services/flex-auth/internal/decisionlog"
	"github.com/stellaops/authgate/services/flex-auth/internal/engine"
)

// TestHealthIsOneSnapshot reloads two registries in turn (odd reload
// counts load the first, even ones the second) while /healthz is read:
// every answer must show the digest that goes with its reload count.
func TestHealthIsOneSnapshot(t *testing.T) {
	src, err := os.ReadFile(cfgDir + "ops-warden/production_registry_snapshot.json")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	reg := filepath.Join(dir, "r.json")
	variants := [2][]byte{append(append([]byte(nil), src...), '\n'), src} // [reloads%2]
	write := func(b []byte) {
		if err := os.WriteFile(reg+".tmp", b, 0o600); err != nil {
			t.Error(err)
		}
		if err := os.Rename(reg+".tmp", reg); err != nil {
			t.Error(err)
		}
	}
	write(variants[1])
	sv := newServed(t, engine.Config{RegistryFile: reg, PolicyFile: cfgDir + "ops-warden/policy_package.md"}, decisionlog.SyncOff)
	eng, h := sv.eng, sv.h

	const reloads = 40
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		defer close(stop)
		for n := int64(2); n <= reloads; n++ {
			write(variants[n%2])
			if err := eng.Reload(); err != nil {
				t.Error(err)
				return
			}
		}
	})
	seen := map[int64]string{}
	for done := false; !done; {
		select {
		case <-stop:
			done = true
		default:
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, RouteHealth, nil))
		var body Health
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Error(err)
			break
		}
		if prev, ok := seen[body.Reload.Reloads%2]; ok && prev != body.Registry.Digest {
			t.Errorf("reload %d shows digest %s, an earlier reload of the same parity showed %s",
				body.Reload.Reloads, body.Registry.Digest, prev)
			break
		}
		seen[body.Reload.Reloads%2] = body.Registry.Digest
	}
	wg.Wait()
	if seen[0] == seen[1] {
		t.Fatalf("both variants show digest %s", seen[0])
	}
}
