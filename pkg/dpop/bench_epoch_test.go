package dpop

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
)

// BenchmarkVerifyMemoryEpoch is the memory backend's fast path as the
// services run it: ReplayEpoch on, proofs without a nonce dated after the
// epoch window (no nonce check, no challenge), each a new jti claimed in
// the memory cache. It uses only API that predates server nonces, so the
// same file benchmarks an older commit for an A/B comparison.
func BenchmarkVerifyMemoryEpoch(b *testing.B) {
	for _, alg := range []string{"ES256", "EdDSA"} {
		b.Run(alg, func(b *testing.B) { benchmarkVerifyMemoryEpoch(b, alg) })
	}
}

func benchmarkVerifyMemoryEpoch(b *testing.B, alg string) {
	var raw any
	switch alg {
	case "EdDSA":
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		raw = priv
	default:
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		raw = priv
	}
	key, err := jwk.FromRaw(raw)
	if err != nil {
		b.Fatal(err)
	}
	// The cache's epoch is start; proofs are dated after epoch + skew.
	start := time.Unix(1_700_000_000, 0)
	now := start
	clock := func() time.Time { return now }
	cache := NewMemoryReplayCache(context.Background(), MemoryOptions{MaxEntries: b.N + 1, Now: clock})
	defer cache.Close()
	v, err := NewVerifier(Config{PublicBaseURL: "https://rt.example.com", Replay: cache, ReplayEpoch: true,
		Algorithms: []string{alg}, Now: clock})
	if err != nil {
		b.Fatal(err)
	}
	now = start.Add(DefaultClockSkew + time.Second)
	const token = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJl"
	jkt, err := Thumbprint(key)
	if err != nil {
		b.Fatal(err)
	}
	proofs := make([]string, b.N)
	for i := range proofs {
		proofs[i], err = NewProof(key, alg, "GET", "https://rt.example.com/token?service=x", token, "", now)
		if err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	cpu := processCPU()
	for i := 0; i < b.N; i++ {
		if _, err := v.Verify(ctx, Request{Method: "GET", Path: "/token", ProofHeaders: proofs[i : i+1], AccessToken: token, TokenJKT: jkt}); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, cpu)
}
