package e2e

import (
	"context"
	"net/http"

	"github.com/stellaops/authgate/pkg/dpop"
	"github.com/stellaops/authgate/services/registry-token/internal/devauthority"
)

// NewProofVerifier returns the dev Authority's token-endpoint proof check,
// done by pkg/dpop with htu = base + request path and an in-memory replay
// cache that lives as long as ctx.
func NewProofVerifier(ctx context.Context, base string) (devauthority.ProofVerifier, error) {
	v, err := dpop.NewVerifier(dpop.Config{
		PublicBaseURL: base,
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
