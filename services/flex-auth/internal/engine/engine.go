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
	"github.com/stellaops/authgate/services/flex-auth/internal/snapshot"
)

// Pair is one loaded snapshot and policy package, immutable once built.
type Pair struct {
	Snapshot *snapshot.Snapshot
	Policy   *policy.Package
	LoadedAt time.Time
}

// Reload results, the values of the result label of the reloads metric.
const (
	ReloadSuccess = "success"
	ReloadFailure = "failure"
)

// Config configures an Engine.
type Config struct {
	RegistryFile string
	PolicyFile   string
	Now          func() time.Time
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

// Load reads and validates both files.
func Load(registryFile, policyFile string, now time.Time) (*Pair, error) {
	snap, serr := snapshot.LoadFile(registryFile)
	if serr != nil {
		serr = fmt.Errorf("registry %s: %w", registryFile, serr)
	}
	pkg, perr := policy.LoadFile(policyFile)
	if perr != nil {
		perr = fmt.Errorf("policy %s: %w", policyFile, perr)
	}
	if err := errors.Join(serr, perr); err != nil {
		return nil, err
	}
	return &Pair{Snapshot: snap, Policy: pkg, LoadedAt: now}, nil
}

// Reload reads both files and makes them active together. On failure the
// previous pair stays active and the error is recorded in Status.
func (e *Engine) Reload() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.cfg.Now()
	p, err := Load(e.cfg.RegistryFile, e.cfg.PolicyFile, now)
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
	actor, _ := p.Snapshot.Lookup(in.Actor)
	r := policy.Request{
		Actor: in.Actor, Subject: in.Subject, Action: in.Action, Principal: in.Principal,
		Resource: in.Resource, Context: in.Context,
	}
	if in.TTLHours != nil {
		r.TTLHours, r.HasTTL = *in.TTLHours, true
	}
	r.ApplyDefaults(actor)
	d, err := p.Policy.Evaluate(&r, actor)
	if err != nil || !d.Effect.Valid() {
		d.Effect = policy.EffectDeny
	}
	out := checkapi.Decision{
		Effect:    string(d.Effect),
		Reason:    d.Reason,
		Backend:   p.Policy.Backend(),
		Policy:    checkapi.PolicyRef{Package: p.Policy.Name(), Version: p.Policy.Version(), Digest: p.Policy.Digest()},
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
