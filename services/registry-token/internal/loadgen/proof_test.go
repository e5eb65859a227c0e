package loadgen

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stellaops/authgate/pkg/dpop"
)

func TestFastProverAccepted(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	v, err := dpop.NewVerifier(dpop.Config{
		PublicBaseURL: "http://localhost:8085",
		Replay:        dpop.NewMemoryReplayCache(t.Context(), dpop.MemoryOptions{Now: clock}),
		Now:           clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	const tok = "op-token"
	p, err := NewFastProver(http.MethodGet, "http://localhost:8085/token", clock)
	if err != nil {
		t.Fatal(err)
	}
	p.Bind(tok)
	req := dpop.Request{Method: http.MethodGet, Path: "/token", AccessToken: tok, TokenJKT: p.JKT()}
	for i := range 3 {
		proof, err := p.Proof()
		if err != nil {
			t.Fatal(err)
		}
		req.ProofHeaders = []string{proof}
		got, err := v.Verify(context.Background(), req)
		if err != nil {
			t.Fatalf("proof %d rejected: %v", i, err)
		}
		if got.JKT != p.JKT() {
			t.Fatalf("thumbprint %s, verifier computed %s", p.JKT(), got.JKT)
		}
		// Each proof is single-use.
		if _, err := v.Verify(context.Background(), req); !errors.Is(err, dpop.ErrInvalidDPoPProof) {
			t.Fatalf("replay of proof %d: %v", i, err)
		}
	}
	// ProofFor signs for another token without changing Bind's.
	other, err := p.ProofFor("other-token")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), dpop.Request{Method: http.MethodGet, Path: "/token",
		ProofHeaders: []string{other}, AccessToken: "other-token", TokenJKT: p.JKT()}); err != nil {
		t.Fatalf("ProofFor's proof rejected: %v", err)
	}
	// Bound to its token: another token is refused.
	proof, _ := p.Proof()
	req.ProofHeaders, req.AccessToken = []string{proof}, "other"
	if _, err := v.Verify(context.Background(), req); err == nil {
		t.Fatal("proof accepted for another access token")
	}
}
