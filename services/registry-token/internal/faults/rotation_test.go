package faults

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stellaops/authgate/pkg/testkit/proctest"
)

// refreshInterval is authority.jwksRefreshInterval in the scenarios'
// config (the smallest the service accepts, also its minimum gap between
// unknown-kid refreshes).
const refreshInterval = 10 * time.Second

// TestAuthorityKeyRotation is scenario 2: the Authority publishes a new
// key and removes the old one while clients request tokens; the clients
// move to OpToks signed with the new key. No valid request may fail for
// longer than one refresh, and OpToks signed with the removed key must be
// rejected afterwards, including ones the service verified before.
func TestAuthorityKeyRotation(t *testing.T) {
	fig := proctest.NewFigures("2")
	auth := startAuthority(t)
	rt := startRegistryToken(t, "registry-token", writeConfig(t, t.TempDir(), auth, rtConfig{}), "", "")
	realm := rt.URL + "/token"

	mint := func(n int) []*caller {
		cs := make([]*caller, n)
		for i := range cs {
			cs[i] = newCaller(t, auth.Authority, realm)
		}
		return cs
	}
	oldCallers := mint(8)
	unseenOld := newCaller(t, auth.Authority, realm) // signed by the old key, never presented before the rotation
	var current atomic.Pointer[[]*caller]
	current.Store(&oldCallers)
	var rotatedAt atomic.Int64
	rotatedAt.Store(1 << 62)

	client := newClient(16)
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), proctest.Pick(scale, 2*time.Minute, 10*time.Minute))
	defer cancel()
	var (
		wg         sync.WaitGroup
		next       atomic.Int64
		mu         sync.Mutex
		firstNewOK time.Time
	)
	step := proctest.Pick[int64](scale, 500, 5_000)
	for w := range 8 {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := next.Add(1)
				if i > 1000*step {
					return
				}
				callers := *current.Load()
				isNew := callers[0] != oldCallers[0]
				c := callers[w%len(callers)]
				an := requestToken(ctx, client, rt.URL, c, c.proof(t))
				if ctx.Err() != nil {
					return
				}
				fig.Sent()
				switch {
				case an.Err == nil && an.Status == http.StatusOK:
					fig.Allowed()
					if isNew {
						fig.Served(an.At)
						mu.Lock()
						if firstNewOK.IsZero() {
							firstNewOK = an.At
						}
						mu.Unlock()
					}
				case an.Err == nil && an.Status == http.StatusUnauthorized && an.Code == "invalid_token":
					fig.Denied()
					switch {
					case isNew:
						// A valid OpTok refused until the new key is fetched;
						// the client backs off a little before retrying.
						fig.Disrupted(an.Start)
						time.Sleep(5 * time.Millisecond)
					case an.Start.UnixNano() < rotatedAt.Load():
						fig.Lost()
						t.Errorf("request %d with a valid OpTok refused before the rotation: %.200s", i, an.Body)
					}
				default:
					fig.Denied()
					fig.Lost()
					t.Errorf("request %d: status %d err %v: %.200s", i, an.Status, an.Err, an.Body)
				}
			}
		})
	}
	sent := func() int64 { s, _, _, _ := fig.Counts(); return s }
	waitFor(t, time.Minute, "load before the rotation", func() bool { return sent() >= step })

	oldKid := auth.KeyIDs()[0]
	newKid, err := auth.Rotate(true)
	if err != nil {
		t.Fatal(err)
	}
	rotated := time.Now()
	rotatedAt.Store(rotated.UnixNano())
	newCallers := mint(8) // clients fetch new OpToks, signed with the new key
	current.Store(&newCallers)
	waitFor(t, refreshInterval+10*time.Second, "tokens for OpToks signed with the new key", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return !firstNewOK.IsZero()
	})
	at := sent()
	waitFor(t, time.Minute, "load after the rotation", func() bool { return sent() >= at+step })
	cancel()
	wg.Wait()

	if d := fig.LongestDisruption(); d > refreshInterval+5*time.Second {
		t.Errorf("valid requests failed for %s, longer than one refresh (%s)", d, refreshInterval)
	}
	// OpToks signed with the removed key: one never seen, and one the
	// service verified (and cached) before the rotation.
	for name, c := range map[string]*caller{"unseen": unseenOld, "verified before": oldCallers[0]} {
		an := requestToken(context.Background(), client, rt.URL, c, c.proof(t))
		fig.Sent()
		if an.Status == http.StatusOK {
			fig.Allowed()
			fig.Lost()
			t.Errorf("OpTok signed with the removed key (%s) still accepted after the rotation", name)
		} else {
			fig.Denied()
			if an.Status != http.StatusUnauthorized || an.Code != "invalid_token" {
				t.Errorf("OpTok signed with the removed key (%s): status %d %s", name, an.Status, an.Code)
			}
		}
	}
	mu.Lock()
	t.Logf("rotated %s -> %s; first token for a new-key OpTok %s after the rotation", oldKid[:8], newKid[:8], firstNewOK.Sub(rotated).Round(time.Millisecond))
	mu.Unlock()
	fig.Log(t)
}
