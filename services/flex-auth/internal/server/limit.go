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
	// RefusalDelay is the longest a refusal waits before it is answered:
	// the caller's wait, up to this. A flooding caller's connections then
	// idle instead of asking again at once, so being refused costs it (and
	// the service) a request per wait, not as many as it can send. 0
	// answers at once.
	RefusalDelay time.Duration
}

// takeDecisions takes n decisions from the caller's budget.
func (s *Server) takeDecisions(c echo.Context, n int) error {
	return s.limited(c, s.deps.Limits.Decisions.Take(Caller(c), float64(n)))
}

// limited counts and, once per interval and caller, logs a refusal, then
// holds it for the caller's wait (at most Limits.RefusalDelay, and not
// beyond the request's end); nil when r is nil.
func (s *Server) limited(c echo.Context, r *limits.Refusal) error {
	if r == nil {
		return nil
	}
	s.deps.Metrics.Limited(r.Limit)
	if r.Log {
		s.deps.Logger.Warn("caller over its limit; refusing with 429", zap.String("caller", r.Caller),
			zap.String("limit", r.Limit), zap.Int("refused", r.Refused), zap.Duration("retry_after", r.RetryAfter))
	}
	if hold := min(r.RetryAfter, s.deps.Limits.RefusalDelay); hold > 0 {
		t := time.NewTimer(hold)
		defer t.Stop()
		select {
		case <-t.C:
			r.RetryAfter -= hold
		case <-c.Request().Context().Done():
		}
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
