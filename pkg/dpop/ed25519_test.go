package dpop

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestEd25519ProofAlgorithm (finding: the RFC 9864 name Ed25519 was
// refused): a proof with alg Ed25519 is accepted wherever EdDSA is
// allowed, with an Ed25519 jwk only, and the allow-list advertises both.
func TestEd25519ProofAlgorithm(t *testing.T) {
	ed := key("Ed25519")
	edProof := func(alg string, edit func(p *proofSpec)) func(p *proofSpec) {
		return func(p *proofSpec) {
			p.signer = ed
			p.header["alg"] = alg
			p.header["jwk"] = copyMap(ed.pub)
			if edit != nil {
				edit(p)
			}
		}
	}
	for _, tc := range []struct {
		name  string
		algs  []string
		proof func(p *proofSpec)
		ok    bool
	}{
		{"Ed25519 with EdDSA allowed", []string{"ES256", "EdDSA"}, edProof("Ed25519", nil), true},
		{"Ed25519 with the defaults", nil, edProof("Ed25519", nil), true},
		{"Ed25519 allowed by its own name", []string{"Ed25519"}, edProof("Ed25519", nil), true},
		{"EdDSA allowed by the name Ed25519", []string{"Ed25519"}, edProof("EdDSA", nil), true},
		{"jwk alg EdDSA under Ed25519", nil, edProof("Ed25519", func(p *proofSpec) { p.header["jwk"].(map[string]any)["alg"] = "EdDSA" }), true},
		{"jwk alg Ed25519 under EdDSA", nil, edProof("EdDSA", func(p *proofSpec) { p.header["jwk"].(map[string]any)["alg"] = "Ed25519" }), true},
		{"Ed25519 without EdDSA allowed", []string{"ES256"}, edProof("Ed25519", nil), false},
		{"Ed25519 with an EC jwk", nil, func(p *proofSpec) { p.header["alg"] = "Ed25519"; p.alg = "ES256" }, false},
		{"Ed25519 with an Ed448 jwk", nil, edProof("Ed25519", func(p *proofSpec) { p.header["jwk"].(map[string]any)["crv"] = "Ed448" }), false},
		{"jwk alg ES256 under Ed25519", nil, edProof("Ed25519", func(p *proofSpec) { p.header["jwk"].(map[string]any)["alg"] = "ES256" }), false},
		{"Ed25519 signed by another key", nil, edProof("Ed25519", func(p *proofSpec) {
			p.finish = func(c string) string { return c[:strings.LastIndex(c, ".")+1] + b64.EncodeToString(make([]byte, 64)) }
		}), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, func(cfg *Config) { cfg.Algorithms = tc.algs })
			req := request(makeProof(t, tc.proof))
			req.TokenJKT = ed.jkt
			_, err := f.v.Verify(context.Background(), req)
			if tc.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tc.ok && !errors.Is(err, ErrInvalidDPoPProof) {
				t.Fatalf("err = %v, want invalid_dpop_proof", err)
			}
		})
	}
	f := newFixture(t, func(cfg *Config) { cfg.Algorithms = []string{"ES256", "EdDSA"} })
	if got := strings.Join(f.v.Algorithms(), " "); got != "ES256 EdDSA Ed25519" {
		t.Errorf("Algorithms() = %q, want EdDSA's fully-specified name advertised too", got)
	}
}
