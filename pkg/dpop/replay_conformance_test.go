package dpop

import (
	"context"
	"crypto/rand"
	"errors"
	"sync"
	"testing"
	"time"
)

// testReplayCache is the conformance suite every ReplayCache must pass.
// newCache returns an empty cache that uses the real clock.
func testReplayCache(t *testing.T, newCache func(t *testing.T) ReplayCache) {
	ctx := context.Background()
	randomKey := func() ReplayKey {
		var k ReplayKey
		_, _ = rand.Read(k[:])
		return k
	}

	t.Run("claim once", func(t *testing.T) {
		c := newCache(t)
		k := randomKey()
		exp := time.Now().Add(time.Minute)
		if err := c.Claim(ctx, k, exp); err != nil {
			t.Fatalf("first claim: %v", err)
		}
		for range 3 {
			if err := c.Claim(ctx, k, exp); !errors.Is(err, ErrReplayed) {
				t.Fatalf("second claim: %v, want ErrReplayed", err)
			}
		}
		if err := c.Claim(ctx, randomKey(), exp); err != nil {
			t.Fatalf("claim of another key: %v", err)
		}
	})

	t.Run("kept until expiry, then released", func(t *testing.T) {
		c := newCache(t)
		k := randomKey()
		exp := time.Now().Add(300 * time.Millisecond)
		if err := c.Claim(ctx, k, exp); err != nil {
			t.Fatal(err)
		}
		// Poll: every claim before the expiry must be a replay, and the
		// key must become claimable after it.
		deadline := time.Now().Add(10 * time.Second)
		for {
			before := time.Now()
			err := c.Claim(ctx, k, time.Now().Add(time.Minute))
			if err == nil {
				if before.Before(exp) {
					t.Fatalf("key released at %v, before its expiry %v", before, exp)
				}
				return
			}
			if !errors.Is(err, ErrReplayed) {
				t.Fatalf("claim: %v", err)
			}
			if time.Now().After(deadline) {
				t.Fatal("key never released")
			}
			time.Sleep(20 * time.Millisecond)
		}
	})

	t.Run("already expired claim is not stored", func(t *testing.T) {
		c := newCache(t)
		k := randomKey()
		if err := c.Claim(ctx, k, time.Now().Add(-time.Second)); err != nil {
			t.Fatalf("claim with past expiry: %v", err)
		}
		if err := c.Claim(ctx, k, time.Now().Add(time.Minute)); err != nil {
			t.Fatalf("claim after past-expiry claim: %v", err)
		}
	})

	t.Run("concurrent claims of one key: exactly one wins", func(t *testing.T) {
		c := newCache(t)
		k := randomKey()
		exp := time.Now().Add(time.Minute)
		const n = 64
		var (
			wg      sync.WaitGroup
			start   = make(chan struct{})
			mu      sync.Mutex
			wins    int
			replays int
		)
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				err := c.Claim(ctx, k, exp)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					wins++
				case errors.Is(err, ErrReplayed):
					replays++
				default:
					t.Errorf("claim: %v", err)
				}
			}()
		}
		close(start)
		wg.Wait()
		if wins != 1 || replays != n-1 {
			t.Fatalf("wins=%d replays=%d, want 1 and %d", wins, replays, n-1)
		}
	})

	t.Run("flood does not push out earlier entries", func(t *testing.T) {
		c := newCache(t)
		exp := time.Now().Add(time.Minute)
		keys := make([]ReplayKey, 1500)
		for i := range keys {
			keys[i] = randomKey()
			if err := c.Claim(ctx, keys[i], exp); err != nil {
				t.Fatalf("claim %d: %v", i, err)
			}
		}
		for i, k := range keys {
			if err := c.Claim(ctx, k, exp); !errors.Is(err, ErrReplayed) {
				t.Fatalf("replay of key %d after the flood: %v", i, err)
			}
		}
	})

	t.Run("cancelled context fails closed", func(t *testing.T) {
		c := newCache(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		err := c.Claim(cctx, randomKey(), time.Now().Add(time.Minute))
		if err == nil || errors.Is(err, ErrReplayed) || !errors.Is(err, ErrReplayStore) {
			t.Fatalf("claim with cancelled context: %v, want ErrReplayStore", err)
		}
	})
}

// testVerifierReplay runs the replay scenarios of the issue through a
// Verifier on the given cache. The verifier clock is fake but starts at
// the real time, because Redis expires keys by its own clock; a cache
// that can take a clock (memory) gets the fake one.
func testVerifierReplay(t *testing.T, newCache func(t *testing.T, now func() time.Time) ReplayCache) {
	ctx := context.Background()
	setup := func(t *testing.T) (*Verifier, *clock, time.Time) {
		base := time.Now().Truncate(time.Second)
		ck := newClock(base)
		v, err := NewVerifier(Config{PublicBaseURL: testBaseURL, Replay: newCache(t, ck.Now), Now: ck.Now})
		if err != nil {
			t.Fatal(err)
		}
		return v, ck, base
	}
	proofAt := func(t *testing.T, iat time.Time) string {
		return makeProof(t, func(p *proofSpec) { p.claims["iat"] = iat.Unix() })
	}
	isReplay := func(err error) bool { return errors.Is(err, ErrInvalidDPoPProof) && errors.Is(err, ErrReplayed) }

	t.Run("same proof twice", func(t *testing.T) {
		v, _, base := setup(t)
		proof := proofAt(t, base)
		if _, err := v.Verify(ctx, request(proof)); err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(ctx, request(proof)); !isReplay(err) {
			t.Fatalf("replay: %v", err)
		}
	})

	t.Run("replay at the window edge", func(t *testing.T) {
		v, ck, base := setup(t)
		proof := proofAt(t, base)
		if _, err := v.Verify(ctx, request(proof)); err != nil {
			t.Fatal(err)
		}
		// The last instant the iat check still passes: the cache must
		// still hold the proof.
		ck.Set(base.Add(DefaultMaxAge + DefaultClockSkew))
		if _, err := v.Verify(ctx, request(proof)); !isReplay(err) {
			t.Fatalf("replay at the edge: %v", err)
		}
		// One moment later the iat check rejects it by itself.
		ck.Advance(time.Nanosecond)
		if _, err := v.Verify(ctx, request(proof)); !errors.Is(err, ErrInvalidDPoPProof) || errors.Is(err, ErrReplayed) {
			t.Fatalf("after the edge: %v, want too old", err)
		}
	})

	t.Run("replay of a proof with iat in the future", func(t *testing.T) {
		v, ck, base := setup(t)
		proof := proofAt(t, base.Add(DefaultClockSkew))
		if _, err := v.Verify(ctx, request(proof)); err != nil {
			t.Fatal(err)
		}
		// The entry lives until iat + maxAge + skew, later than
		// now + maxAge + skew would have been.
		ck.Set(base.Add(DefaultMaxAge + 2*DefaultClockSkew))
		if _, err := v.Verify(ctx, request(proof)); !isReplay(err) {
			t.Fatalf("replay of future-dated proof: %v", err)
		}
	})

	t.Run("replay after flooding with 1200 other proofs", func(t *testing.T) {
		v, _, base := setup(t)
		first := proofAt(t, base)
		if _, err := v.Verify(ctx, request(first)); err != nil {
			t.Fatal(err)
		}
		for i := range 1200 {
			if _, err := v.Verify(ctx, request(proofAt(t, base))); err != nil {
				t.Fatalf("flood proof %d: %v", i, err)
			}
		}
		if _, err := v.Verify(ctx, request(first)); !isReplay(err) {
			t.Fatalf("replay after flood: %v", err)
		}
	})

	t.Run("concurrent copies of one proof: exactly one accepted", func(t *testing.T) {
		v, _, base := setup(t)
		proof := proofAt(t, base)
		const n = 32
		var (
			wg       sync.WaitGroup
			start    = make(chan struct{})
			mu       sync.Mutex
			accepted int
		)
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, err := v.Verify(ctx, request(proof))
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					accepted++
				} else if !isReplay(err) {
					t.Errorf("copy rejected for another reason: %v", err)
				}
			}()
		}
		close(start)
		wg.Wait()
		if accepted != 1 {
			t.Fatalf("%d copies accepted, want exactly 1", accepted)
		}
	})

	t.Run("replay key covers htm and htu", func(t *testing.T) {
		// The same jti and key for another request is not a replay of the
		// first one: the key is hash(jkt, htm, htu, jti).
		v, _, base := setup(t)
		jti := randomJTI()
		get := makeProof(t, func(p *proofSpec) { p.claims["jti"], p.claims["iat"] = jti, base.Unix() })
		post := makeProof(t, func(p *proofSpec) {
			p.claims["jti"], p.claims["iat"], p.claims["htm"] = jti, base.Unix(), "POST"
		})
		if _, err := v.Verify(ctx, request(get)); err != nil {
			t.Fatal(err)
		}
		r := request(post)
		r.Method = "POST"
		if _, err := v.Verify(ctx, r); err != nil {
			t.Fatalf("same jti, other method: %v", err)
		}
	})
}
