package devauthority

import (
	"context"
	"net/http"

	"github.com/stellaops/authgate/pkg/dpop"
)

// NewDPoPVerifier returns the ProofVerifier to pass as
// Options.VerifyProof: pkg/dpop checks the proof against htu = issuer +
// request path (so the token endpoint's htu is TokenURL()), with the
// default algorithms and proof age, and remembers proofs in an in-memory
// replay cache whose sweeper runs until ctx is done.
func NewDPoPVerifier(ctx context.Context, issuer string) (ProofVerifier, error) {
	v, err := dpop.NewVerifier(dpop.Config{
		PublicBaseURL: issuer,
		Replay:        dpop.NewMemoryReplayCache(ctx, dpop.MemoryOptions{}),
	})
	if err != nil {
		return nil, err
	}
	return func(r *http.Request, _ string) (string, error) {
		p, err := v.Verify(r.Context(), dpop.FromHTTP(r))
		if err != nil {
			return "", err
		}
		return p.JKT, nil
	}, nil
}
