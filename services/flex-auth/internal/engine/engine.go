// Package engine holds the active (registry snapshot, policy package) pair
// and decides check requests with it. Reload reads both files again and
// swaps the pair atomically; a pair that fails to load is reported and the
// previous one stays active, so requests in flight never see a half-loaded
// state.
package engine

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stellaops/authgate/pkg/policy"
	"github.com/stellaops/authgate/services/flex-auth/internal/checkapi"
	"github.com/stellaops/authgate/services/flex-auth/internal/entities"
	"github.com/stellaops/authgate/services/flex-auth/internal/snapshot"
)

// Pair is one loaded snapshot, its policy packages and the optional
// entity data, immutable once built.
type Pair struct {
	Snapshot *snapshot.Snapshot
	// Policy is the first package loaded (the only one, usually).
	Policy *policy.Package
	// Packages lists every package in load order.
	Packages []*policy.Package
	// Data is the entity data document, or nil.
	Data     *entities.Data
	LoadedAt time.Time
	routes   routes
}

// Reload results, the values of the result label of the reloads metric.
const (
	ReloadSuccess = "success"
	ReloadFailure = "failure"
)

// Config configures an Engine.
type Config struct {
	RegistryFile string
	// PolicyFile is one package file or a directory of *.md packages;
	// PolicyFiles adds more of either.
	PolicyFile  string
	PolicyFiles []string
	// DataFile is the optional entity data document.
	DataFile string
	Now      func() time.Time
	// OnReload is called after every reload attempt (the initial load
	// included) with ReloadSuccess or ReloadFailure.
	OnReload func(result string, err error)
}

// Status describes the last reloads, for /healthz.
type Status struct {
	LastReload      time.Time
	LastReloadError string
	LastErrorAt     time.Time
	Reloads         int64
	Failures        int64
}

// View is the active pair together with the reload status that goes with
// it, taken at one instant: a reader never sees the count of a reload
// with the files of the one before.
type View struct {
	Pair   *Pair
	Status Status
}

// Engine decides requests with the active pair. It is safe for concurrent
// use; reloads are serialized.
type Engine struct {
	cfg    Config
	active atomic.Pointer[Pair]
	view   atomic.Pointer[View]
	mu     sync.Mutex // serializes Reload and guards status
	status Status
}

// New loads the initial pair; it fails when either file is invalid.
func New(cfg Config) (*Engine, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	e := &Engine{cfg: cfg}
	if err := e.Reload(); err != nil {
		return nil, err
	}
	return e, nil
}

func (c *Config) policies() []string {
	var out []string
	if c.PolicyFile != "" {
		out = append(out, c.PolicyFile)
	}
	return append(out, c.PolicyFiles...)
}

func (c *Config) files() []string {
	out := append([]string{c.RegistryFile}, c.policies()...)
	if c.DataFile != "" {
		out = append(out, c.DataFile)
	}
	return out
}

// Load reads and validates a snapshot and one policy package.
func Load(registryFile, policyFile string, now time.Time) (*Pair, error) {
	return LoadSet(Config{RegistryFile: registryFile, PolicyFile: policyFile}, now)
}

// LoadSet reads and validates every file cfg names: the snapshot, the
// packages (each file, or each *.md file of a directory) and the entity
// data, and checks that no two packages decide the same request.
func LoadSet(cfg Config, now time.Time) (*Pair, error) {
	snap, serr := snapshot.LoadFile(cfg.RegistryFile)
	if serr != nil {
		serr = fmt.Errorf("registry %s: %w", cfg.RegistryFile, serr)
	}
	var data *entities.Data
	var derr error
	if cfg.DataFile != "" {
		if data, derr = entities.LoadFile(cfg.DataFile); derr != nil {
			derr = fmt.Errorf("data %s: %w", cfg.DataFile, derr)
		}
	}
	var pdata policy.Data
	if data != nil {
		pdata = data
	}
	pkgs, perr := loadPackages(cfg.policies(), pdata)
	if err := errors.Join(serr, derr, perr); err != nil {
		return nil, err
	}
	rt, err := newRoutes(pkgs)
	if err != nil {
		return nil, err
	}
	return &Pair{Snapshot: snap, Policy: pkgs[0], Packages: pkgs, Data: data, LoadedAt: now, routes: rt}, nil
}

// Reload reads both files and makes them active together. On failure the
// previous pair stays active and the error is recorded in Status.
func (e *Engine) Reload() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.cfg.Now()
	p, err := LoadSet(e.cfg, now)
	e.status.Reloads++
	result := ReloadSuccess
	if err != nil {
		result = ReloadFailure
		e.status.Failures++
		e.status.LastReloadError = err.Error()
		e.status.LastErrorAt = now
	} else {
		e.active.Store(p)
		e.status.LastReload = now
		e.status.LastReloadError = ""
	}
	e.view.Store(&View{Pair: e.active.Load(), Status: e.status})
	if e.cfg.OnReload != nil {
		e.cfg.OnReload(result, err)
	}
	return err
}

// Active returns the pair in use; never nil once New succeeded.
func (e *Engine) Active() *Pair { return e.active.Load() }

// Status returns a copy of the reload status.
func (e *Engine) Status() Status { return e.View().Status }

// View returns the active pair and its reload status as one consistent
// snapshot, without waiting for a reload in progress.
func (e *Engine) View() View {
	if v := e.view.Load(); v != nil {
		return *v
	}
	return View{}
}

// Decide evaluates in with the pair and fills the decision envelope
// (except DecisionID). A condition that fails at evaluation time is a deny
// with the package's default reason; the error is returned alongside so
// that it can be counted.
func (p *Pair) Decide(in *checkapi.Request) (checkapi.Decision, error) {
	pkg := p.Policy
	if len(p.Packages) > 1 {
		action := in.Action
		if action == "" {
			action = checkapi.DefaultAction
		}
		pkg = p.routes.find(action, "")
	}
	if pkg == nil || pkg.Shape() != policy.ShapeCheck {
		return p.noPackage(in), nil
	}
	return p.decideWith(pkg, in)
}

func (p *Pair) decideWith(pkg *policy.Package, in *checkapi.Request) (checkapi.Decision, error) {
	actor, _ := p.Snapshot.Lookup(in.Actor)
	r := policy.Request{
		Actor: in.Actor, Subject: in.Subject, Action: in.Action, Principal: in.Principal,
		Resource: in.Resource, Context: in.Context,
	}
	if in.TTLHours != nil {
		r.TTLHours, r.HasTTL = *in.TTLHours, true
	}
	r.ApplyDefaults(actor)
	d, err := pkg.Evaluate(&r, actor)
	if err != nil || !d.Effect.Valid() {
		d.Effect = policy.EffectDeny
	}
	out := checkapi.Decision{
		Effect:    string(d.Effect),
		Reason:    d.Reason,
		Backend:   pkg.Backend(),
		Policy:    checkapi.PolicyRef{Package: pkg.Name(), Version: pkg.Version(), Digest: pkg.Digest()},
		Registry:  checkapi.RegistryRef{Digest: p.Snapshot.Digest()},
		Actor:     r.Actor,
		Subject:   r.Subject,
		Action:    r.Action,
		Principal: r.Principal,
	}
	if r.HasTTL {
		ttl := r.TTLHours
		out.TTLHours = &ttl
	}
	return out, err
}
