package policy

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidPackage is matched (errors.Is) by every error Parse returns for
// a package that does not load.
var ErrInvalidPackage = errors.New("policy: invalid package")

// ErrEvaluation is matched (errors.Is) by every error Evaluate returns.
var ErrEvaluation = errors.New("policy: evaluation failed")

// Severity ranks a diagnostic.
type Severity string

// Severities. Errors stop a package from loading; warnings are style
// problems that `policy validate --strict` turns into errors.
const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
)

// Diagnostic codes: stable identifiers that tooling (CI, editors) can key on.
const (
	CodeFrontMatter     = "front_matter"      // missing or malformed YAML front matter
	CodeMarkdown        = "markdown"          // document could not be read as Markdown
	CodeRuleSyntax      = "rule_syntax"       // a rule block is not valid YAML or misses a key
	CodeNoRules         = "no_rules"          // the document has no rule blocks
	CodeDuplicateRule   = "duplicate_rule_id" // two rules share an id
	CodeInvalidEffect   = "invalid_effect"    // effect is not allow or deny
	CodeUnknownReason   = "unknown_reason"    // a rule returns an undeclared reason code
	CodeUnusedReason    = "unused_reason"     // a declared reason is never returned (style)
	CodeCELParse        = "cel_parse"         // the condition is not valid CEL
	CodeCELCheck        = "cel_check"         // unknown variable, field or type mismatch
	CodeNonBool         = "non_bool_condition"
	CodeUnreachable     = "unreachable_rule" // follows an unconditional rule
	CodeShadowed        = "shadowed_rule"    // an earlier rule always matches first (style)
	CodeNeverMatches    = "never_matches"    // the condition is the constant false (style)
	CodeMissingProse    = "missing_prose"    // no explaining prose before the rule (style)
	CodeInvalidVariable = "invalid_variable" // a declared variable is malformed
	CodeCost            = "cost_limit"       // a condition's worst-case cost exceeds the limit
	CodeDecides         = "decides"          // the request shape or the decides block is malformed
)

// Diagnostic is one problem found in a policy package.
type Diagnostic struct {
	File     string   `json:"file"`
	Line     int      `json:"line"`
	Severity Severity `json:"severity"`
	Code     string   `json:"code"`
	Message  string   `json:"message"`
}

// Error formats the diagnostic as "file:line: severity: message [code]".
func (d Diagnostic) Error() string {
	return fmt.Sprintf("%s:%d: %s: %s [%s]", d.File, d.Line, d.Severity, d.Message, d.Code)
}

// Diagnostics is a list of problems; as an error it holds at least one
// error-severity entry.
type Diagnostics []Diagnostic

// Error lists every diagnostic, one a line.
func (ds Diagnostics) Error() string {
	lines := make([]string, len(ds))
	for i, d := range ds {
		lines[i] = d.Error()
	}
	return strings.Join(lines, "\n")
}

// Is makes errors.Is(err, ErrInvalidPackage) true for a Diagnostics error.
func (ds Diagnostics) Is(target error) bool { return target == ErrInvalidPackage }

// HasErrors reports whether any entry has error severity.
func (ds Diagnostics) HasErrors() bool {
	for _, d := range ds {
		if d.Severity == SeverityError {
			return true
		}
	}
	return false
}

// Errors returns the error-severity entries.
func (ds Diagnostics) Errors() Diagnostics { return ds.filter(SeverityError) }

// Warnings returns the warning-severity entries.
func (ds Diagnostics) Warnings() Diagnostics { return ds.filter(SeverityWarning) }

func (ds Diagnostics) filter(s Severity) Diagnostics {
	var out Diagnostics
	for _, d := range ds {
		if d.Severity == s {
			out = append(out, d)
		}
	}
	return out
}

// Strict returns a copy in which warnings are promoted to errors.
func (ds Diagnostics) Strict() Diagnostics {
	out := make(Diagnostics, len(ds))
	for i, d := range ds {
		d.Severity = SeverityError
		out[i] = d
	}
	return out
}

// EvalError reports a condition that failed at evaluation time, for example
// a field read on a null actor. The decision returned with it is a deny.
type EvalError struct {
	RuleID string
	Err    error
}

func (e *EvalError) Error() string {
	return fmt.Sprintf("policy: rule %q: %v", e.RuleID, e.Err)
}

// Unwrap exposes the underlying CEL error.
func (e *EvalError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrEvaluation) true.
func (e *EvalError) Is(target error) bool { return target == ErrEvaluation }

type diagSink struct {
	file  string
	diags Diagnostics
}

func (s *diagSink) add(line int, sev Severity, code, format string, args ...any) {
	s.diags = append(s.diags, Diagnostic{
		File: s.file, Line: line, Severity: sev, Code: code,
		Message: fmt.Sprintf(format, args...),
	})
}

func (s *diagSink) errorf(line int, code, format string, args ...any) {
	s.add(line, SeverityError, code, format, args...)
}

func (s *diagSink) warnf(line int, code, format string, args ...any) {
	s.add(line, SeverityWarning, code, format, args...)
}
