// Package engine holds the active loaded set (registry snapshot, policy
// packages, optional entity data) and decides requests with it: a check
// request or an AuthZEN evaluation (pkg/policy's types) in, one Decision
// record out. Reload reads every file again and swaps the set atomically;
// a set that fails to load is reported and the previous one stays active,
// so requests in flight never see a half-loaded state. The engine knows
// nothing of HTTP: the server converts wire requests and answers at its
// edge.
package engine

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stellaops/authgate/pkg/policy"
	"github.com/stellaops/authgate/services/flex-auth/internal/entities"
	"github.com/stellaops/authgate/services/flex-auth/internal/snapshot"
)

// Set is one loaded snapshot, its policy packages and the optional
// entity data, immutable once built.
type Set struct {
	Snapshot *snapshot.Snapshot
	// First is the first package loaded (the only one, usually).
	First *policy.Package
	// Packages lists every package in load order.
	Packages []*policy.Package
	// Data is the entity data document, or nil.
	Data     *entities.Data
	LoadedAt time.Time
	routes   routes
	index    *entities.Index // of Data, for searches
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

// View is the active set together with the reload status that goes with
// it, taken at one instant: a reader never sees the count of a reload
// with the files of the one before.
type View struct {
	Set    *Set
	Status Status
}

// Engine decides requests with the active set. It is safe for concurrent
// use; reloads are serialized.
type Engine struct {
	cfg    Config
	active atomic.Pointer[Set]
	view   atomic.Pointer[View]
	mu     sync.Mutex // serializes Reload and guards status
	status Status
}

// New loads the initial set; it fails when a file is invalid.
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
func Load(registryFile, policyFile string, now time.Time) (*Set, error) {
	return LoadSet(Config{RegistryFile: registryFile, PolicyFile: policyFile}, now)
}

// LoadSet reads and validates every file cfg names: the snapshot, the
// packages (each file, or each *.md file of a directory) and the entity
// data, and checks that no two packages decide the same request.
func LoadSet(cfg Config, now time.Time) (*Set, error) {
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
	return &Set{Snapshot: snap, First: pkgs[0], Packages: pkgs, Data: data, LoadedAt: now, routes: rt, index: newIndex(data, pkgs)}, nil
}

// Reload reads every file and makes them active together. On failure the
// previous set stays active and the error is recorded in Status.
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
	e.view.Store(&View{Set: e.active.Load(), Status: e.status})
	if e.cfg.OnReload != nil {
		e.cfg.OnReload(result, err)
	}
	return err
}

// Active returns the set in use; never nil once New succeeded.
func (e *Engine) Active() *Set { return e.active.Load() }

// Status returns a copy of the reload status.
func (e *Engine) Status() Status { return e.View().Status }

// View returns the active set and its reload status as one consistent
// snapshot, without waiting for a reload in progress.
func (e *Engine) View() View {
	if v := e.view.Load(); v != nil {
		return *v
	}
	return View{}
}

// Decide decides a check request (POST /v1/check) with the package
// routed by its action. A condition that fails at evaluation time is a
// deny with the package's default reason, its error kept in Err.
func (s *Set) Decide(req policy.Request) Decision {
	pkg := s.First
	if len(s.Packages) > 1 {
		action := req.Action
		if action == "" {
			action = policy.DefaultAction
		}
		pkg = s.routes.find(action, "")
	}
	if pkg == nil || pkg.Shape() != policy.ShapeCheck {
		return s.noPackage(&req)
	}
	return s.decideCheck(pkg, req)
}

// decideCheck applies the actor's defaults to req and evaluates it with
// pkg, a package of the check shape.
func (s *Set) decideCheck(pkg *policy.Package, req policy.Request) Decision {
	actor, _ := s.Snapshot.Lookup(req.Actor)
	req.ApplyDefaults(actor)
	d := Decision{RegistryDigest: s.Snapshot.Digest(),
		Actor: req.Actor, Subject: req.Subject, Action: req.Action, Principal: req.Principal, Resource: req.Resource}
	if req.HasTTL {
		ttl := req.TTLHours
		d.TTLHours = &ttl
	}
	v, err := pkg.Evaluate(&req, actor)
	d.decidedBy(pkg, v, err)
	return d
}
