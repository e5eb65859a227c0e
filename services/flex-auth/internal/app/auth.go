package app

import (
	"context"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/stellaops/authgate/pkg/dpop"
	"github.com/stellaops/authgate/services/flex-auth/internal/callerauth"
)

// newGuard returns the caller-authentication middleware of the decision
// endpoints, or nil when auth is not configured (auth.issuer empty). The
// returned stop function releases the DPoP replay cache.
func newGuard(ctx context.Context, cfg AuthConfig, log *zap.Logger, now func() time.Time) (echo.MiddlewareFunc, func(), error) {
	if !cfg.Enabled() {
		return nil, func() {}, nil
	}
	cache := dpop.NewMemoryReplayCache(ctx, dpop.MemoryOptions{Now: now})
	a, err := callerauth.New(ctx, callerauth.Config{
		Issuer: cfg.Issuer, MetadataURL: cfg.MetadataURL, RequireHTTPSMetadata: cfg.RequireHTTPSMetadata,
		Audiences: cfg.Audiences, RequiredScopes: cfg.RequiredScopes, PublicURL: cfg.PublicURL,
		DPoPMaxAge: cfg.DPoPMaxAge, DPoPClockSkew: cfg.DPoPClockSkew, Replay: cache, Now: now,
	})
	if err != nil {
		_ = cache.Close()
		return nil, nil, err
	}
	log.Info("caller authentication on", zap.String("issuer", cfg.Issuer), zap.Strings("scopes", cfg.RequiredScopes))
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if err := a.Authenticate(c.Request()); err != nil {
				return err
			}
			return next(c)
		}
	}, func() { _ = cache.Close() }, nil
}
