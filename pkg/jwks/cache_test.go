package jwks

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stellaops/authgate/pkg/testkit/authoritytest"
)

// TestWithdrawnKeyRefused: the Authority removes a key; Run's periodic
// refresh drops it, so a token signed with it under its own kid is
// refused without any unknown-kid refresh and without a restart.
func TestWithdrawnKeyRefused(t *testing.T) {
	a := authoritytest.NewEmpty(t)
	old, cur := ecSigner(t, "old"), ecSigner(t, "cur")
	a.SetEntries(old.public(t, "ES256"), cur.public(t, "ES256"))
	ck := newClock()
	c := newCache(t, a, ck, func(cfg *Config) { cfg.RefreshInterval = 5 * time.Millisecond })
	tok := old.sign(t, "ES256", map[string]any{"sub": "x"})
	if _, err := c.Verify(context.Background(), tok); err != nil {
		t.Fatalf("before removal: %v", err)
	}
	a.SetEntries(cur.public(t, "ES256"))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx) }()
	defer func() { cancel(); <-done }()
	// Polled, with a bound only so that a regression fails instead of hanging.
	for deadline := time.Now().Add(30 * time.Second); c.Published("old"); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the withdrawn key is still trusted: no periodic refresh dropped it")
		}
	}
	if _, err := c.Verify(context.Background(), tok); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("after removal: err = %v, want ErrUnknownKey", err)
	}
}

// TestKeysDroppedAfterMaxStale: without a successful refresh for longer
// than MaxStale the keys are dropped and nothing verifies.
func TestKeysDroppedAfterMaxStale(t *testing.T) {
	a := authoritytest.NewEmpty(t)
	s := ecSigner(t, "k")
	a.SetEntries(s.public(t, "ES256"))
	ck := newClock()
	c := newCache(t, a, ck, nil)
	tok := s.sign(t, "ES256", map[string]any{})
	a.Fail(http.StatusInternalServerError)
	ck.Advance(59 * time.Minute)
	if _, err := c.Verify(context.Background(), tok); err != nil {
		t.Fatalf("within MaxStale: %v", err)
	}
	ck.Advance(2 * time.Minute)
	if c.Ready() {
		t.Fatal("still ready after MaxStale")
	}
	if _, err := c.Verify(context.Background(), tok); !errors.Is(err, ErrNotReady) {
		t.Fatalf("after MaxStale: err = %v, want ErrNotReady", err)
	}
}

// TestUnknownKidFloodFailingJWKS is the attack of unauthenticated callers
// with random kids while the JWKS endpoint fails: 200 concurrent lookups
// make one fetch per MinRefreshGap, not one each.
func TestUnknownKidFloodFailingJWKS(t *testing.T) {
	a := authoritytest.NewEmpty(t)
	a.SetEntries(ecSigner(t, "k").public(t, "ES256"))
	ck := newClock()
	c := newCache(t, a, ck, nil)
	a.Fail(http.StatusInternalServerError)
	ck.Advance(DefaultMinRefreshGap) // the initial load was the previous attempt
	before := a.JWKSFetches()
	flood(t, c, 200, nil)
	if n := a.JWKSFetches() - before; n != 1 {
		t.Fatalf("200 unknown kids against a failing JWKS made %d fetches, want 1", n)
	}
	ck.Advance(DefaultMinRefreshGap)
	flood(t, c, 200, nil)
	if n := a.JWKSFetches() - before; n != 2 {
		t.Fatalf("after one more interval: %d fetches in all, want 2", n)
	}
}

// TestUnknownKidFloodHangingJWKS: while the JWKS endpoint hangs, 200
// lookups hold one connection to the Authority, not 200.
func TestUnknownKidFloodHangingJWKS(t *testing.T) {
	a := authoritytest.NewEmpty(t)
	a.SetEntries(ecSigner(t, "k").public(t, "ES256"))
	ck := newClock()
	c := newCache(t, a, ck, nil)
	release := make(chan struct{})
	a.Hang(release)
	ck.Advance(DefaultMinRefreshGap)
	before := a.JWKSFetches()
	flood(t, c, 200, func() {
		<-a.Entered() // the one fetch reached the Authority
		close(release)
	})
	if n := a.JWKSFetches() - before; n != 1 {
		t.Fatalf("200 unknown kids against a hanging JWKS made %d fetches, want 1", n)
	}
	if m := a.MaxJWKSInFlight(); m != 1 {
		t.Fatalf("%d JWKS requests in flight at once, want 1", m)
	}
}

// flood looks up n random kids at once; once all have started, mid runs.
func flood(t *testing.T, c *Cache, n int, mid func()) {
	t.Helper()
	var started, done sync.WaitGroup
	started.Add(n)
	done.Add(n)
	for i := range n {
		go func() {
			defer done.Done()
			started.Done()
			if _, err := c.Key(context.Background(), fmt.Sprintf("random-%d", i)); !errors.Is(err, ErrUnknownKey) {
				t.Errorf("kid %d: err = %v, want ErrUnknownKey", i, err)
			}
		}()
	}
	started.Wait()
	if mid != nil {
		mid()
	}
	done.Wait()
}

// TestNewKidFetchedOnce: a rotated-in key is found by one shared refresh.
func TestNewKidFetchedOnce(t *testing.T) {
	a := authoritytest.NewEmpty(t)
	old, next := ecSigner(t, "old"), ecSigner(t, "next")
	a.SetEntries(old.public(t, "ES256"))
	ck := newClock()
	c := newCache(t, a, ck, nil)
	a.SetEntries(old.public(t, "ES256"), next.public(t, "ES256"))
	ck.Advance(DefaultMinRefreshGap)
	before := a.JWKSFetches()
	tok := next.sign(t, "ES256", map[string]any{})
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Verify(context.Background(), tok); err != nil {
				t.Errorf("rotated key: %v", err)
			}
		}()
	}
	wg.Wait()
	if n := a.JWKSFetches() - before; n != 1 {
		t.Fatalf("%d fetches, want 1", n)
	}
}

// TestDiscoveryIssuerMismatch: discovery must name the configured issuer.
func TestDiscoveryIssuerMismatch(t *testing.T) {
	a := authoritytest.NewEmpty(t)
	a.SetEntries(ecSigner(t, "k").public(t, "ES256"))
	c := New(Config{Issuer: "https://other.example.com", MetadataURL: a.MetadataURL()})
	if err := c.Refresh(context.Background()); err == nil || c.Ready() {
		t.Fatal("a discovery document naming another issuer was accepted")
	}
}
