package server

import (
	"errors"
	"net/http"

	"github.com/stellaops/authgate/pkg/httpx"
	"github.com/stellaops/authgate/services/flex-auth/internal/checkapi"
)

// ReasonLogUnavailable is the reason of the deny answered when a decision
// could not be written to the decision log.
const ReasonLogUnavailable = "decision_log_unavailable"

// errLogUnavailable: the decision log write failed, so no decision is
// given (fail closed).
type errLogUnavailable struct{ cause error }

func (e *errLogUnavailable) Error() string { return "decision log unavailable: " + e.cause.Error() }
func (e *errLogUnavailable) Unwrap() error { return e.cause }

// Errors is the flex-auth error table: domain error -> HTTP problem.
func Errors(err error) *httpx.Problem {
	var fe *checkapi.FieldError
	var lu *errLogUnavailable
	switch {
	case errors.As(err, &fe):
		return &httpx.Problem{Status: http.StatusBadRequest, Code: "invalid_request",
			Description: fe.Error(), Extra: map[string]any{"field": fe.Field}}
	case errors.As(err, &lu):
		return &httpx.Problem{Status: http.StatusServiceUnavailable, Code: ReasonLogUnavailable,
			Description: "The decision could not be recorded; the request is denied.",
			Extra:       map[string]any{"effect": "deny", "reason": ReasonLogUnavailable}}
	}
	if p := limitProblem(err); p != nil {
		return p
	}
	return authProblem(err)
}
