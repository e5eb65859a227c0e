package dpop

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/authgate/pkg/testkit/redistest"
)

// epochStore is one replay backend for testReplayEpoch: the cache to
// verify with, and a way to lose its entries (a restart) that returns the
// cache to use afterwards.
type epochStore struct {
	cache   EpochReplayCache
	restart func(t *testing.T) EpochReplayCache
}

// testReplayEpoch is the restart scenario, run on both backends: a proof
// is used, the store loses its entries, and the same proof is replayed.
// The clock is fake but starts at the real time, because Redis expires
// keys by its own clock.
func testReplayEpoch(t *testing.T, newStore func(t *testing.T, now func() time.Time) epochStore) {
	ctx := context.Background()
	base := time.Now().Truncate(time.Second)
	ck := newClock(base)
	st := newStore(t, ck.Now)
	nonces := must(NewHMACNonces(testNonceKey, DefaultNonceLifetime))
	newVerifier := func(c EpochReplayCache) *Verifier {
		v, err := NewVerifier(Config{PublicBaseURL: testBaseURL, Replay: c, ReplayEpoch: true, Nonces: nonces, Now: ck.Now})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	proofNow := func(nonce string) string {
		return makeProof(t, func(p *proofSpec) {
			p.claims["iat"] = ck.Now().Unix()
			if nonce != "" {
				p.claims["nonce"] = nonce
			}
		})
	}
	v := newVerifier(st.cache)

	// Right after the epoch starts, a fresh proof is answered with a
	// nonce, and the proof that carries it passes: no request fails
	// beyond the one retry RFC 9449 provides for.
	nonce := epochNonce(t, "fresh proof at the epoch", v, proofNow(""))
	withNonce := proofNow(nonce)
	if _, err := v.Verify(ctx, request(withNonce)); err != nil {
		t.Fatalf("fresh proof with the nonce: %v", err)
	}
	ck.Advance(DefaultClockSkew - time.Second)
	epochNonce(t, "proof dated one second before epoch+skew", v, proofNow(""))
	ck.Advance(time.Second)
	captured := proofNow("") // dated exactly epoch+skew: accepted without a nonce
	if _, err := v.Verify(ctx, request(captured)); err != nil {
		t.Fatalf("first use: %v", err)
	}
	for _, p := range []string{captured, withNonce} {
		if _, err := v.Verify(ctx, request(p)); !errors.Is(err, ErrReplayed) {
			t.Fatalf("replay before the restart: %v, want ErrReplayed", err)
		}
	}

	ck.Advance(2 * time.Second)
	v = newVerifier(st.restart(t))
	for i := range 2 {
		epochNonce(t, fmt.Sprintf("replay %d after the restart", i), v, captured)
		epochNonce(t, fmt.Sprintf("replay %d of the proof with a nonce of the old epoch", i), v, withNonce)
	}
	// A fresh proof with the old epoch's nonce is refused too; with the
	// nonce the refusal hands out it passes, once.
	nonce = epochNonce(t, "fresh proof with a nonce of the old epoch", v, proofNow(nonce))
	fresh := proofNow(nonce)
	if _, err := v.Verify(ctx, request(fresh)); err != nil {
		t.Fatalf("fresh proof with a nonce of the new epoch: %v", err)
	}
	if _, err := v.Verify(ctx, request(fresh)); !errors.Is(err, ErrReplayed) {
		t.Fatalf("replay of the new proof: %v, want ErrReplayed", err)
	}
	ck.Advance(DefaultClockSkew)
	if _, err := v.Verify(ctx, request(proofNow(""))); err != nil {
		t.Fatalf("new proof after the window: %v", err)
	}
	epochNonce(t, "captured proof at the end", v, captured)
}

// epochNonce verifies proof, expects the epoch's 401 use_dpop_nonce, and
// returns the nonce it carries.
func epochNonce(t *testing.T, what string, v *Verifier, proof string) string {
	t.Helper()
	_, err := v.Verify(context.Background(), request(proof))
	var e *Error
	if !errors.Is(err, ErrUseDPoPNonce) || !errors.Is(err, ErrProofBeforeEpoch) || !errors.As(err, &e) || e.Status != 401 || e.Nonce == "" {
		t.Fatalf("%s: %#v, want a 401 use_dpop_nonce with a nonce (before the epoch)", what, err)
	}
	return e.Nonce
}

func TestMemoryReplayEpoch(t *testing.T) {
	testReplayEpoch(t, func(t *testing.T, now func() time.Time) epochStore {
		start := func(t *testing.T) EpochReplayCache {
			c := NewMemoryReplayCache(context.Background(), MemoryOptions{Now: now})
			t.Cleanup(func() { _ = c.Close() })
			if !c.Epoch().Equal(now()) {
				t.Fatalf("epoch %v, want the start %v", c.Epoch(), now())
			}
			return c
		}
		return epochStore{cache: start(t), restart: start}
	})
}

func TestRedisReplayEpoch(t *testing.T) {
	for _, loss := range []string{"restart", "FLUSHALL", "marker deleted"} {
		t.Run(loss, func(t *testing.T) {
			srv := redistest.Start(t)
			client := newRedisClient(t, srv)
			testReplayEpoch(t, func(t *testing.T, now func() time.Time) epochStore {
				c := NewRedisReplayCache(client, "").WithClock(now)
				if _, err := c.Epoch(context.Background()); err != nil { // begins the epoch, as a service does at start
					t.Fatal(err)
				}
				return epochStore{cache: c, restart: func(t *testing.T) EpochReplayCache {
					switch loss {
					case "restart":
						srv.Restart()
						waitRedis(t, c)
					case "FLUSHALL":
						if err := client.FlushAll(context.Background()).Err(); err != nil {
							t.Fatal(err)
						}
					default:
						if err := client.Del(context.Background(), DefaultRedisKeyPrefix+RedisEpochKey).Err(); err != nil {
							t.Fatal(err)
						}
					}
					return c
				}}
			})
		})
	}
}

// waitRedis polls until a restarted Redis answers through the client's
// pool (connections to the old process fail once each).
func waitRedis(t *testing.T, c *RedisReplayCache) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := c.client.Ping(context.Background()).Err()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis not back: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRedisEpochMarkerGarbageFailsClosed(t *testing.T) {
	srv := redistest.Start(t)
	client := newRedisClient(t, srv)
	ctx := context.Background()
	c := NewRedisReplayCache(client, "")
	for _, v := range []string{"yesterday", "-5", "1e12", "12/no-id"} {
		if err := client.Set(ctx, DefaultRedisKeyPrefix+RedisEpochKey, v, 0).Err(); err != nil {
			t.Fatal(err)
		}
		var k ReplayKey
		k[0] = v[0]
		_, err := c.ClaimEpoch(ctx, k, time.Now().Add(time.Minute))
		if !errors.Is(err, ErrReplayStore) {
			t.Fatalf("marker %q: %v, want ErrReplayStore", v, err)
		}
	}
}

func TestReplayEpochNeedsEpochCache(t *testing.T) {
	_, err := NewVerifier(Config{PublicBaseURL: testBaseURL, Replay: plainCache{}, ReplayEpoch: true})
	if err == nil {
		t.Fatal("ReplayEpoch accepted with a cache that keeps no epoch")
	}
	if _, err := NewVerifier(Config{PublicBaseURL: testBaseURL, Replay: plainCache{}}); err != nil {
		t.Fatalf("a plain ReplayCache without ReplayEpoch: %v", err)
	}
}

// TestMemoryEpochOff: without Config.ReplayEpoch a fresh proof is
// accepted at once (the behaviour for verifiers that do not opt in).
func TestMemoryEpochOff(t *testing.T) {
	ck := newClock(testNow)
	c := NewMemoryReplayCache(context.Background(), MemoryOptions{Now: ck.Now})
	t.Cleanup(func() { _ = c.Close() })
	v, err := NewVerifier(Config{PublicBaseURL: testBaseURL, Replay: c, Now: ck.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), request(makeProof(t, nil))); err != nil {
		t.Fatal(err)
	}
}

type plainCache struct{}

func (plainCache) Claim(context.Context, ReplayKey, time.Time) error { return nil }

// TestEpochNonceNegative: in the window after a new epoch, only a valid
// nonce of this source issued since the epoch lets a proof through.
func TestEpochNonceNegative(t *testing.T) {
	ck := newClock(testNow)
	c := NewMemoryReplayCache(context.Background(), MemoryOptions{Now: ck.Now})
	t.Cleanup(func() { _ = c.Close() })
	nonces := must(NewHMACNonces(testNonceKey, time.Minute))
	other := must(NewHMACNonces([]byte(strings.Repeat("o", 32)), time.Minute))
	v := must(NewVerifier(Config{PublicBaseURL: testBaseURL, Replay: c, ReplayEpoch: true, Nonces: nonces, Now: ck.Now}))
	valid := must(nonces.NewNonce(testNow))
	for _, tc := range []struct {
		name, nonce string
		ok          bool
	}{
		{"valid, issued at the epoch", valid, true},
		{"missing", "", false},
		{"malformed", "not a nonce!", false},
		{"truncated", valid[:len(valid)-1], false},
		{"tag flipped", valid[:len(valid)-1] + flip(valid[len(valid)-1]), false},
		{"from another key", must(other.NewNonce(testNow)), false},
		{"issued before the epoch (replayed across epochs)", must(nonces.NewNonce(testNow.Add(-time.Millisecond))), false},
		{"expired", must(nonces.NewNonce(testNow.Add(-2 * time.Minute))), false},
		{"issued too far in the future", must(nonces.NewNonce(testNow.Add(time.Minute))), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proof := makeProof(t, func(p *proofSpec) {
				if tc.nonce != "" {
					p.claims["nonce"] = tc.nonce
				}
			})
			if tc.ok {
				if _, err := v.Verify(context.Background(), request(proof)); err != nil {
					t.Fatal(err)
				}
				return
			}
			epochNonce(t, tc.name, v, proof)
		})
	}
}

// TestNonceKeyRotation: nonces of every key of the ring pass, new ones
// come from the first.
func TestNonceKeyRotation(t *testing.T) {
	oldKey, newKey := testNonceKey, []byte(strings.Repeat("n", 32))
	before := must(NewHMACNonces(oldKey, time.Minute))
	during := must(NewHMACNonces(newKey, time.Minute, oldKey))
	after := must(NewHMACNonces(newKey, time.Minute))
	n := must(before.NewNonce(testNow))
	if !checks(during, n) {
		t.Fatal("a nonce of the old key is refused during the rotation")
	}
	if checks(after, n) {
		t.Fatal("a nonce of the dropped key is accepted")
	}
	if m := must(during.NewNonce(testNow)); !checks(after, m) || checks(before, m) {
		t.Fatal("nonces are not issued with the first key")
	}
}
