package app

import (
	"context"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/redis/go-redis/v9"

	"github.com/stellaops/authgate/pkg/dpop"
	"github.com/stellaops/authgate/pkg/testkit/authoritytest"
	"github.com/stellaops/authgate/pkg/testkit/redistest"
	"github.com/stellaops/authgate/services/flex-auth/internal/config"
)

// TestCallerProofAfterEpoch: caller proofs used before flex-auth lost its
// replay entries (a restart on the memory cache, FLUSHALL on Redis) are
// refused afterwards, and a caller on pkg/dpop.Transport (one retry on
// use_dpop_nonce) sees no failed request.
func TestCallerProofAfterEpoch(t *testing.T) {
	auth := authoritytest.New(t)
	publicURL := "https://flex-auth.example.com"
	key := authoritytest.NewKey(t)
	jkt, err := dpop.Thumbprint(key)
	if err != nil {
		t.Fatal(err)
	}
	tok := token(t, auth, "flex-auth.check", map[string]any{"jkt": jkt})

	for _, loss := range []string{"restart (memory)", "FLUSHALL (redis)"} {
		t.Run(loss, func(t *testing.T) {
			cfg := writeAuthConfig(t, auth.Issuer, publicURL)
			var rd *redistest.Server
			if strings.Contains(loss, "redis") {
				rd = redistest.Start(t)
				f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
				if err != nil {
					t.Fatal(err)
				}
				_, _ = f.WriteString("  replayCache:\n    backend: redis\n    redisUrl: " + rd.URL() + "\n")
				_ = f.Close()
			}
			in := start(t, "--config", cfg)
			in.waitReady(t)
			caller := newCaller(in.url, publicURL, tok, key)
			var used []string
			for range 3 {
				if code := caller.check(t); code != http.StatusOK {
					t.Fatalf("before: %d", code)
				}
				used = append(used, caller.last)
			}

			var flushed time.Time
			if rd != nil {
				rc := redis.NewClient(&redis.Options{Addr: rd.Addr})
				if err := rc.FlushAll(context.Background()).Err(); err != nil {
					t.Fatal(err)
				}
				flushed = time.Now()
				_ = rc.Close()
			} else {
				in.stop()
				in = start(t, "--config", cfg)
				in.waitReady(t)
				caller.base = in.url
			}
			for i, p := range used {
				if code := send(t, in.url, tok, p); code != http.StatusUnauthorized {
					t.Fatalf("replay %d of a proof used before: %d, want 401", i, code)
				}
			}
			challenged := caller.challenges
			checkedAt := time.Now()
			for range 3 {
				if code := caller.check(t); code != http.StatusOK {
					t.Fatalf("a caller on dpop.Transport after the %s: %d", loss, code)
				}
			}
			// After FLUSHALL the first check falls in the new epoch's
			// window (unless the machine took longer than the skew to get
			// there): it was answered use_dpop_nonce, and the transport's
			// retry with the nonce passed.
			if !flushed.IsZero() {
				switch {
				case checkedAt.Sub(flushed) < config.DefaultDPoPClockSkew-time.Second && caller.challenges == challenged:
					t.Fatal("no use_dpop_nonce challenge after FLUSHALL: the retry was not exercised")
				case caller.challenges > challenged+1:
					t.Fatalf("%d nonce challenges after FLUSHALL, want 1 (the transport keeps the latest nonce)", caller.challenges-challenged)
				}
				t.Logf("nonce challenges after FLUSHALL: %d (first check %s after it)", caller.challenges-challenged, checkedAt.Sub(flushed))
			}
			for i, p := range used {
				if code := send(t, in.url, tok, p); code != http.StatusUnauthorized {
					t.Fatalf("replay %d at the end: %d, want 401", i, code)
				}
			}
		})
	}
}

// stop ends the instance now (its cleanup still finds the result).
func (in *instance) stop() {
	in.cancel()
	err := <-in.done
	in.done <- err
}

// caller calls /v1/check through dpop.Transport, whose realm is the
// public URL; requests go to base. last is the latest proof it sent,
// challenges counts the 401 use_dpop_nonce answers with a DPoP-Nonce the
// transport received (and answered with a retry).
type caller struct {
	base, public string
	client       *http.Client
	last         string
	challenges   int
}

func newCaller(base, public, tok string, key jwk.Key) *caller {
	c := &caller{base: base, public: public}
	c.client = &http.Client{Transport: &dpop.Transport{Realm: public + "/v1/check", AccessToken: tok, Key: key,
		Base: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			c.last = r.Header.Get(dpop.HeaderDPoP)
			out := r.Clone(r.Context())
			out.URL.Scheme, out.URL.Host, out.Host = "http", strings.TrimPrefix(c.base, "http://"), ""
			resp, err := http.DefaultTransport.RoundTrip(out)
			if err == nil && resp.StatusCode == http.StatusUnauthorized && resp.Header.Get(dpop.HeaderDPoPNonce) != "" &&
				strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="use_dpop_nonce"`) {
				c.challenges++
			}
			return resp, err
		})}}
	return c
}

func (c *caller) check(t *testing.T) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.public+"/v1/check", strings.NewReader(`{"actor":"agt-state-hub-bridge"}`))
	req.GetBody = func() (io.ReadCloser, error) {
		return io.NopCloser(strings.NewReader(`{"actor":"agt-state-hub-bridge"}`)), nil
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// send posts a check with the given proof, as an attacker replaying it.
func send(t *testing.T, base, tok, proof string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/check", strings.NewReader(`{"actor":"agt-state-hub-bridge"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "DPoP "+tok)
	req.Header.Set("DPoP", proof)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
