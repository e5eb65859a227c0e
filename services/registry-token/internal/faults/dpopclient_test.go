package faults

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/stellaops/authgate/pkg/dpop"
)

// dpopClient is one client as users run it: pkg/dpop.Transport (a new
// proof per request, one retry on use_dpop_nonce) to sharedPublicURL,
// whose connections go to the replicas in turn (a load balancer). It
// records every proof the service accepted, for replays.
type dpopClient struct {
	caller   *caller // the OpTok and a prover for hand-made proofs
	client   *http.Client
	replicas []string // host:port
	next     atomic.Uint64

	mu       sync.Mutex
	accepted []sentProof
}

// sentProof is a proof the service answered 200 to, and when.
type sentProof struct {
	proof string
	at    time.Time
}

func newDPoPClient(t *testing.T, a *authorityServer, replicas ...string) *dpopClient {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key, err := jwk.FromRaw(priv)
	if err != nil {
		t.Fatal(err)
	}
	jkt, err := dpop.Thumbprint(key)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := a.MintDPoP("faults-"+jkt[:8], plan, "", jkt, []string{"registry.token.issue"}, []string{"registry"}, 30*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	c := &dpopClient{caller: &caller{tok: tok}, replicas: replicas}
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	base := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, network, c.replicas[c.next.Add(1)%uint64(len(c.replicas))])
		},
		MaxIdleConnsPerHost: 4,
		DisableKeepAlives:   true, // every request to a replica in turn
	}
	c.client = &http.Client{Timeout: 15 * time.Second, Transport: &dpop.Transport{
		Base: recorder{base: base, c: c}, Realm: sharedPublicURL + "/token", AccessToken: tok, Key: key,
	}}
	t.Cleanup(base.CloseIdleConnections)
	return c
}

// get asks for a token through the Transport.
func (c *dpopClient) get(ctx context.Context) answer {
	a := answer{Start: time.Now()}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, sharedPublicURL+"/token?"+tokenQuery, nil)
	if err != nil {
		a.Err = err
		return a
	}
	return do(c.client, req, a)
}

// acceptedBetween returns the proofs accepted in [from, to].
func (c *dpopClient) acceptedBetween(from, to time.Time) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, p := range c.accepted {
		if !p.at.Before(from) && !p.at.After(to) {
			out = append(out, p.proof)
		}
	}
	return out
}

// replay sends each proof again (to the replicas in turn) and returns a
// description of every one that got a token.
func (c *dpopClient) replay(ctx context.Context, proofs []string) []string {
	client := newClient(4)
	defer client.CloseIdleConnections()
	var got []string
	for i, p := range proofs {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, sharedPublicURL+"/token?"+tokenQuery, nil)
		if err != nil {
			return append(got, err.Error())
		}
		req.URL.Host = c.replicas[i%len(c.replicas)]
		req.Host = "registry-token.test"
		req.Header.Set("Authorization", "DPoP "+c.caller.tok)
		req.Header.Set("DPoP", p)
		if an := do(client, req, answer{}); an.Err != nil || an.Status != http.StatusUnauthorized {
			got = append(got, fmt.Sprintf("replay %d: status %d %s %v", i, an.Status, an.Reason, an.Err))
		}
	}
	return got
}

// recorder notes the proofs of the requests the service answered 200.
type recorder struct {
	base http.RoundTripper
	c    *dpopClient
}

func (r recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.base.RoundTrip(req)
	if err == nil && resp.StatusCode == http.StatusOK {
		r.c.mu.Lock()
		r.c.accepted = append(r.c.accepted, sentProof{proof: req.Header.Get(dpop.HeaderDPoP), at: time.Now()})
		r.c.mu.Unlock()
	}
	return resp, err
}
