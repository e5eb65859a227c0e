package authority_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stellaops/authgate/pkg/testkit/authoritytest"
	"github.com/stellaops/authgate/services/registry-token/internal/authority"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// reachability cuts the Authority off while down is set.
type reachability struct{ down atomic.Bool }

func (r *reachability) RoundTrip(req *http.Request) (*http.Response, error) {
	if r.down.Load() {
		return nil, errors.New("connection refused")
	}
	return http.DefaultTransport.RoundTrip(req)
}

// Keys that could not be refreshed for longer than MaxStale are dropped:
// nothing verifies, also OpToks verified before, and the client is not
// ready. The next successful refresh restores both.
func TestKeysAreDroppedAfterMaxStale(t *testing.T) {
	const maxStale = 24 * time.Hour
	ctx := context.Background()
	clk := &clock{t: time.Unix(1_750_000_000, 0)}
	auth := authoritytest.New(t)
	link := &reachability{}
	c := authority.New(authority.Config{
		HTTPClient: &http.Client{Transport: link},
		Issuer:     auth.Issuer, MetadataURL: auth.MetadataURL(), Audiences: []string{"registry"},
		ClockSkew: 30 * time.Second, RefreshInterval: time.Hour, MinRefreshGap: 10 * time.Second,
		MaxStale: maxStale, CacheSize: 100, Now: clk.Now,
	})
	// mint returns an OpTok issued now that lives for two days.
	mint := func() string {
		cl := auth.Claims("user-1", clk.Now())
		cl["exp"] = clk.Now().Add(48 * time.Hour).Unix()
		return auth.Mint(t, cl)
	}
	if err := c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	early := mint()
	if _, err := c.Validate(ctx, early); err != nil {
		t.Fatal(err)
	}

	// The Authority goes away: refreshes fail, the keys still serve until
	// maxStale after the last success.
	link.down.Store(true)
	for _, tc := range []struct {
		advance time.Duration
		ready   bool
	}{
		{advance: time.Hour, ready: true},
		{advance: maxStale - time.Hour, ready: true}, // exactly maxStale
		{advance: time.Second, ready: false},
		{advance: 30 * 24 * time.Hour, ready: false},
	} {
		clk.Add(tc.advance)
		if err := c.Refresh(ctx); err == nil {
			t.Fatal("refresh against the unreachable Authority succeeded")
		}
		late := mint()
		for name, tok := range map[string]string{"cached": early, "new": late} {
			_, err := c.Validate(ctx, tok)
			switch {
			case tc.ready && err != nil:
				t.Fatalf("+%s, %s OpTok: %v", tc.advance, name, err)
			case !tc.ready && !errors.Is(err, authority.ErrNotReady):
				t.Fatalf("+%s, %s OpTok: %v, want ErrNotReady", tc.advance, name, err)
			}
		}
		if c.Ready() != tc.ready {
			t.Fatalf("+%s: ready %v, want %v", tc.advance, c.Ready(), tc.ready)
		}
	}

	link.down.Store(false)
	if err := c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Validate(ctx, mint()); err != nil || !c.Ready() {
		t.Fatalf("after a successful refresh: ready %v, %v", c.Ready(), err)
	}
}
