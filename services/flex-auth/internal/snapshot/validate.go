package snapshot

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalid is matched (errors.Is) by every problem Parse reports.
var ErrInvalid = errors.New("snapshot: invalid")

// FieldError is one problem in a snapshot. Path points at the field, in the
// form actors[2].max_ttl_hours; Actor names the actor when known.
type FieldError struct {
	Path    string
	Actor   string
	Problem string
}

func (e *FieldError) Error() string {
	if e.Actor != "" {
		return fmt.Sprintf("%s (actor %q): %s", e.Path, e.Actor, e.Problem)
	}
	return e.Path + ": " + e.Problem
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *FieldError) Is(target error) bool { return target == ErrInvalid }

const maxNameLen = 128

func validateEntry(path string, e *Entry) []error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Path: path + "." + field, Actor: e.Name, Problem: fmt.Sprintf(format, args...)})
	}
	knownType := false
	for _, t := range Types() {
		knownType = knownType || e.Type == t
	}
	switch {
	case e.Name == "":
		bad("name", "is required")
	case len(e.Name) > maxNameLen:
		bad("name", "longer than %d characters", maxNameLen)
	case !validName(e.Name):
		bad("name", "may hold only lowercase letters, digits, '.', '_' and '-', starting with a letter")
	case knownType && !strings.HasPrefix(e.Name, e.Type+"-"):
		bad("name", "does not start with %q as its type %q requires", e.Type+"-", e.Type)
	}
	switch {
	case e.Type == "":
		bad("type", "is required")
	case !knownType:
		bad("type", "unknown type %q (want adm, agt or atm)", e.Type)
	}
	switch {
	case e.Principal == "":
		bad("principal", "is required")
	case !validPrincipal(e.Principal):
		bad("principal", "may not contain spaces, commas or control characters")
	}
	if e.MaxTTLHours <= 0 {
		bad("max_ttl_hours", "must be greater than 0 (got %d)", e.MaxTTLHours)
	}
	if d := e.DefaultTTLHours; d != nil {
		switch {
		case *d <= 0:
			bad("default_ttl_hours", "must be greater than 0 (got %d)", *d)
		case e.MaxTTLHours > 0 && *d > e.MaxTTLHours:
			bad("default_ttl_hours", "%d exceeds max_ttl_hours %d", *d, e.MaxTTLHours)
		}
	}
	if len(e.AllowedSubjects) == 0 {
		bad("allowed_subjects", "must list at least one subject")
	}
	seen := map[string]bool{}
	for i, sub := range e.AllowedSubjects {
		field := fmt.Sprintf("allowed_subjects[%d]", i)
		switch {
		case strings.TrimSpace(sub) == "" || !validPrincipal(sub):
			bad(field, "must be a non-empty subject without spaces, commas or control characters")
		case seen[sub]:
			bad(field, "duplicate subject %q", sub)
		}
		seen[sub] = true
	}
	return errs
}

func validName(s string) bool {
	for i, c := range s {
		switch {
		case c >= 'a' && c <= 'z':
		case i > 0 && (c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'):
		default:
			return false
		}
	}
	return true
}

func validPrincipal(s string) bool {
	for _, c := range s {
		if c <= ' ' || c == ',' || c == 0x7f {
			return false
		}
	}
	return true
}
