package dpop

import (
	"errors"
	"net/http"
)

// Error is a protocol error in the shape of RFC 6749 / RFC 6750 / RFC 9449
// error responses (and of ory/fosite's RFC6749Error): a wire Code, a
// Description that is safe to show to the client, and an HTTP status hint.
//
// The package-level values (ErrInvalidDPoPProof, ...) are immutable
// sentinels: the With... methods return modified copies, and errors.Is
// matches any *Error with the same Code, so
//
//	errors.Is(err, dpop.ErrInvalidDPoPProof)
//
// holds for every proof rejection whatever its description.
//
// Descriptions written by this package are fixed strings: they never echo
// request input, so they are safe in responses, logs and metric labels.
// The wrapped cause (Unwrap) is for logs only.
type Error struct {
	// Code is the error code sent on the wire ("invalid_dpop_proof", ...).
	Code string
	// Description is a short human-readable explanation safe to return to
	// the client as error_description.
	Description string
	// Status is the HTTP status code a resource server should answer with.
	Status int
	// Nonce, when set (use_dpop_nonce), is the value the server must send
	// in a DPoP-Nonce response header.
	Nonce string

	cause error
}

// Sentinel errors. Compare with errors.Is; never modify them.
var (
	// ErrInvalidRequest: the request is malformed (RFC 6750 §3.1).
	ErrInvalidRequest = &Error{Code: "invalid_request", Description: "The request is malformed.", Status: http.StatusBadRequest}
	// ErrInvalidToken: the access token is invalid, or is not bound to the
	// presented proof key or client certificate (RFC 6750 §3.1, RFC 9449 §7.1).
	ErrInvalidToken = &Error{Code: "invalid_token", Description: "The access token is invalid.", Status: http.StatusUnauthorized}
	// ErrInsufficientScope: the token lacks a required scope (RFC 6750 §3.1).
	ErrInsufficientScope = &Error{Code: "insufficient_scope", Description: "The access token does not grant the required scope.", Status: http.StatusForbidden}
	// ErrInvalidDPoPProof: the DPoP proof is missing, malformed, or fails a
	// check (RFC 9449 §7.1).
	ErrInvalidDPoPProof = &Error{Code: "invalid_dpop_proof", Description: "The DPoP proof is invalid.", Status: http.StatusUnauthorized}
	// ErrUseDPoPNonce: the proof must carry a fresh server nonce; Nonce holds
	// the value to send in the DPoP-Nonce header (RFC 9449 §8, §9). An
	// authorization server answers 400 instead of 401 (RFC 9449 §8).
	ErrUseDPoPNonce = &Error{Code: "use_dpop_nonce", Description: "Authorization server requires nonce in DPoP proof.", Status: http.StatusUnauthorized}
	// ErrTemporarilyUnavailable: a dependency (the replay store) failed or
	// is full, so the request is rejected (fail closed). The cause is
	// ErrReplayCacheFull or ErrReplayStore.
	ErrTemporarilyUnavailable = &Error{Code: "temporarily_unavailable", Description: "The service is temporarily unavailable.", Status: http.StatusServiceUnavailable}
)

// Causes wrapped by the *Error values the Verifier returns, for callers
// that count or log rejections by reason (errors.Is works on both levels).
var (
	// ErrReplayed: the proof was already used (wrapped in ErrInvalidDPoPProof).
	ErrReplayed = errors.New("dpop: proof replayed")
	// ErrProofBeforeEpoch: the proof's iat is earlier than the replay
	// cache's epoch plus the clock skew, so the cache cannot tell whether
	// it was used before (wrapped in ErrInvalidDPoPProof; see
	// Config.ReplayEpoch).
	ErrProofBeforeEpoch = errors.New("dpop: proof issued before the replay cache's epoch")
	// ErrReplayCacheFull: the in-memory replay cache holds its maximum of
	// unexpired entries and refused a new one (wrapped in
	// ErrTemporarilyUnavailable).
	ErrReplayCacheFull = errors.New("dpop: replay cache full")
	// ErrReplayStore: the replay store could not be reached or answered
	// with an error (wrapped in ErrTemporarilyUnavailable).
	ErrReplayStore = errors.New("dpop: replay store unavailable")
)

// Error implements error. It includes the cause, so it is meant for logs.
func (e *Error) Error() string {
	s := e.Code
	if e.Description != "" {
		s += ": " + e.Description
	}
	if e.cause != nil {
		s += ": " + e.cause.Error()
	}
	return s
}

// Is reports whether target is an *Error with the same Code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Unwrap returns the internal cause, if any.
func (e *Error) Unwrap() error { return e.cause }

// WithDescription returns a copy of e with the given description.
func (e *Error) WithDescription(description string) *Error {
	c := *e
	c.Description = description
	return &c
}

// WithNonce returns a copy of e carrying a DPoP-Nonce value.
func (e *Error) WithNonce(nonce string) *Error {
	c := *e
	c.Nonce = nonce
	return &c
}

// WithStatus returns a copy of e with another HTTP status hint (for
// example 400 for use_dpop_nonce at an authorization server).
func (e *Error) WithStatus(status int) *Error {
	c := *e
	c.Status = status
	return &c
}

// WithCause returns a copy of e wrapping cause (for logs, never sent).
func (e *Error) WithCause(cause error) *Error {
	c := *e
	c.cause = cause
	return &c
}
