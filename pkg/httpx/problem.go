// Package httpx is the HTTP plumbing both services share: an echo instance
// with a structured request log that records each error once, RFC 9457
// problem responses rendered from a service's own error table, health and
// metrics routes, and a hardened http.Server with graceful shutdown.
package httpx

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// Problem is an RFC 9457 problem document. Code is the machine-readable
// error code, sent as "error" (RFC 6750 style) and in the registry-style
// "errors" array; Description is the public, non-secret explanation.
type Problem struct {
	Status      int
	Code        string
	Title       string
	Description string
	// Headers are added to the response (e.g. WWW-Authenticate, DPoP-Nonce).
	Headers http.Header
	// Extra members merged into the JSON body.
	Extra map[string]any
}

func (p *Problem) Error() string {
	if p.Description == "" {
		return p.Code
	}
	return p.Code + ": " + p.Description
}

// Mapper turns a handler error into the problem sent to the client. It
// returns nil for errors it does not know; those become a generic 500.
type Mapper func(error) *Problem

// ProblemContentType is the media type of problem responses.
const ProblemContentType = "application/problem+json"

// registryCodes maps OAuth-style codes onto the distribution error codes
// Docker clients display.
var registryCodes = map[int]string{
	http.StatusUnauthorized: "UNAUTHORIZED",
	http.StatusForbidden:    "DENIED",
	http.StatusBadRequest:   "INVALID_REQUEST",
	http.StatusNotFound:     "NOT_FOUND",
}

// body renders the problem members: type/title/status/detail (RFC 9457),
// error/error_description (RFC 6750), errors[] (distribution).
func (p *Problem) body() map[string]any {
	title := p.Title
	if title == "" {
		title = http.StatusText(p.Status)
	}
	b := map[string]any{
		"type":   "about:blank",
		"title":  title,
		"status": p.Status,
		"error":  p.Code,
	}
	if p.Description != "" {
		b["detail"] = p.Description
		b["error_description"] = p.Description
	}
	regCode, ok := registryCodes[p.Status]
	if !ok {
		regCode = strings.ToUpper(p.Code)
	}
	b["errors"] = []map[string]string{{"code": regCode, "message": firstNonEmpty(p.Description, title)}}
	for k, v := range p.Extra {
		b[k] = v
	}
	return b
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// WriteProblem writes p as application/problem+json.
func WriteProblem(w http.ResponseWriter, p *Problem) {
	for k, vs := range p.Headers {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.Header().Set(echo.HeaderContentType, ProblemContentType)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p.body())
}

// ErrorHandler renders errors through m. Echo's own errors (404, 405, 413,
// bind errors) keep their status with a generic description; anything
// unknown is a 500 that reveals nothing.
func ErrorHandler(m Mapper) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		p := resolve(m, err)
		if c.Request().Method == http.MethodHead {
			for k, vs := range p.Headers {
				c.Response().Header()[k] = vs
			}
			_ = c.NoContent(p.Status)
			return
		}
		WriteProblem(c.Response(), p)
	}
}

func resolve(m Mapper, err error) *Problem {
	if m != nil {
		if p := m(err); p != nil {
			return p
		}
	}
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	var he *echo.HTTPError
	if errors.As(err, &he) && he.Code < 500 {
		code := strings.ToLower(strings.ReplaceAll(http.StatusText(he.Code), " ", "_"))
		return &Problem{Status: he.Code, Code: code, Description: http.StatusText(he.Code)}
	}
	return &Problem{Status: http.StatusInternalServerError, Code: "server_error", Description: "internal error"}
}
