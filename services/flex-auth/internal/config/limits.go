package config

import (
	"errors"
	"time"
)

// Default per-caller limits. One caller is one authenticated identity (a
// token's client or subject, a certificate's subject), else one client
// address. ops-warden asks one decision per SSH certificate it signs
// (human-paced); a registry-token replica serves about 14,000 tokens/s
// on two cores without its policy check, and fewer with it, one
// decision per granted access. 10,000 decisions/s is a sixth of what
// flex-auth answers in batches on two cores: with one caller flooding
// at it, another's /v1/check latency stays near what it is alone (at
// 20,000 its p99 grew fivefold), and the decision log grows by at most
// about 6 MiB/s per caller (about 620 bytes a decision).
const (
	DefaultDecisionsPerSecond        = 10000
	DefaultDecisionsBurst            = 10000
	DefaultSearchCandidatesPerSecond = 100000
	DefaultSearchCandidatesBurst     = 100000
	DefaultSearchCandidates          = 10000
	DefaultLimitsMaxCallers          = 10000
	DefaultLimitsLogInterval         = 10 * time.Second
	DefaultLimitsRefusalDelay        = time.Second
	MaxLimitsRefusalDelay            = 10 * time.Second
)

// LimitsConfig bounds what one caller may ask per second.
type LimitsConfig struct {
	// DecisionsPerSecond is each caller's rate of decisions (each item of
	// a batch is one); 0 turns the limit off.
	DecisionsPerSecond float64 `koanf:"decisionsPerSecond"`
	DecisionsBurst     float64 `koanf:"decisionsBurst"`
	// SearchCandidatesPerSecond is each caller's rate of candidates
	// evaluated by searches; 0 turns the limit off.
	SearchCandidatesPerSecond float64 `koanf:"searchCandidatesPerSecond"`
	SearchCandidatesBurst     float64 `koanf:"searchCandidatesBurst"`
	// SearchCandidates is the most candidates one search page evaluates;
	// a page reaching it is partial, with a next_token. 0: no bound.
	SearchCandidates int `koanf:"searchCandidates"`
	// MaxCallers bounds the table of callers (idle ones are forgotten).
	MaxCallers int `koanf:"maxCallers"`
	// LogInterval is the least time between two log lines about one
	// limited caller.
	LogInterval time.Duration `koanf:"logInterval"`
	// RefusalDelay is the longest a refusal is held before it is
	// answered (the caller's wait, up to this); 0 answers at once.
	RefusalDelay time.Duration `koanf:"refusalDelay"`
}

func defaultLimits() LimitsConfig {
	return LimitsConfig{DecisionsPerSecond: DefaultDecisionsPerSecond, DecisionsBurst: DefaultDecisionsBurst,
		SearchCandidatesPerSecond: DefaultSearchCandidatesPerSecond, SearchCandidatesBurst: DefaultSearchCandidatesBurst,
		SearchCandidates: DefaultSearchCandidates, MaxCallers: DefaultLimitsMaxCallers, LogInterval: DefaultLimitsLogInterval,
		RefusalDelay: DefaultLimitsRefusalDelay}
}

func (l LimitsConfig) validate() []error {
	var errs []error
	for _, r := range []struct {
		key         string
		rate, burst float64
	}{
		{"decisions", l.DecisionsPerSecond, l.DecisionsBurst},
		{"searchCandidates", l.SearchCandidatesPerSecond, l.SearchCandidatesBurst},
	} {
		if r.rate < 0 {
			errs = append(errs, errors.New("limits."+r.key+"PerSecond must not be negative (0 turns the limit off)"))
		}
		if r.rate > 0 && r.burst < 1 {
			errs = append(errs, errors.New("limits."+r.key+"Burst must be at least 1"))
		}
	}
	if l.SearchCandidates < 0 {
		errs = append(errs, errors.New("limits.searchCandidates must not be negative (0: no bound)"))
	}
	if l.MaxCallers < 1 {
		errs = append(errs, errors.New("limits.maxCallers must be at least 1"))
	}
	if l.LogInterval <= 0 {
		errs = append(errs, errors.New("limits.logInterval must be positive"))
	}
	if l.RefusalDelay < 0 || l.RefusalDelay > MaxLimitsRefusalDelay {
		errs = append(errs, errors.New("limits.refusalDelay must be in [0, 10s] (0 answers a refusal at once)"))
	}
	return errs
}
