package faults

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stellaops/authgate/pkg/testkit/proctest"
	"github.com/stellaops/authgate/services/registry-token/internal/devauthority"
)

// TestAuthorityUnreachable is scenario 3: the Authority is down when
// registry-token starts (not ready, every request refused), comes up
// (ready, tokens issued), goes down again mid-run (the cached JWKS keeps
// verifying OpToks signed with known keys; nothing that cannot be
// verified is accepted, also after a failed refresh), and comes back
// (a key published meanwhile is fetched on demand).
func TestAuthorityUnreachable(t *testing.T) {
	fig := proctest.NewFigures("3")
	auth := startAuthority(t)
	auth.Down()
	rt := startRegistryToken(t, "registry-token", writeConfig(t, t.TempDir(), auth, rtConfig{}), "", "/healthz")
	realm := rt.URL + "/token"
	client := newClient(8)
	defer client.CloseIdleConnections()
	n := proctest.Pick(scale, 200, 2_000)

	// burst sends n requests from 8 workers, each from callers(i), and
	// classifies them: want is the expected outcome ("ok", or the error
	// code of a refusal).
	burst := func(phase string, callers func(i int) *caller, want string) {
		var ok, refused int
		var mu sync.Mutex
		var wg sync.WaitGroup
		next := make(chan int)
		go func() {
			for i := range n {
				next <- i
			}
			close(next)
		}()
		for range 8 {
			wg.Go(func() {
				for i := range next {
					c := callers(i)
					an := requestToken(context.Background(), client, rt.URL, c, c.proof(t))
					fig.Sent()
					got := an.Code
					if an.Status == http.StatusServiceUnavailable {
						got += "/" + an.Reason
					}
					if an.Status == http.StatusOK && an.Token != "" {
						got = "ok"
						fig.Allowed()
						fig.Served(an.At)
					} else {
						fig.Denied()
					}
					if an.Err != nil || got != want {
						fig.Lost()
						t.Errorf("%s: request %d: want %s, got status %d %s err %v: %.200s", phase, i, want, an.Status, got, an.Err, an.Body)
					}
					mu.Lock()
					if got == "ok" {
						ok++
					} else {
						refused++
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		t.Logf("%s: %d issued, %d refused", phase, ok, refused)
	}
	fresh := func(opts ...devauthority.MintOption) func(int) *caller {
		return func(int) *caller { return newCaller(t, auth.Authority, realm, opts...) }
	}

	// 1. Down at start: not ready, nothing issued.
	if s := readyStatus(rt.URL); s != http.StatusServiceUnavailable {
		t.Errorf("/readyz with the Authority down at start: %d, want 503", s)
	}
	burst("down at start", fresh(), "temporarily_unavailable/authority_unavailable")
	if r := rejected(t, rt)["authority_unavailable"]; r != float64(n) {
		t.Errorf("registry_token_rejected_total{reason=authority_unavailable} = %v, want %d", r, n)
	}

	// 2. Up: ready once the keys are fetched (the retry runs every 2 s).
	auth.Up(t)
	up := time.Now()
	waitFor(t, 15*time.Second, "/readyz after the Authority came up", func() bool { return readyStatus(rt.URL) == http.StatusOK })
	ready := time.Now()
	fig.Disruption(ready.Sub(up))
	burst("up", fresh(), "ok")

	// 3. Down mid-run: OpToks signed with the published key, never seen
	// before, still verify with the cached keys, also after a periodic
	// refresh failed; nothing unverifiable is accepted.
	auth.Down()
	burst("down mid-run, known key", fresh(), "ok")
	if s := readyStatus(rt.URL); s != http.StatusOK {
		t.Errorf("/readyz with cached keys and the Authority down: %d, want 200", s)
	}
	burst("down mid-run, unpublished key", fresh(devauthority.WithUnpublishedKey()), "invalid_token")
	known := auth.KeyIDs()[0]
	burst("down mid-run, known kid but another key", fresh(devauthority.WithUnpublishedKey(), devauthority.WithHeader("kid", known)), "invalid_token")
	newKid, err := auth.Rotate(false) // published while registry-token cannot see it
	if err != nil {
		t.Fatal(err)
	}
	burst("down mid-run, new kid", fresh(), "invalid_token")
	waitFor(t, refreshInterval+15*time.Second, "a periodic JWKS refresh failing", func() bool {
		return strings.Contains(rt.Stderr(), "authority keys refresh failed")
	})
	burst("down mid-run after a failed refresh, new kid", fresh(), "invalid_token")

	// 4. Back: the new kid is fetched on demand (at most one refresh
	// later).
	auth.Up(t)
	back := time.Now()
	var firstOK time.Time
	waitFor(t, refreshInterval+15*time.Second, "a token for the key published while the Authority was down", func() bool {
		c := newCaller(t, auth.Authority, realm)
		an := requestToken(context.Background(), client, rt.URL, c, c.proof(t))
		fig.Sent()
		if an.Status == http.StatusOK {
			fig.Allowed()
			firstOK = an.At
			return true
		}
		fig.Denied()
		if an.Code != "invalid_token" {
			fig.Lost()
			t.Errorf("while the new key is fetched: status %d %s", an.Status, an.Code)
		}
		time.Sleep(50 * time.Millisecond) // client back-off between retries
		return false
	})
	fig.Disruption(firstOK.Sub(back))
	burst("back", fresh(), "ok")
	t.Logf("ready %s after the Authority came up; new kid %s verified %s after it came back",
		ready.Sub(up).Round(time.Millisecond), newKid[:8], firstOK.Sub(back).Round(time.Millisecond))
	fig.Log(t)
}
