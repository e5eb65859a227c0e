package dpop_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/stellaops/authgate/pkg/dpop"
)

func Example() {
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { return now }

	cache := dpop.NewMemoryReplayCache(ctx, dpop.MemoryOptions{Now: clock})
	defer cache.Close()
	v, err := dpop.NewVerifier(dpop.Config{
		PublicBaseURL: "https://registry-token.example.com",
		Replay:        cache,
		Now:           clock,
	})
	if err != nil {
		panic(err)
	}

	// The client: a key pair, a token bound to it, a proof per request.
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	clientKey, _ := jwk.FromRaw(priv)
	jkt, _ := dpop.Thumbprint(clientKey) // the authorization server puts this in cnf.jkt
	token := "an-access-token-bound-to-jkt"
	proof, _ := dpop.NewProof(clientKey, "ES256", "GET", "https://registry-token.example.com/token?service=registry", token, "", now)

	// The server.
	r := httptest.NewRequest("GET", "/token?service=registry", nil)
	r.Header.Set("Authorization", "DPoP "+token)
	r.Header.Set(dpop.HeaderDPoP, proof)

	req := dpop.FromHTTP(r)
	req.AccessToken = token
	req.TokenJKT = jkt
	p, err := v.Verify(ctx, req)
	fmt.Println("first use:", err, p.HTU)

	// The same proof again is a replay.
	_, err = v.Verify(ctx, req)
	var e *dpop.Error
	if errors.As(err, &e) {
		c := dpop.NewChallenge(dpop.SchemeDPoP, e)
		c.Algs = v.Algorithms()
		fmt.Println("replay:", e.Status, c)
	}
	// Output:
	// first use: <nil> https://registry-token.example.com/token
	// replay: 401 DPoP error="invalid_dpop_proof", error_description="The DPoP proof has already been used.", algs="ES256 EdDSA PS256 RS256 Ed25519"
}
