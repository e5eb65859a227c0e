package server

import (
	"errors"

	"github.com/stellaops/authgate/pkg/dpop"
	"github.com/stellaops/authgate/pkg/httpx"
)

// RetryAfter is the Retry-After value (seconds) of a 503 caller
// authentication answer (the replay store or the Authority's keys are
// not available).
const RetryAfter = "5"

// authProblem maps caller-authentication errors (RFC 6750 / RFC 9449) to
// problems with their WWW-Authenticate challenge; nil for anything else.
func authProblem(err error) *httpx.Problem {
	var e *dpop.Error
	if !errors.As(err, &e) {
		return nil
	}
	p := &httpx.Problem{Status: e.Status, Code: e.Code, Description: e.Description, Headers: map[string][]string{}}
	if e.Status == 401 || e.Status == 403 {
		p.Headers.Set("WWW-Authenticate", dpop.NewChallenge(dpop.SchemeDPoP, e).String())
	}
	if e.Status == 503 {
		p.Headers.Set("Retry-After", RetryAfter)
	}
	if e.Nonce != "" {
		p.Headers.Set(dpop.HeaderDPoPNonce, e.Nonce)
	}
	return p
}
