package app

import (
	"context"
	"fmt"
	"time"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/stellaops/authgate/pkg/dpop"
	"github.com/stellaops/authgate/pkg/httpx"
	"github.com/stellaops/authgate/pkg/replaystore"
	"github.com/stellaops/authgate/services/flex-auth/internal/callerauth"
	"github.com/stellaops/authgate/services/flex-auth/internal/config"
	"github.com/stellaops/authgate/services/flex-auth/internal/metrics"
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
func newGuard(ctx context.Context, cfg config.AuthConfig, log *zap.Logger, meter metric.Meter, now func() time.Time) (guard, error) {
	if !cfg.Enabled() {
		return guard{stop: func() {}}, nil
	}
	replay, err := replaystore.Open(ctx, cfg.ReplayCache, replaystore.Deps{
		KeyPrefix: redisKeyPrefix, Meter: meter, MetricUp: metrics.NameReplayStoreUp, Now: now,
		Memory: dpop.MemoryOptions{Window: cfg.DPoPMaxAge + 2*cfg.DPoPClockSkew},
	})
	if err != nil {
		return guard{}, err
	}
	closeReplay := replay.Close
	readyAt := replay.ReadyAt(cfg.DPoPClockSkew)
	if replay.EpochErr != nil {
		log.Warn("the DPoP replay store does not answer: callers with tokens are refused (503) until it does", zap.Error(replay.EpochErr))
	}
	nonces, err := newNonces(cfg)
	if err != nil {
		closeReplay()
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
		DPoPMaxAge: cfg.DPoPMaxAge, DPoPClockSkew: cfg.DPoPClockSkew, Replay: replay.Cache, Nonces: nonces,
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
		// Not ready while the replay store does not answer (callers with
		// tokens are refused), unless certificate callers, who need no
		// replay check, are accepted too.
		// Nor before fresh proofs pass the epoch check without a nonce (a
		// replica that starts costs no caller a retry).
		ready: func() bool {
			return a.Ready() && (len(cfg.ClientCertificates) > 0 || replay.Ready() && !now().Before(readyAt))
		},
		stop: func() {
			cancel()
			<-done
			closeReplay()
		},
	}, nil
}

// newNonces returns the nonce source of auth.dpopNonceKeyFile, or nil
// (the verifier then makes one with a random key).
func newNonces(cfg config.AuthConfig) (dpop.NonceSource, error) {
	keys, err := cfg.NonceKeys()
	if err != nil || len(keys) == 0 {
		return nil, err
	}
	return dpop.NewHMACNonces(keys[0], dpop.DefaultNonceLifetime, keys[1:]...)
}
