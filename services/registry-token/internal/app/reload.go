package app

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/stellaops/authgate/pkg/filewatch"
	"github.com/stellaops/authgate/services/registry-token/internal/config"
	"github.com/stellaops/authgate/services/registry-token/internal/signing"
	"github.com/stellaops/authgate/services/registry-token/internal/token"
)

// Reload results, the result label of registry_token_config_reloads_total.
const (
	ReloadSuccess = "success"
	ReloadFailure = "failure"
)

// source is where the configuration is read from, at start and at each
// reload.
type source struct {
	file    string
	environ []string
	addr    string // --addr, overrides server.addr
	watch   bool   // --watch, sets reload.watch
}

func (s source) load() (config.Config, *signing.Set, error) {
	cfg, keys, err := prepare(s.file, s.environ)
	if s.addr != "" {
		cfg.Server.Addr = s.addr
	}
	if s.watch {
		cfg.Reload.Watch = true
	}
	return cfg, keys, err
}

// state is what one valid configuration serves with.
type state struct {
	cfg    config.Config
	keys   *signing.Set
	tokens *token.Handler
	gate   token.Gate
}

// builder turns a valid configuration into a state; prev (nil at start)
// lets it keep what did not change.
type builder func(cfg config.Config, keys *signing.Set, prev *state) (*state, error)

// ReloadStatus is the reload detail of /readyz.
type ReloadStatus struct {
	// File is the configuration file; LoadedAt is when the configuration
	// serving now was loaded.
	File     string    `json:"file"`
	LoadedAt time.Time `json:"loadedAt"`
	// ActiveKeyID is the kid tokens are signed with.
	ActiveKeyID string `json:"activeKeyId"`
	// Reloads and FailedReloads count the reload attempts since start.
	Reloads       int `json:"reloads"`
	FailedReloads int `json:"failedReloads"`
	// LastReload is the latest reload attempt, if any.
	LastReload *ReloadAttempt `json:"lastReload,omitempty"`
}

// ReloadAttempt is one reload, successful or not.
type ReloadAttempt struct {
	At     time.Time `json:"at"`
	Result string    `json:"result"`
	// Problems lists why the file was refused (the previous configuration
	// kept serving).
	Problems []string `json:"problems,omitempty"`
	// RestartRequired names settings that differ from the running ones
	// but change only at a restart.
	RestartRequired []string `json:"restartRequired,omitempty"`
}

// reloader re-reads the configuration on SIGHUP or a file change and
// swaps in the new state; a configuration that does not load or validate
// leaves the previous one serving.
type reloader struct {
	src     source
	startup config.Config // restart-only settings keep these values
	build   builder
	live    *token.Live
	log     *zap.Logger
	now     func() time.Time
	reloads metric.Int64Counter
	watcher *filewatch.Watcher // nil without reload.watch

	cur      atomic.Pointer[state]
	mu       sync.Mutex // serializes reloads and guards watcher
	statusMu sync.Mutex // guards status; never held while loading, so /readyz never waits for a reload
	status   ReloadStatus
}

func newReloader(src source, first *state, build builder, log *zap.Logger, meter metric.Meter, now func() time.Time) (*reloader, error) {
	reloads, err := meter.Int64Counter(token.MetricConfigReloads,
		metric.WithDescription("Configuration reload attempts (SIGHUP or file change), by result; a failure keeps the previous configuration serving."),
		metric.WithUnit("{reload}"))
	if err != nil {
		return nil, err
	}
	r := &reloader{src: src, startup: first.cfg, build: build, live: token.NewLive(first.tokens), log: log, now: now, reloads: reloads}
	r.cur.Store(first)
	r.status = ReloadStatus{File: src.file, LoadedAt: now(), ActiveKeyID: first.keys.Active().KeyID()}
	for _, res := range []string{ReloadSuccess, ReloadFailure} {
		reloads.Add(context.Background(), 0, r.result(res))
	}
	return r, nil
}

func (r *reloader) result(res string) metric.AddOption {
	return metric.WithAttributeSet(attribute.NewSet(attribute.String("result", res)))
}

// current is the state serving now.
func (r *reloader) current() *state { return r.cur.Load() }

// Status is the /readyz detail.
func (r *reloader) Status() ReloadStatus {
	r.statusMu.Lock()
	defer r.statusMu.Unlock()
	return r.status
}

// record updates the status under its own lock.
func (r *reloader) record(update func(*ReloadStatus)) {
	r.statusMu.Lock()
	defer r.statusMu.Unlock()
	update(&r.status)
}

// Reload re-reads the configuration and key files. trigger names the
// cause in the log (sighup, file_change).
func (r *reloader) Reload(trigger string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	at := r.now()
	cfg, keys, err := r.src.load()
	if err == nil {
		err = r.cur.Load().keys.CheckSuccessor(keys)
	}
	var next *state
	if err == nil {
		next, err = r.build(cfg, keys, r.cur.Load())
	}
	if err != nil {
		problems := problemLines(err)
		r.log.Error("configuration reload failed: the previous configuration keeps serving",
			zap.String("trigger", trigger), zap.String("file", r.src.file), zap.Strings("problems", problems))
		r.reloads.Add(context.Background(), 1, r.result(ReloadFailure))
		r.record(func(s *ReloadStatus) {
			s.Reloads++
			s.FailedReloads++
			s.LastReload = &ReloadAttempt{At: at, Result: ReloadFailure, Problems: problems}
		})
		return err
	}
	restart := config.RestartOnly(r.startup, cfg)
	if len(restart) > 0 {
		r.log.Warn("configuration reload: these settings change only at a restart and keep their running values",
			zap.Strings("settings", restart))
	}
	r.cur.Store(next)
	r.live.Store(next.tokens)
	r.watchFiles(cfg)
	r.reloads.Add(context.Background(), 1, r.result(ReloadSuccess))
	r.record(func(s *ReloadStatus) {
		s.Reloads++
		s.LoadedAt, s.ActiveKeyID = at, keys.Active().KeyID()
		s.LastReload = &ReloadAttempt{At: at, Result: ReloadSuccess, RestartRequired: restart}
	})
	r.log.Info("configuration reloaded", append([]zap.Field{zap.String("trigger", trigger)}, keyFields(keys, at)...)...)
	return nil
}

// problemLines splits a joined validation error into one line per problem.
func problemLines(err error) []string {
	var out []string
	for _, l := range strings.Split(err.Error(), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// keyFields describe the key set for the log: the active kid and the
// published ones.
func keyFields(keys *signing.Set, now time.Time) []zap.Field {
	var next, retired, expired []string
	for _, e := range keys.Entries() {
		switch {
		case e.Status == signing.StatusNext:
			next = append(next, e.Key.KeyID())
		case e.Status == signing.StatusRetired && e.Published(now):
			retired = append(retired, e.Key.KeyID())
		case e.Status == signing.StatusRetired:
			expired = append(expired, e.Key.KeyID())
		}
	}
	fields := []zap.Field{zap.String("kid", keys.Active().KeyID()), zap.String("signing_alg", keys.Active().Algorithm())}
	if len(next) > 0 {
		fields = append(fields, zap.Strings("next_kids", next))
	}
	if len(retired) > 0 {
		fields = append(fields, zap.Strings("retired_kids", retired))
	}
	if len(expired) > 0 {
		// Past retiredAt + signing.lifetime + 1m: no longer published.
		fields = append(fields, zap.Strings("expired_kids_to_remove", expired))
	}
	return fields
}

// watchedFiles are the files whose change triggers a reload with
// reload.watch: the configuration, the signing keys and their password
// files, and policy.caFile.
func watchedFiles(file string, cfg config.Config) []string {
	files := []string{file, cfg.Policy.CAFile}
	for _, k := range cfg.Signing.KeySet() {
		files = append(files, k.File, k.PasswordFile)
	}
	return files
}

func (r *reloader) watchFiles(cfg config.Config) {
	if r.watcher == nil {
		return
	}
	if err := r.watcher.Watch(watchedFiles(r.src.file, cfg)...); err != nil {
		r.log.Warn("file watch: cannot watch the new configuration's files", zap.Error(err))
	}
}

// startWatch reloads on changes of the watched files until ctx is done.
func (r *reloader) startWatch(ctx context.Context, debounce time.Duration) error {
	w, err := filewatch.New(filewatch.Options{
		Debounce: debounce,
		OnChange: func() { _ = r.Reload("file_change") }, // logged, counted and shown by Reload
		OnError:  func(err error) { r.log.Warn("file watch", zap.Error(err)) },
	})
	if err != nil {
		return err
	}
	if err := w.Watch(watchedFiles(r.src.file, r.current().cfg)...); err != nil {
		_ = w.Close()
		return err
	}
	r.mu.Lock()
	r.watcher = w
	r.mu.Unlock()
	go w.Run(ctx)
	return nil
}
