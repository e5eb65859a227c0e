package app

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/stellaops/authgate/pkg/dpop"
	"github.com/stellaops/authgate/pkg/httpx"
	"github.com/stellaops/authgate/pkg/obs"
	"github.com/stellaops/authgate/pkg/plans"
	"github.com/stellaops/authgate/pkg/process"
	"github.com/stellaops/authgate/services/registry-token/internal/authority"
	"github.com/stellaops/authgate/services/registry-token/internal/config"
	"github.com/stellaops/authgate/services/registry-token/internal/policyclient"
	"github.com/stellaops/authgate/services/registry-token/internal/signing"
	"github.com/stellaops/authgate/services/registry-token/internal/token"
)

// nonceLifetime is how long a server DPoP nonce stays acceptable.
const nonceLifetime = 5 * time.Minute

// serve builds config -> logger -> meter -> stores/clients -> domain
// services -> HTTP server, and serves until ctx is done.
// The configuration and the keys are loaded and checked before (prepare),
// so a problem with either is reported before anything starts. SIGHUP
// (and file changes with reload.watch) reload the configuration from src.
func serve(ctx context.Context, src source, cfg config.Config, keys *signing.Set, env Env) (err error) {
	now := time.Now
	// SIGHUP is taken from the start (its default action would end the
	// process); one that arrives before the server runs reloads then.
	sigs, stopSignals := process.Subscribe(env.Signals, syscall.SIGHUP)
	defer stopSignals()
	log, err := obs.NewLogger(env.Stderr, cfg.Log.Level)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	if fields := process.TuneGC(env.Environ, process.GC{Percent: DefaultGCPercent, MemoryLimit: DefaultMemoryLimit}); len(fields) > 0 {
		log.Info("garbage collector settings (GOGC and GOMEMLIMIT override them)", fields...)
	}

	metrics, err := obs.NewMetrics()
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = metrics.Shutdown(sctx)
	}()
	meter := metrics.Meter("registry-token")

	// Stores and clients.
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	replay, err := newReplayCache(runCtx, cfg.Authority, meter, now)
	if err != nil {
		return err
	}
	defer replay.Close()
	authorityHTTP, err := httpx.AuthorityClient(cfg.Authority.CAFile, 10*time.Second, httpx.LogReloads(log, "authority.caFile"))
	if err != nil {
		return fmt.Errorf("authority.%w", err)
	}
	authz := authority.New(authority.Config{
		HTTPClient:             authorityHTTP,
		Issuer:                 cfg.Authority.Issuer,
		MetadataURL:            cfg.Authority.MetadataURL,
		RequireHTTPSMetadata:   cfg.Authority.RequireHTTPSMetadata,
		Audiences:              cfg.Authority.Audiences,
		RequiredScopes:         cfg.Authority.RequiredScopes,
		ClockSkew:              cfg.Authority.ClockSkew,
		MaxTokenLifetime:       cfg.Authority.MaxTokenLifetime,
		RequireAccessTokenType: cfg.Authority.RequireAccessTokenType,
		RefreshInterval:        cfg.Authority.JWKSRefreshInterval,
		MaxStale:               cfg.Authority.JWKSMaxStale,
		MinRefreshGap:          config.DefaultJWKSMinRefresh,
		CacheSize:              cfg.Authority.TokenCacheSize,
		Logger:                 log.Named("authority"),
		Now:                    now,
	})

	// Domain services.
	nonces, err := newNonces(cfg.Authority.DPoP)
	if err != nil {
		return err
	}
	proofs, err := dpop.NewVerifier(dpop.Config{
		PublicBaseURL: cfg.Server.PublicURL,
		Algorithms:    cfg.Authority.DPoP.Algorithms,
		MaxAge:        cfg.Authority.DPoP.MaxAge,
		ClockSkew:     cfg.Authority.DPoP.ClockSkew,
		Replay:        replay.Cache,
		ReplayEpoch:   true,
		Nonces:        nonces,
		RequireNonce:  cfg.Authority.DPoP.RequireNonce,
		Now:           now,
	})
	if err != nil {
		return err
	}
	proxies, err := dpop.ParseTrustedProxies(cfg.Server.TrustedProxies, cfg.Server.ClientCertHeader)
	if err != nil {
		return err
	}
	// The reloadable part: plans, licences, services, signing keys, policy.
	// authority.senderConstraint changes only at a restart: every state
	// keeps the value the service started with.
	requireSC := cfg.Authority.SenderConstraint == config.SenderConstraintRequire
	build := func(cfg config.Config, keys *signing.Set, prev *state) (*state, error) {
		if prev != nil {
			// A reload may revoke licences: the OpToks verified before
			// it are verified again on their next use.
			defer authz.Forget()
		}
		return buildState(log, cfg, keys, prev, token.Deps{
			Logger: log.Named("decision"), Meter: meter, Now: now,
			Authority: authz, Proofs: proofs, Proxies: proxies,
			Policy: token.Policy{RequireSenderConstraint: requireSC},
		})
	}
	first, err := build(cfg, keys, nil)
	if err != nil {
		return err
	}
	reload, err := newReloader(src, first, build, log.Named("reload"), meter, now)
	if err != nil {
		return err
	}

	// HTTP server.
	var shuttingDown atomic.Bool
	e := httpx.New(httpx.Options{Logger: log, Mapper: token.NewMapper(proofs.Algorithms(), basicRealm(cfg)), Metrics: metrics.Handler(), Now: now})
	routes(e, reload, now, httpx.NewReadyLog(log, now), func() string {
		switch {
		case shuttingDown.Load():
			return "shutting down"
		case !authz.Ready():
			return "the Authority's keys are not loaded"
		case !replay.Ready():
			// Every DPoP token would be refused (503).
			return "the DPoP replay store does not answer"
		case now().Before(replay.readyAt):
			// Not ready before fresh proofs pass the replay epoch check
			// without a nonce: a replica that starts costs its clients no
			// retry.
			return "replay epoch window: fresh DPoP proofs would need a server nonce until ready_at"
		}
		return ""
	})
	limits := httpx.DefaultLimits
	limits.MaxConnectionAge, limits.Now = cfg.Server.MaxConnectionAge, now
	srv := httpx.NewServer(e, limits)
	srv.ErrorLog = zap.NewStdLog(log.Named("http"))
	if cfg.Server.TLS.Enabled() {
		if srv.TLSConfig, err = tlsConfig(cfg.Server.TLS, log); err != nil {
			return err
		}
	}
	ln, err := new(net.ListenConfig).Listen(ctx, "tcp", cfg.Server.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	log.Info("registry-token listening", append([]zap.Field{zap.String("addr", ln.Addr().String()),
		zap.Bool("tls", srv.TLSConfig != nil), zap.String("public_url", cfg.Server.PublicURL),
		zap.String("replay_cache", cfg.Authority.ReplayCache.Backend), zap.Bool("reload_watch", cfg.Reload.Watch)},
		keyFields(keys, now())...)...)
	if cfg.Authority.ReplayCache.Backend == config.ReplayBackendMemory {
		log.Info("memory replay cache: above this many DPoP proofs per second new proofs are refused (replay_cache_full)", replay.logFields...)
	} else {
		log.Info("redis replay cache", replay.logFields...)
	}
	if !replay.readyAt.IsZero() {
		log.Info("replay epoch: until ready_at, DPoP proofs need a server nonce (401 use_dpop_nonce, one client retry); not ready until then",
			zap.Time("ready_at", replay.readyAt))
	}
	// The Authority keys are fetched once everything else is in place.
	go authz.Run(runCtx)
	go process.HandleSignals(runCtx, sigs, map[os.Signal]func(){
		syscall.SIGHUP: func() { _ = reload.Reload("sighup") }, // logged, counted and shown by Reload
	})
	if cfg.Reload.Watch {
		if err := reload.startWatch(runCtx, cfg.Reload.Debounce); err != nil {
			_ = ln.Close()
			return err
		}
	}
	if env.Listening != nil {
		env.Listening(ln.Addr())
	}
	err = httpx.Serve(ctx, srv, ln, httpx.DefaultLimits.ShutdownTimeout, func() { shuttingDown.Store(true) })
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("registry-token stopped")
	return nil
}

// routes wires the endpoints besides /metrics (added by httpx.New).
// notReady returns why the service is not ready, "" when it is.
func routes(e *echo.Echo, reload *reloader, now func() time.Time, readyLog *httpx.ReadyLog, notReady func() string) {
	e.GET("/healthz", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
	})
	e.GET("/readyz", func(c echo.Context) error {
		body := readiness{Status: "ready", Config: reload.Status()}
		why := notReady()
		readyLog.Observe(why)
		if why != "" {
			body.Status = "not ready"
			return c.JSON(http.StatusServiceUnavailable, body)
		}
		return c.JSON(http.StatusOK, body)
	})
	e.GET("/jwks.json", func(c echo.Context) error {
		jwks, err := reload.current().keys.PublicJWKS(now())
		if err != nil {
			return err
		}
		// Short: a key set changes at a reload (rotation).
		c.Response().Header().Set("Cache-Control", "public, max-age=60")
		return c.Blob(http.StatusOK, "application/jwk-set+json", jwks)
	})
	reload.live.Register(e)
}

// readiness is the /readyz body: the status, and which configuration
// serves with the outcome of the latest reload.
type readiness struct {
	Status string       `json:"status"`
	Config ReloadStatus `json:"config"`
}

// buildState prepares what one configuration serves with: the flex-auth
// client (kept from prev when the policy section is unchanged), the plan
// catalogue and the token handler signing with the active key.
// deps.Policy.RequireSenderConstraint is kept (a restart-only setting);
// the rest of deps.Policy comes from cfg.
func buildState(log *zap.Logger, cfg config.Config, keys *signing.Set, prev *state, deps token.Deps) (*state, error) {
	for _, e := range keys.Entries() {
		warnSample(log, e.Key)
	}
	var (
		gate token.Gate
		err  error
	)
	if prev != nil && prev.cfg.Policy == cfg.Policy && cfg.Policy.CAFile == "" {
		gate = prev.gate
	} else if gate, err = newGate(log, cfg.Policy); err != nil {
		return nil, err
	}
	catalog, err := plans.NewCatalog(cfg.Plans)
	if err != nil {
		return nil, err
	}
	deps.Signer, deps.Catalog, deps.Gate = keys.Signer(), catalog, gate
	deps.Policy = token.Policy{
		Issuer:                  cfg.Signing.Issuer,
		Lifetime:                cfg.Signing.Lifetime,
		Services:                cfg.Registry.Services,
		DefaultPlan:             cfg.DefaultPlan,
		RevokedLicenses:         cfg.RevokedLicenses,
		RequireSenderConstraint: deps.Policy.RequireSenderConstraint,
		PolicyFailOpen:          !cfg.Policy.FailClosed,
	}
	tokens, err := token.New(deps)
	if err != nil {
		return nil, err
	}
	return &state{cfg: cfg, keys: keys, tokens: tokens, gate: gate}, nil
}

func warnSample(log *zap.Logger, key *signing.Key) {
	if !key.IsSample() {
		return
	}
	log.Warn("!!! THE SHIPPED SAMPLE SIGNING KEY IS IN USE: tokens can be forged by anyone with this repository. " +
		"For local testing only; set signing.keyFile to a key generated and stored per environment.")
	if key.ModeWarning != "" {
		log.Warn(key.ModeWarning)
	}
}

// newGate returns the flex-auth policy client, or nil when policy.url is
// empty. A Gate interface holding a nil pointer would not be nil, hence
// the interface return type. policy.caFile is read here, at start and at
// each reload (buildState builds a new client whenever it is set).
func newGate(log *zap.Logger, p config.Policy) (token.Gate, error) {
	if !p.Enabled() {
		log.Info("policy check disabled (policy.url is empty)")
		return nil, nil
	}
	roots, err := p.RootCAs()
	if err != nil {
		return nil, err
	}
	pc := policyclient.Config{URL: p.URL, Timeout: p.Timeout, RootCAs: roots}
	if p.CertFile != "" {
		if pc.ClientCertificate, err = httpx.ClientCertificate(p.CertFile, p.KeyFile, httpx.WithReloadLog(log.Named("policy"))); err != nil {
			return nil, fmt.Errorf("policy.%w", err)
		}
	}
	c, err := policyclient.New(pc)
	if err != nil {
		return nil, err
	}
	fields := []zap.Field{zap.String("url", config.Redact(p.URL)), zap.Duration("timeout", p.Timeout), zap.Bool("fail_closed", p.FailClosed)}
	if p.CAFile != "" {
		fields = append(fields, zap.String("ca_file", p.CAFile))
	}
	if p.CertFile != "" {
		fields = append(fields, zap.String("client_cert_file", p.CertFile))
	}
	if !p.FailClosed {
		log.Warn("!!! policy.failClosed is false: while flex-auth is down, tokens are issued on the plan alone "+
			"(each one logged and counted in registry_token_policy_fail_open_total)", fields...)
	} else {
		log.Info("policy check enabled", fields...)
	}
	return c, nil
}

// newNonces returns the DPoP nonce source: keyed by
// authority.dpop.nonceKeyFile or nonceKey, else by a random key of this
// process (fine for one replica; the verifier needs nonces in any case
// for the window after a new replay epoch).
func newNonces(d config.DPoP) (dpop.NonceSource, error) {
	keys, err := d.NonceKeys()
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		key := make([]byte, config.MinNonceKeyLength)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		keys = [][]byte{key}
	}
	return dpop.NewHMACNonces(keys[0], nonceLifetime, keys[1:]...)
}

// basicRealm is the realm of the Basic challenge the token endpoint's 401
// answers add when client certificates reach it (the listener verifies
// them, or trusted proxies forward them): a certificate-bound OpTok may
// then come as a password. Empty otherwise.
func basicRealm(cfg config.Config) string {
	if cfg.Server.TLS.ClientCAFile == "" && len(cfg.Server.TrustedProxies) == 0 {
		return ""
	}
	return cfg.Registry.Realm
}
