package app

import (
	"errors"
	"time"

	"github.com/stellaops/authgate/services/flex-auth/internal/config"
	"github.com/stellaops/authgate/services/flex-auth/internal/limits"
	"github.com/stellaops/authgate/services/flex-auth/internal/server"
)

// newLimits builds the per-caller limiters of cfg.
func newLimits(cfg config.LimitsConfig, now func() time.Time) (server.Limits, error) {
	d, err1 := limits.New(limits.Config{Name: "decisions", Rate: cfg.DecisionsPerSecond, Burst: cfg.DecisionsBurst,
		MaxCallers: cfg.MaxCallers, LogInterval: cfg.LogInterval, Now: now})
	s, err2 := limits.New(limits.Config{Name: "search_candidates", Rate: cfg.SearchCandidatesPerSecond, Burst: cfg.SearchCandidatesBurst,
		MaxCallers: cfg.MaxCallers, LogInterval: cfg.LogInterval, Now: now})
	return server.Limits{Decisions: d, SearchCandidates: s, RefusalDelay: cfg.RefusalDelay}, errors.Join(err1, err2)
}
