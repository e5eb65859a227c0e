package app

import (
	"context"
	"fmt"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/stellaops/authgate/pkg/dpop"
	"github.com/stellaops/authgate/pkg/httpx"
	"github.com/stellaops/authgate/services/flex-auth/internal/callerauth"
	"github.com/stellaops/authgate/services/flex-auth/internal/config"
	"github.com/stellaops/authgate/services/flex-auth/internal/server"
)

// redisKeyPrefix keeps flex-auth's proofs apart from registry-token's
// when both share one Redis.
const redisKeyPrefix = "flex-auth:dpop:"

// guard is the caller authentication of the decision endpoints.
type guard struct {
	middleware echo.MiddlewareFunc // nil when auth is not configured
	ready      func() bool         // nil when auth is not configured
	stop       func()
}

// newGuard returns the caller-authentication middleware of the decision
// endpoints and its readiness (the Authority's keys are held), or a guard
// without them when auth is not configured. It refreshes the Authority's
// keys in the background until ctx is done; stop releases the DPoP replay
// cache.
func newGuard(ctx context.Context, cfg config.AuthConfig, log *zap.Logger, now func() time.Time) (guard, error) {
	if !cfg.Enabled() {
		return guard{stop: func() {}}, nil
	}
	replay, closeReplay, err := newReplayCache(ctx, cfg.ReplayCache, now)
	if err != nil {
		return guard{}, err
	}
	client, err := httpx.AuthorityClient(cfg.CAFile, 10*time.Second, httpx.LogReloads(log, "auth.caFile"))
	if err != nil {
		closeReplay()
		return guard{}, fmt.Errorf("auth.%w", err)
	}
	a, err := callerauth.New(ctx, callerauth.Config{
		HTTPClient: client,
		Issuer:     cfg.Issuer, MetadataURL: cfg.MetadataURL, RequireHTTPSMetadata: cfg.RequireHTTPSMetadata,
		Audiences: cfg.Audiences, RequiredScopes: cfg.RequiredScopes, PublicURL: cfg.PublicURL,
		DPoPMaxAge: cfg.DPoPMaxAge, DPoPClockSkew: cfg.DPoPClockSkew, Replay: replay,
		JWKSRefreshInterval: cfg.JWKSRefreshInterval, JWKSMaxStale: cfg.JWKSMaxStale,
		ClientCertificates: cfg.ClientCertificates, Logger: log.Named("authority"), Now: now,
	})
	if err != nil {
		closeReplay()
		return guard{}, err
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); a.Run(runCtx) }()
	log.Info("caller authentication on", zap.String("issuer", cfg.Issuer), zap.Strings("scopes", cfg.RequiredScopes),
		zap.String("replay_cache", cfg.ReplayCache.Backend), zap.Int("client_certificates", len(cfg.ClientCertificates)))
	return guard{
		middleware: func(next echo.HandlerFunc) echo.HandlerFunc {
			return func(c echo.Context) error {
				id, err := a.Identify(c.Request())
				if err != nil {
					return err
				}
				server.SetCaller(c, id)
				return next(c)
			}
		},
		ready: a.Ready,
		stop: func() {
			cancel()
			<-done
			closeReplay()
		},
	}, nil
}

// newReplayCache returns the configured DPoP replay cache (pkg/dpop, as in
// registry-token) and its closer. Any error of Redis makes the verifier
// refuse the proof (fail closed).
func newReplayCache(ctx context.Context, rc config.ReplayCacheConfig, now func() time.Time) (dpop.ReplayCache, func(), error) {
	if rc.Backend == config.ReplayBackendRedis {
		opts, err := dpop.RedisOptions(rc.RedisURL)
		if err != nil {
			return nil, nil, fmt.Errorf("auth.replayCache.redisUrl: %w", err)
		}
		client := redis.NewClient(opts)
		return dpop.NewRedisReplayCache(client, redisKeyPrefix).WithClock(now), func() { _ = client.Close() }, nil
	}
	c := dpop.NewMemoryReplayCache(ctx, dpop.MemoryOptions{Now: now})
	return c, func() { _ = c.Close() }, nil
}
