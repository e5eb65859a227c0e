package token_test

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/stellaops/authgate/pkg/dpop"
)

// downStore is a replay store that cannot be reached (Redis down).
type downStore struct{}

func (downStore) Claim(context.Context, dpop.ReplayKey, time.Time) error {
	return errors.Join(dpop.ErrReplayStore, errors.New("dial tcp 127.0.0.1:6379: connection refused"))
}

// outages are the refusals caused by a dependency, each with its own
// reason so that an operator can tell them apart.
func outages() []rejection {
	valid := func(f *fixture) *http.Request {
		tok := f.mint(f.claims())
		return request(pullBase, "DPoP "+tok, f.proof(tok))
	}
	return []rejection{
		{name: "authority keys not loaded", opts: options{authorityDown: true}, build: valid,
			status: 503, code: "temporarily_unavailable", reason: "authority_unavailable"},
		{name: "replay store unreachable", build: valid, opts: options{
			replay: func(context.Context, func() time.Time) dpop.ReplayCache { return downStore{} }},
			status: 503, code: "temporarily_unavailable", reason: "replay_store_unavailable"},
		{name: "memory replay cache full", build: valid, opts: options{replay: fullMemoryCache},
			status: 503, code: "temporarily_unavailable", reason: "replay_cache_full"},
		{name: "client gone while the replay store fails", build: func(f *fixture) *http.Request {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return valid(f).WithContext(ctx)
		}, opts: options{replay: func(context.Context, func() time.Time) dpop.ReplayCache { return downStore{} }},
			status: 499, code: "client_closed_request", reason: "client_closed"},
	}
}

// fullMemoryCache is a one-entry memory cache already holding a proof.
func fullMemoryCache(ctx context.Context, now func() time.Time) dpop.ReplayCache {
	c := dpop.NewMemoryReplayCache(ctx, dpop.MemoryOptions{MaxEntries: 1, Now: now})
	if err := c.Claim(ctx, dpop.NewReplayKey("other", "GET", publicURL+"/token", "jti-0"), now().Add(time.Minute)); err != nil {
		panic(err)
	}
	return c
}
