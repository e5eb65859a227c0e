package dpop

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
)

// BenchmarkVerifyES256 measures a full verification: parse, every check,
// thumbprint, and the replay claim in the in-memory cache. Each iteration
// verifies a different pre-signed proof (new jti).
func BenchmarkVerifyES256(b *testing.B) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	key, err := jwk.FromRaw(priv)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Unix(1_700_000_000, 0)
	cache := NewMemoryReplayCache(context.Background(), MemoryOptions{MaxEntries: b.N + 1, Now: func() time.Time { return now }})
	defer cache.Close()
	v, err := NewVerifier(Config{PublicBaseURL: "https://rt.example.com", Replay: cache, Now: func() time.Time { return now }})
	if err != nil {
		b.Fatal(err)
	}
	const token = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJl"
	jkt, err := Thumbprint(key)
	if err != nil {
		b.Fatal(err)
	}
	proofs := make([]string, b.N)
	for i := range proofs {
		proofs[i], err = NewProof(key, "ES256", "GET", "https://rt.example.com/token?service=x", token, "", now)
		if err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	cpu := processCPU()
	for i := 0; i < b.N; i++ {
		_, err := v.Verify(ctx, Request{Method: "GET", Path: "/token", ProofHeaders: proofs[i : i+1], AccessToken: token, TokenJKT: jkt})
		if err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, cpu)
}

// reportCPU adds a cpu-ns/op metric: process CPU time (GC included) per
// iteration since start. On a busy machine it is steadier than ns/op.
func reportCPU(b *testing.B, start time.Duration) {
	b.StopTimer()
	if end := processCPU(); end > start {
		b.ReportMetric(float64(end-start)/float64(b.N), "cpu-ns/op")
	}
}

// BenchmarkRawECDSAVerify measures what BenchmarkVerifyES256 cannot avoid:
// SHA-256 over a signing input of the same size and ecdsa.Verify of a
// P-256 signature.
func BenchmarkRawECDSAVerify(b *testing.B) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	key, _ := jwk.FromRaw(priv)
	const token = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJl"
	proof, err := NewProof(key, "ES256", "GET", "https://rt.example.com/token", token, "", time.Now())
	if err != nil {
		b.Fatal(err)
	}
	input := []byte(proof[:strings.LastIndexByte(proof, '.')])
	sig, err := b64.DecodeString(proof[strings.LastIndexByte(proof, '.')+1:])
	if err != nil {
		b.Fatal(err)
	}
	pub := &priv.PublicKey
	b.ReportAllocs()
	b.ResetTimer()
	cpu := processCPU()
	for i := 0; i < b.N; i++ {
		h := sha256.Sum256(input)
		r := new(big.Int).SetBytes(sig[:32])
		s := new(big.Int).SetBytes(sig[32:])
		if !ecdsa.Verify(pub, h[:], r, s) {
			b.Fatal("signature does not verify")
		}
	}
	reportCPU(b, cpu)
}
