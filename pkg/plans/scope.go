package plans

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

const (
	// MaxScopes is the largest number of scopes (counted before duplicates
	// are merged) that one request may carry.
	MaxScopes = 100
	// MaxScopeLength bounds one scope: a type, a name of MaxNameLength bytes
	// and a generous action list fit easily.
	MaxScopeLength = 1024
	// maxQuoted is how much of an offending input an error repeats.
	maxQuoted = 64
)

var (
	// ErrInvalidScope is the sentinel that every *ScopeError wraps.
	ErrInvalidScope = errors.New("plans: invalid scope")
	// ErrTooManyScopes is returned by ParseScopes when a request carries more
	// than MaxScopes scopes.
	ErrTooManyScopes = fmt.Errorf("plans: more than %d scopes in one request", MaxScopes)
)

// ScopeError describes one malformed scope. Scope holds the offending text,
// truncated to a bounded length; Reason says what is wrong with it. It
// matches ErrInvalidScope with errors.Is.
type ScopeError struct {
	Scope  string
	Reason string
}

func (e *ScopeError) Error() string {
	return fmt.Sprintf("invalid scope %q: %s", e.Scope, e.Reason)
}

// Unwrap lets errors.Is(err, ErrInvalidScope) hold.
func (e *ScopeError) Unwrap() error { return ErrInvalidScope }

func scopeError(scope, reason string) *ScopeError {
	return &ScopeError{Scope: truncate(scope), Reason: reason}
}

// truncate shortens s to at most maxQuoted bytes without splitting a UTF-8
// sequence, marking the cut with "...".
func truncate(s string) string {
	if len(s) <= maxQuoted {
		return s
	}
	cut := maxQuoted
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// Resource is one entry of a token's access claim: a resource type, an exact
// name and the actions on it.
type Resource struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

// String renders the resource in scope syntax, "type:name:a,b".
func (r Resource) String() string {
	return r.Type + ":" + r.Name + ":" + strings.Join(r.Actions, ",")
}

// ParseScopes parses the values of the scope parameters of one token request.
// Each value may hold several scopes separated by spaces; empty values and
// extra spaces are ignored, so no scope at all (docker login) yields an empty
// result. Scopes naming the same resource are merged: the result keeps the
// order in which resources were first seen and, per resource, the order in
// which actions were first seen, without duplicates.
//
// More than MaxScopes scopes yields ErrTooManyScopes before any scope is
// parsed; a malformed scope yields a *ScopeError.
func ParseScopes(values []string) ([]Resource, error) {
	n := 0
	for _, v := range values {
		n += countScopes(v, MaxScopes+1-n)
		if n > MaxScopes {
			return nil, ErrTooManyScopes
		}
	}
	if n == 0 {
		return []Resource{}, nil
	}
	out := make([]Resource, 0, n)
	for _, v := range values {
		for v != "" {
			var s string
			s, v, _ = strings.Cut(v, " ")
			if s == "" {
				continue
			}
			r, err := parseScope(s)
			if err != nil {
				return nil, err
			}
			out = merge(out, r)
		}
	}
	return out, nil
}

// countScopes counts the space-separated fields of v, stopping at limit.
func countScopes(v string, limit int) int {
	n := 0
	inField := false
	for i := 0; i < len(v) && n < limit; i++ {
		if v[i] == ' ' {
			inField = false
		} else if !inField {
			inField = true
			n++
		}
	}
	return n
}

// merge adds r to out, folding it into an earlier entry for the same
// resource. out holds at most MaxScopes entries, so a linear scan is cheap.
func merge(out []Resource, r Resource) []Resource {
	for i := range out {
		if out[i].Type == r.Type && out[i].Name == r.Name {
			for _, a := range r.Actions {
				if !contains(out[i].Actions, a) {
					out[i].Actions = append(out[i].Actions, a)
				}
			}
			return out
		}
	}
	return append(out, r)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// parseScope parses one resourcescope.
func parseScope(s string) (Resource, error) {
	if len(s) > MaxScopeLength {
		return Resource{}, scopeError(s, fmt.Sprintf("longer than %d bytes", MaxScopeLength))
	}
	first := strings.IndexByte(s, ':')
	if first < 0 {
		return Resource{}, scopeError(s, "expected type:name:actions")
	}
	last := strings.LastIndexByte(s, ':')
	if first == 0 {
		return Resource{}, scopeError(s, "missing resource type")
	}
	if last == first {
		return Resource{}, scopeError(s, "missing actions")
	}
	typ, err := parseType(s, s[:first])
	if err != nil {
		return Resource{}, err
	}
	name, actions := s[first+1:last], s[last+1:]
	if name == "" {
		return Resource{}, scopeError(s, "missing resource name")
	}
	if actions == "" {
		return Resource{}, scopeError(s, "empty action list")
	}
	switch typ {
	case TypeRepository:
		return parseRepository(s, name, actions)
	case TypeRegistry:
		return parseRegistry(s, name, actions)
	}
	return Resource{}, scopeError(s, fmt.Sprintf("unknown resource type %q", truncate(typ)))
}

// parseType checks resourcetypevalue [ '(' resourcetypevalue ')' ] and
// returns the type without its class.
func parseType(scope, t string) (string, error) {
	typ := t
	if open := strings.IndexByte(t, '('); open >= 0 {
		class := t[open+1:]
		if !strings.HasSuffix(class, ")") || !isTypeValue(class[:len(class)-1]) {
			return "", scopeError(scope, "invalid resource class")
		}
		typ = t[:open]
	}
	if !isTypeValue(typ) {
		return "", scopeError(scope, "invalid resource type")
	}
	return typ, nil
}

// isTypeValue reports whether s matches [a-z0-9]+.
func isTypeValue(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isLowerAlnum(s[i]) {
			return false
		}
	}
	return true
}

func parseRepository(scope, name, actions string) (Resource, error) {
	if len(name) > MaxNameLength {
		return Resource{}, scopeError(scope, fmt.Sprintf("repository name longer than %d bytes", MaxNameLength))
	}
	if !ValidName(name) {
		return Resource{}, scopeError(scope, "invalid repository name")
	}
	list := make([]string, 0, strings.Count(actions, ",")+1)
	rest := actions
	for {
		a, tail, more := strings.Cut(rest, ",")
		if a == "" {
			return Resource{}, scopeError(scope, "empty action")
		}
		if _, ok := repositoryAction(a); !ok {
			return Resource{}, scopeError(scope, fmt.Sprintf("unknown action %q", truncate(a)))
		}
		if !contains(list, a) {
			list = append(list, canonicalAction(a))
		}
		if !more {
			break
		}
		rest = tail
	}
	return Resource{Type: TypeRepository, Name: name, Actions: list}, nil
}

// canonicalAction returns the package constant equal to a, so that results
// do not keep the request's memory alive through their action strings.
func canonicalAction(a string) string {
	switch a {
	case ActionPull:
		return ActionPull
	case ActionPush:
		return ActionPush
	case ActionDelete:
		return ActionDelete
	}
	return ActionAll
}

func parseRegistry(scope, name, actions string) (Resource, error) {
	if name != NameCatalog {
		return Resource{}, scopeError(scope, fmt.Sprintf("unknown registry resource %q", truncate(name)))
	}
	for _, a := range strings.Split(actions, ",") {
		if a == "" {
			return Resource{}, scopeError(scope, "empty action")
		}
		if a != ActionAll {
			return Resource{}, scopeError(scope, fmt.Sprintf("unknown action %q", truncate(a)))
		}
	}
	return Resource{Type: TypeRegistry, Name: NameCatalog, Actions: []string{ActionAll}}, nil
}
