package loadgen

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"net/http"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/stellaops/authgate/pkg/dpop"
	"github.com/stellaops/authgate/pkg/plans"
	"github.com/stellaops/authgate/services/registry-token/internal/devauthority"
	"github.com/stellaops/authgate/services/registry-token/internal/e2e"
)

// BenchmarkRawCrypto is the floor of one /token request: the service must
// verify one ES256 proof and sign one ES256 token, plus verify the OpTok
// when it is not cached. Compare with BenchmarkTokenRequest's cpu/token.
func BenchmarkRawCrypto(b *testing.B) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	digest := sha256.Sum256([]byte("signing input"))
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	if err != nil {
		b.Fatal(err)
	}
	b.Run("ES256-sign", func(b *testing.B) {
		cpuLoop(b, func(int) {
			if _, err := ecdsa.SignASN1(rand.Reader, key, digest[:]); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("ES256-verify", func(b *testing.B) {
		cpuLoop(b, func(int) {
			if !ecdsa.VerifyASN1(&key.PublicKey, digest[:], sig) {
				b.Fatal("verify failed")
			}
		})
	})
	b.Run("OpTok-verify-jws", func(b *testing.B) {
		a, err := devauthority.New(devauthority.Options{Issuer: "http://127.0.0.1:1"})
		if err != nil {
			b.Fatal(err)
		}
		tok, err := a.MintDPoP("u", "p", "l", "jkt", []string{"registry.token.issue"}, nil, time.Hour)
		if err != nil {
			b.Fatal(err)
		}
		set, err := jwk.Parse(a.JWKS())
		if err != nil {
			b.Fatal(err)
		}
		pub, _ := set.Key(0)
		cpuLoop(b, func(int) {
			if _, err := jws.Verify([]byte(tok), jws.WithKey(jwa.ES256, pub)); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("proof-sign-loadgen", func(b *testing.B) {
		p, err := NewFastProver(http.MethodGet, "http://localhost:8085/token", nil)
		if err != nil {
			b.Fatal(err)
		}
		p.Bind("token")
		cpuLoop(b, func(int) {
			if _, err := p.Proof(); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("proof-verify-dpop", func(b *testing.B) {
		v, err := dpop.NewVerifier(dpop.Config{
			PublicBaseURL: "http://localhost:8085",
			Replay:        dpop.NewMemoryReplayCache(b.Context(), dpop.MemoryOptions{MaxEntries: 1 << 22}),
		})
		if err != nil {
			b.Fatal(err)
		}
		p, err := NewFastProver(http.MethodGet, "http://localhost:8085/token", nil)
		if err != nil {
			b.Fatal(err)
		}
		p.Bind("token")
		proofs := make([]string, b.N)
		for i := range proofs {
			if proofs[i], err = p.Proof(); err != nil {
				b.Fatal(err)
			}
		}
		cpuLoop(b, func(i int) {
			req := dpop.Request{Method: http.MethodGet, Path: "/token", ProofHeaders: []string{proofs[i]}, AccessToken: "token", TokenJKT: p.JKT()}
			if _, err := v.Verify(context.Background(), req); err != nil {
				b.Fatal(err)
			}
		})
	})
}

// cpuLoop runs op b.N times and reports, next to the wall time, the
// process CPU time per operation ("cpu-µs/op"), which stays comparable
// when other processes compete for the CPUs.
func cpuLoop(b *testing.B, op func(i int)) {
	b.Helper()
	cpu0, err := ReadCPU(os.Getpid())
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := range b.N {
		op(i)
	}
	b.StopTimer()
	cpu1, err := ReadCPU(os.Getpid())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64((cpu1-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
}

// BenchmarkTokenRequest runs registry-token in-process and sends GET /token
// over loopback from 32 goroutines, each request with a fresh proof. It
// reports the CPU time of the whole process per token (server, HTTP
// client and proof signing together: subtract proof-sign-loadgen from
// BenchmarkRawCrypto for the server's share).
func BenchmarkTokenRequest(b *testing.B) {
	s, err := e2e.StartStack(b.Context(), e2e.StackOptions{
		Dir:         b.TempDir(),
		Plans:       map[string][]plans.Rule{loadPlan: {{Repository: "stella-ops/public/*"}}},
		DefaultPlan: loadPlan,
		LogLevel:    "warn",
	})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	tr := e2e.LoopbackTransport(nil, nil)
	client := &http.Client{Transport: tr}
	defer tr.CloseIdleConnections()
	target := s.Realm + "?service=" + s.Service + "&scope=" + LoadScope

	newCaller := func() (Caller, error) {
		p, err := NewFastProver(http.MethodGet, s.Realm, nil)
		if err != nil {
			return Caller{}, err
		}
		tok, err := s.Authority.MintDPoP("bench", loadPlan, "lic", p.JKT(), []string{"registry.token.issue"}, nil, time.Hour)
		if err != nil {
			return Caller{}, err
		}
		p.Bind(tok)
		return Caller{Prover: p, OpTok: tok}, nil
	}
	var failures atomic.Int64
	cpu0, err := ReadCPU(os.Getpid())
	if err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(16) // 16 x GOMAXPROCS(2) = 32 concurrent requests
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c, err := newCaller()
		if err != nil {
			failures.Add(1)
			return
		}
		for pb.Next() {
			proof, err := c.Prover.Proof()
			if err != nil {
				failures.Add(1)
				continue
			}
			req, _ := http.NewRequest(http.MethodGet, target, nil)
			req.Header.Set("Authorization", "DPoP "+c.OpTok)
			req.Header.Set("DPoP", proof)
			resp, err := client.Do(req)
			if err != nil {
				failures.Add(1)
				continue
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				failures.Add(1)
			}
		}
	})
	b.StopTimer()
	cpu1, err := ReadCPU(os.Getpid())
	if err != nil {
		b.Fatal(err)
	}
	if n := failures.Load(); n > 0 {
		b.Fatalf("%d of %d requests failed", n, b.N)
	}
	b.ReportMetric(float64((cpu1-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
}
