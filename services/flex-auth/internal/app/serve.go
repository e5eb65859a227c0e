// Package app runs the flex-auth decision service: the serve flags, the
// wiring of logger, meter, decision log, engine, caller authentication
// and HTTP server, the signals and the shutdown.
package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/stellaops/authgate/pkg/httpx"
	"github.com/stellaops/authgate/pkg/obs"
	"github.com/stellaops/authgate/pkg/process"
	"github.com/stellaops/authgate/services/flex-auth/internal/checkapi"
	"github.com/stellaops/authgate/services/flex-auth/internal/config"
	"github.com/stellaops/authgate/services/flex-auth/internal/decisionlog"
	"github.com/stellaops/authgate/services/flex-auth/internal/engine"
	"github.com/stellaops/authgate/services/flex-auth/internal/metrics"
	"github.com/stellaops/authgate/services/flex-auth/internal/server"
)

// Env is what Run takes from its process.
type Env struct {
	Args    []string
	Environ []string
	Stdout  io.Writer
	Stderr  io.Writer // the process log (JSON lines)
	// Listening, when set, is called with the bound address once the
	// listener is open (tests listen on 127.0.0.1:0).
	Listening func(net.Addr)
	// Signals, when set, replaces the process signals: SIGHUP reloads,
	// SIGUSR1 reopens the decision log. When nil, Run subscribes to both.
	Signals <-chan os.Signal
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Run serves until ctx is done, then drains and returns.
func Run(ctx context.Context, env Env) error {
	cfg, err := LoadConfig(env.Args, env.Environ)
	if err != nil {
		return err
	}
	now := env.Now
	if now == nil {
		now = time.Now
	}
	stderr := env.Stderr
	if stderr == nil {
		stderr = io.Discard
	}
	log, err := obs.NewLogger(stderr, cfg.LogLevel)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	if fields := process.TuneGC(env.Environ, process.GC{Percent: DefaultGCPercent, MemoryLimit: DefaultMemoryLimit}); len(fields) > 0 {
		log.Info("garbage collector settings (GOGC and GOMEMLIMIT override them)", fields...)
	}

	om, err := obs.NewMetrics()
	if err != nil {
		return err
	}
	defer func() { _ = om.Shutdown(context.Background()) }()
	var eng *engine.Engine
	m, err := metrics.New(om.Meter("flex-auth"), func() int64 {
		if eng == nil || eng.Active() == nil {
			return 0
		}
		return int64(eng.Active().Snapshot.Len())
	})
	if err != nil {
		return err
	}

	sync, _ := decisionlog.ParseSyncMode(cfg.DecisionLog.Sync)
	dlog, err := openDecisionLog(ctx, cfg.DecisionLog, sync, m, log, now)
	if err != nil {
		return err
	}
	defer func() { _ = dlog.Close() }()

	eng, err = engine.New(engine.Config{RegistryFile: cfg.Registry, PolicyFile: cfg.Policy, PolicyFiles: cfg.Policies, DataFile: cfg.Data, Now: now,
		OnReload: func(result string, err error) {
			m.Reload(result)
			switch {
			case err == nil:
			case eng == nil: // the initial load: there is no previous pair
				log.Error("load failed; no registry and policy to serve, not starting", zap.Error(err))
			default:
				log.Error("reload failed; previous registry and policy stay active", zap.Error(err))
			}
		}})
	if err != nil {
		return err
	}
	p := eng.Active()
	log.Info("loaded", zap.String("registry", cfg.Registry), zap.String("registry_digest", p.Snapshot.Digest()),
		zap.Int("actors", p.Snapshot.Len()), zap.String("policy", p.First.Name()), zap.String("policy_digest", p.First.Digest()),
		zap.Int("packages", len(p.Packages)), zap.String("data_digest", p.DataDigest()))

	pager := checkapi.RandomPager()
	if cfg.Search.PageTokenKeyFile != "" {
		if pager, err = checkapi.LoadPager(cfg.Search.PageTokenKeyFile); err != nil {
			return fmt.Errorf("search.pageTokenKeyFile: %w", err)
		}
	}
	lim, err := newLimits(cfg.Limits, now)
	if err != nil {
		return err
	}
	g, err := newGuard(ctx, cfg.Auth, log, om.Meter("flex-auth"), now)
	if err != nil {
		return err
	}
	defer g.stop()
	srv, e := server.New(server.Deps{Engine: eng, Log: dlog, LogSync: sync, Metrics: m, Logger: log,
		Exporter: om.Handler(), Now: now, Guard: g.middleware, AuthReady: g.ready, PublicURL: cfg.Auth.PublicURL,
		Pager: pager, Limits: lim, SearchBudget: cfg.Limits.SearchCandidates})

	if cfg.Server.DebugAddr != "" {
		stopDebug, err := serveDebug(ctx, cfg.Server.DebugAddr, log)
		if err != nil {
			return err
		}
		defer stopDebug()
	}
	var tlsCfg *tls.Config
	if cfg.Server.TLS.Enabled() {
		if tlsCfg, err = httpx.TLSConfig(cfg.Server.TLS.CertFile, cfg.Server.TLS.KeyFile, cfg.Server.TLS.ClientCAFile,
			httpx.WithReloadLog(log)); err != nil {
			return fmt.Errorf("server.tls.%w", err)
		}
	}
	ln, err := new(net.ListenConfig).Listen(ctx, "tcp", cfg.Server.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Server.Addr, err)
	}
	log.Info("listening", zap.String("addr", ln.Addr().String()), zap.Bool("tls", tlsCfg != nil),
		zap.Bool("client_certificates", tlsCfg != nil && tlsCfg.ClientCAs != nil), zap.String("decision_log", cfg.DecisionLog.File),
		zap.String("log_sync", string(sync)), zap.Bool("watch", cfg.Reload.Watch), zap.Bool("caller_auth", g.middleware != nil))

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sigs, stopSignals := process.Subscribe(env.Signals, syscall.SIGHUP, syscall.SIGUSR1)
	defer stopSignals()
	go process.HandleSignals(ctx, sigs, map[os.Signal]func(){
		syscall.SIGHUP:  func() { reloadFiles(eng, log) },
		syscall.SIGUSR1: func() { reopenLog(dlog, log) },
	})
	if cfg.Reload.Watch {
		if err := eng.Watch(ctx, cfg.Reload.Debounce, func(err error) { log.Warn("file watch", zap.Error(err)) }); err != nil {
			_ = ln.Close()
			return err
		}
	}

	srv.SetReady(true)
	if env.Stdout != nil {
		fmt.Fprintf(env.Stdout, "flex-auth listening on %s\n", ln.Addr())
	}
	if env.Listening != nil {
		env.Listening(ln.Addr())
	}
	limits := httpx.DefaultLimits
	limits.MaxConnectionAge, limits.Now = cfg.Server.MaxConnectionAge, now
	return serveHTTP(ctx, e, ln, tlsCfg, limits, func() { srv.SetReady(false) })
}

// openDecisionLog opens the decision log with its rotation, signing and
// disk-space settings, and checkpoints it every checkpointInterval while
// ctx lasts (the log signs one itself while decisions come in; this
// covers the last ones when the service goes idle).
func openDecisionLog(ctx context.Context, c config.DecisionLogConfig, sync decisionlog.SyncMode, m *metrics.Metrics, log *zap.Logger, now func() time.Time) (*decisionlog.Log, error) {
	dc := decisionlog.Config{Path: c.File, Sync: sync, MaxSize: c.MaxSize, MaxAge: c.MaxAge, MaxFiles: c.MaxFiles,
		CheckpointInterval: c.CheckpointInterval, MinFreeBytes: c.MinFreeBytes, Now: now,
		OnError: func(err error) {
			m.LogWriteError()
			log.Error("decision log write failed; its decisions are answered 503", zap.Error(err))
		},
		OnRotate: func(to string) {
			m.LogRotation()
			log.Info("decision log rotated", zap.String("rotated_to", to))
		}}
	if c.MinFreeBytes == 0 {
		dc.MinFreeBytes = -1
	}
	if c.SigningKeyFile != "" {
		s, err := decisionlog.LoadSigner(c.SigningKeyFile)
		if err != nil {
			return nil, err
		}
		dc.Signer = s
	}
	dlog, err := decisionlog.Open(dc)
	if err != nil {
		return nil, err
	}
	if n := dlog.TornBytes(); n > 0 {
		log.Warn("decision log ended in a torn line; cut it", zap.String("file", c.File), zap.Int64("bytes", n))
	}
	if err := m.ObserveLogDisk(dlog.FreeBytes, c.MinFreeBytes); err != nil {
		_ = dlog.Close()
		return nil, err
	}
	if dc.Signer != nil {
		go func() {
			t := time.NewTicker(c.CheckpointInterval)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					_ = dlog.Checkpoint()
				}
			}
		}()
	}
	return dlog, nil
}

// serveHTTP serves e on ln, over TLS when tlsCfg is not nil.
func serveHTTP(ctx context.Context, e *echo.Echo, ln net.Listener, tlsCfg *tls.Config, limits httpx.Limits, notReady func()) error {
	hs := httpx.NewServer(e, limits)
	hs.TLSConfig = tlsCfg
	err := httpx.Serve(ctx, hs, ln, limits.ShutdownTimeout, notReady)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// reloadFiles reloads the registry, policy and data files (SIGHUP); a
// failure is logged by the engine's OnReload and keeps the previous ones.
func reloadFiles(eng *engine.Engine, log *zap.Logger) {
	if err := eng.Reload(); err == nil {
		p := eng.Active()
		log.Info("reloaded", zap.String("registry_digest", p.Snapshot.Digest()), zap.String("policy_digest", p.First.Digest()))
	}
}

// reopenLog reopens the decision log (SIGUSR1, after logrotate moved it).
func reopenLog(dlog *decisionlog.Log, log *zap.Logger) {
	if err := dlog.Reopen(); err != nil {
		log.Error("decision log reopen failed; decisions fail closed until it can be written", zap.Error(err))
	} else {
		log.Info("decision log reopened")
	}
}
