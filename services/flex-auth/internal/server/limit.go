package server

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/stellaops/authgate/pkg/httpx"
	"github.com/stellaops/authgate/services/flex-auth/internal/limits"
)

// Limits are the per-caller limits (a nil limiter limits nothing).
type Limits struct {
	// Decisions: every decision counts one (each item of a batch).
	Decisions *limits.Limiter
	// SearchCandidates: every candidate a search evaluates counts one.
	SearchCandidates *limits.Limiter
}

// takeDecisions takes n decisions from the caller's budget.
func (s *Server) takeDecisions(c echo.Context, n int) error {
	return s.limited(s.deps.Limits.Decisions.Take(Caller(c), float64(n)))
}

// limited counts and, once per interval and caller, logs a refusal; nil
// when r is nil.
func (s *Server) limited(r *limits.Refusal) error {
	if r == nil {
		return nil
	}
	s.deps.Metrics.Limited(r.Limit)
	if r.Log {
		s.deps.Logger.Warn("caller over its limit; refusing with 429", zap.String("caller", r.Caller),
			zap.String("limit", r.Limit), zap.Int("refused", r.Refused), zap.Duration("retry_after", r.RetryAfter))
	}
	return r
}

// limitProblem maps a refusal to 429 with Retry-After (whole seconds,
// rounded up); nil for anything else.
func limitProblem(err error) *httpx.Problem {
	var r *limits.Refusal
	if !errors.As(err, &r) {
		return nil
	}
	secs := int((r.RetryAfter + time.Second - 1) / time.Second)
	return &httpx.Problem{Status: http.StatusTooManyRequests, Code: "too_many_requests",
		Description: "This caller is over its " + r.Limit + " limit; retry after " + strconv.Itoa(max(secs, 1)) + "s.",
		Headers:     http.Header{"Retry-After": []string{strconv.Itoa(max(secs, 1))}},
		Extra:       map[string]any{"limit": r.Limit}}
}
