package jwks

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stellaops/authgate/pkg/testkit/authoritytest"
)

// TestUnknownKidWaitBounded (finding: a request naming an unknown kid
// waited up to 10 s while the JWKS endpoint hung, and a new fetch started
// as soon as one timed out): against a JWKS that never answers, a lookup
// is refused (ErrUnknownKey, invalid_token) after UnknownKidWait while
// the one fetch is still in flight; other kids share that fetch; a kid
// found unknown is refused at once for UnknownKidTTL without waiting
// again; and after the fetch times out no other starts before
// MinRefreshGap has passed since its end.
func TestUnknownKidWaitBounded(t *testing.T) {
	a := authoritytest.NewEmpty(t)
	a.SetEntries(ecSigner(t, "k").public(t, "ES256"))
	ck := newClock()
	// The fetch outlives every lookup: it ends when the test releases the
	// JWKS (or after 30 s, when a lookup that waited for it finds it gone).
	c := newCache(t, a, ck, func(cfg *Config) {
		cfg.UnknownKidWait = 20 * time.Millisecond
		cfg.UnknownKidTTL = time.Minute
		cfg.FetchTimeout = 30 * time.Second
	})
	release := make(chan struct{})
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	a.Hang(release)
	ck.Advance(DefaultMinRefreshGap)
	before := a.JWKSFetches()

	if _, err := c.Key(context.Background(), "unknown-1"); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("first lookup: err = %v, want ErrUnknownKey", err)
	}
	<-a.Entered()
	if !c.fetching() {
		t.Fatal("the lookup returned only once the fetch ended: its wait is not bounded")
	}
	// Another kid joins the hanging fetch and is refused after its own
	// bounded wait, without a second fetch.
	if _, err := c.Key(context.Background(), "unknown-2"); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("second kid: err = %v, want ErrUnknownKey", err)
	}
	if !c.fetching() || a.JWKSFetches()-before != 1 {
		t.Fatalf("after two kids: fetching %v, %d fetches, want the one still in flight", c.fetching(), a.JWKSFetches()-before)
	}
	// The refused kids are refused at once now (negative cache), even with
	// the fetch gone and the gap past: no fetch, no wait.
	close(release)
	c.waitFetched(t)
	later := make(chan struct{}) // a later fetch hangs until the test ends
	a.Hang(later)
	t.Cleanup(func() { close(later) })
	ck.Advance(DefaultMinRefreshGap)
	n := a.JWKSFetches()
	for range 100 {
		if _, err := c.Key(context.Background(), "unknown-1"); !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("remembered kid: err = %v, want ErrUnknownKey", err)
		}
	}
	if got := a.JWKSFetches() - n; got != 0 {
		t.Fatalf("a remembered unknown kid made %d fetches, want 0", got)
	}
	// Past UnknownKidTTL the kid is looked up again.
	ck.Advance(time.Minute)
	if _, err := c.Key(context.Background(), "unknown-1"); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("after the TTL: err = %v, want ErrUnknownKey", err)
	}
	if got := a.JWKSFetches() - n; got != 1 {
		t.Fatalf("after the TTL: %d fetches, want 1", got)
	}
}

// TestNoFetchRightAfterATimedOutOne: a fetch that hangs until
// FetchTimeout is not followed at once by another: the gap runs from its
// end.
func TestNoFetchRightAfterATimedOutOne(t *testing.T) {
	a := authoritytest.NewEmpty(t)
	a.SetEntries(ecSigner(t, "k").public(t, "ES256"))
	ck := newClock()
	c := newCache(t, a, ck, func(cfg *Config) {
		cfg.UnknownKidWait = time.Millisecond
		cfg.FetchTimeout = 50 * time.Millisecond
	})
	release := make(chan struct{})
	defer close(release)
	a.Hang(release)
	ck.Advance(DefaultMinRefreshGap)
	if _, err := c.Key(context.Background(), "a"); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("err = %v", err)
	}
	// The fetch started at the clock's time; it times out in real time
	// while the injected clock stands still: then its end is the gap's
	// start.
	ck.Advance(DefaultMinRefreshGap - time.Second)
	c.waitFetched(t)
	ck.Advance(2 * time.Second) // past the gap from the start, not from the end
	n := a.JWKSFetches()
	if _, err := c.Key(context.Background(), "b"); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("err = %v", err)
	}
	if got := a.JWKSFetches() - n; got != 0 {
		t.Fatalf("%d fetches right after one timed out, want 0", got)
	}
}

// fetching reports whether a fetch is in flight.
func (c *Cache) fetching() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.inflight != nil
}

// waitFetched waits for the fetch in flight to end.
func (c *Cache) waitFetched(t *testing.T) {
	t.Helper()
	c.mu.Lock()
	f := c.inflight
	c.mu.Unlock()
	if f != nil {
		<-f.done
	}
}
