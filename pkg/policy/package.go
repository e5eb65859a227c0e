package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/interpreter"
)

// Reason is a reason code a package declares, with its description.
type Reason struct {
	Code        string
	Description string
}

// RuleInfo describes one rule of a loaded package.
type RuleInfo struct {
	ID        string
	Effect    Effect
	Reason    string
	Condition string
	Line      int
}

type rule struct {
	info    RuleInfo
	prg     cel.Program
	tracked cel.Program
	plans   searchPlans // authzen packages: what a search candidate needs for the rule to hold
	// action and byAction: see compiled.
	action   string
	byAction bool
}

// program returns the rule's program for an input: within the bounds the
// cost estimate assumed, the estimate (checked at load) already bounds
// the cost and the untracked program runs; beyond them the program with
// the run-time cost limit does.
func (r *rule) program(within bool) cel.Program {
	if within {
		return r.prg
	}
	return r.tracked
}

// Package is a loaded, compiled policy package. It is immutable and safe
// for concurrent use.
type Package struct {
	file          string
	name          string
	version       string
	backend       string
	digest        string
	defaultReason string
	reasons       []Reason
	rules         []rule
	extras        map[string]ref.Val
	shape         string
	decides       *Decides
	dataWithin    bool // every string of the entity data fits the estimate
}

// Shape returns the request shape the package decides: ShapeCheck or
// ShapeAuthZEN.
func (p *Package) Shape() string { return p.shape }

// Decides returns the requests the package declares it decides, or nil
// for a default package (no decides block).
func (p *Package) Decides() *Decides { return p.decides }

// Options tune loading.
type Options struct {
	// Data is the entity data conditions of an authzen package read; nil
	// answers empty maps.
	Data Data
	// CostLimit is the CEL cost one condition may spend (DefaultCostLimit
	// when zero).
	CostLimit uint64
}

// Name returns the package name from the front matter.
func (p *Package) Name() string { return p.name }

// Version returns the package version from the front matter.
func (p *Package) Version() string { return p.version }

// Backend returns the backend name reported in decisions.
func (p *Package) Backend() string { return p.backend }

// Digest returns "sha256:<hex>" of the package source bytes.
func (p *Package) Digest() string { return p.digest }

// File returns the file name the package was parsed from.
func (p *Package) File() string { return p.file }

// DefaultReason returns the reason of the deny given when no rule matches.
func (p *Package) DefaultReason() string { return p.defaultReason }

// Reasons returns the declared reason codes in declaration order.
func (p *Package) Reasons() []Reason { return append([]Reason(nil), p.reasons...) }

// Rules returns the rules in evaluation order.
func (p *Package) Rules() []RuleInfo {
	out := make([]RuleInfo, len(p.rules))
	for i, r := range p.rules {
		out[i] = r.info
	}
	return out
}

// Digest returns "sha256:<hex>" of b.
func Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// LoadFile reads and parses a package file.
func LoadFile(path string) (*Package, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	return Parse(path, src)
}

// Parse loads a package. On failure the error is a Diagnostics holding the
// error-severity problems (errors.Is(err, ErrInvalidPackage) holds);
// warnings are dropped: use Check to see them.
func Parse(filename string, src []byte) (*Package, error) {
	return ParseWith(filename, src, Options{})
}

// ParseWith is Parse with options.
func ParseWith(filename string, src []byte, opts Options) (*Package, error) {
	p, diags := CheckWith(filename, src, opts)
	if diags.HasErrors() {
		return nil, diags.Errors()
	}
	return p, nil
}

// Check loads a package and returns every diagnostic, warnings included.
// The package is nil when any diagnostic has error severity.
func Check(filename string, src []byte) (*Package, Diagnostics) {
	return CheckWith(filename, src, Options{})
}

// CheckWith is Check with options.
func CheckWith(filename string, src []byte, opts Options) (*Package, Diagnostics) {
	if opts.CostLimit == 0 {
		opts.CostLimit = DefaultCostLimit
	}
	s := &diagSink{file: filename}
	p := check(s, src, opts)
	if s.diags.HasErrors() {
		return nil, s.diags
	}
	if p != nil {
		p.file = filename
		p.digest = Digest(src)
	}
	return p, s.diags
}

func check(s *diagSink, src []byte, opts Options) *Package {
	doc := readDocument(s, src)
	if doc == nil {
		return nil
	}
	fm := doc.front
	p := &Package{name: fm.Name, version: fm.Version, backend: fm.Backend, defaultReason: fm.DefaultReason}
	for _, kv := range [][2]string{{"name", fm.Name}, {"version", fm.Version}, {"backend", fm.Backend}, {"default_reason", fm.DefaultReason}} {
		if kv[1] == "" {
			s.errorf(1, CodeFrontMatter, "front matter: missing %s", kv[0])
		}
	}
	declared := map[string]bool{}
	for i, r := range fm.Reasons {
		switch {
		case !isCode(r.Code, false):
			s.errorf(1, CodeFrontMatter, "front matter: reasons[%d]: code %q is not snake_case", i, r.Code)
		case declared[r.Code]:
			s.errorf(1, CodeFrontMatter, "front matter: reasons[%d]: code %q declared twice", i, r.Code)
		}
		declared[r.Code] = true
		p.reasons = append(p.reasons, Reason(r))
	}
	if fm.DefaultReason != "" && !declared[fm.DefaultReason] {
		s.errorf(1, CodeUnknownReason, "front matter: default_reason %q is not a declared reason", fm.DefaultReason)
	}
	p.shape = fm.Request
	if p.shape == "" {
		p.shape = ShapeCheck
	}
	if err := validShape(p.shape); err != nil {
		s.errorf(1, CodeDecides, "front matter: %v", err)
		return nil
	}
	if fm.Decides != nil {
		checkDecides(s, fm.Decides)
		p.decides = fm.Decides
	}
	p.dataWithin = opts.Data == nil || DataWithinEstimate(opts.Data)
	varTypes, values := declareVariables(s, p.shape, fm.Variables)
	p.extras = values
	env, err := newEnv(p.shape, varTypes, opts.Data)
	if err != nil {
		s.errorf(1, CodeInvalidVariable, "front matter: %v", err)
		return nil
	}
	if len(doc.rules) == 0 {
		s.errorf(1, CodeNoRules, "no ```%s blocks found", RuleInfoString)
	}
	if declared[ReasonCostLimitExceeded] {
		s.errorf(1, CodeFrontMatter, "front matter: reason %q is reserved for the cost limit", ReasonCostLimitExceeded)
	}
	p.rules = compileRules(s, env, doc.rules, declared, newCostLimits(opts.CostLimit, values), searchNames(p.shape, values))
	used := map[string]bool{fm.DefaultReason: true}
	complete := len(doc.rules) > 0
	for _, rb := range doc.rules {
		used[rb.Reason] = true
		complete = complete && !rb.parseFail
	}
	for _, r := range fm.Reasons {
		if !complete {
			break // a rule that did not parse may return it
		}
		if !used[r.Code] {
			s.warnf(1, CodeUnusedReason, "reason %q is declared but no rule returns it", r.Code)
		}
	}
	return p
}

// compileRules checks every rule block, compiles its condition and runs the
// reachability analysis.
// With names (the identifiers of an authzen package) each rule also gets
// its search plans.
func compileRules(s *diagSink, env *cel.Env, blocks []*ruleBlock, declared map[string]bool, lim costLimits, names []string) []rule {
	var rules []rule
	ids := map[string]int{}
	type prior struct {
		rb *ruleBlock
		c  *compiled
	}
	var earlier []prior
	var unconditional *ruleBlock
	for _, rb := range blocks {
		if !rb.hasProse {
			s.warnf(rb.line, CodeMissingProse, "rule %s has no explaining prose before it", ruleName(rb))
		}
		if rb.parseFail {
			continue
		}
		if !isCode(rb.ID, true) {
			s.errorf(rb.line, CodeRuleSyntax, "rule id %q must be lowercase letters, digits, - or _", rb.ID)
		}
		if first, dup := ids[rb.ID]; dup {
			s.errorf(rb.line, CodeDuplicateRule, "rule id %q already used by the rule at line %d", rb.ID, first)
		} else {
			ids[rb.ID] = rb.line
		}
		effect := Effect(rb.Effect)
		if !effect.Valid() {
			s.errorf(rb.line, CodeInvalidEffect, "rule %q: effect %q must be allow or deny", rb.ID, rb.Effect)
		}
		if !declared[rb.Reason] {
			s.errorf(rb.line, CodeUnknownReason, "rule %q: reason %q is not declared in the front matter", rb.ID, rb.Reason)
		}
		if unconditional != nil {
			s.errorf(rb.line, CodeUnreachable, "rule %q is unreachable: rule %q at line %d always matches", rb.ID, unconditional.ID, unconditional.line)
		}
		c := compileRule(s, env, rb, lim)
		if c == nil {
			continue
		}
		switch {
		case c.constant != nil && *c.constant && unconditional == nil:
			unconditional = rb
		case c.constant != nil && !*c.constant:
			s.warnf(rb.line, CodeNeverMatches, "rule %q never matches: its condition is false", rb.ID)
		}
		if unconditional != rb {
			for _, e := range earlier {
				if e.c.constant == nil && subset(e.c.conjuncts, c.conjuncts) {
					s.warnf(rb.line, CodeShadowed, "rule %q is shadowed: rule %q at line %d already matches every request this rule matches", rb.ID, e.rb.ID, e.rb.line)
					break
				}
			}
		}
		earlier = append(earlier, prior{rb, c})
		r := rule{
			info:    RuleInfo{ID: rb.ID, Effect: effect, Reason: rb.Reason, Condition: rb.When, Line: rb.line},
			prg:     c.prg,
			tracked: c.tracked,
			action:  c.action, byAction: c.byAction,
		}
		if names != nil {
			r.plans = planRule(env, c.checked, names, lim.limit)
		}
		rules = append(rules, r)
	}
	return rules
}

// subset reports whether every element of a is in b.
func subset(a, b []string) bool {
	for _, x := range a {
		found := false
		for _, y := range b {
			if x == y {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// Evaluate runs the rules in document order against req and the registry
// entry of its actor (nil when the actor is unknown): the first rule whose
// condition is true decides; when none matches the decision is a deny with
// the package's default reason. Call req.ApplyDefaults(actor) first.
//
// A condition that fails at evaluation time (for example reading a field
// of a null actor) yields a deny decision naming that rule together with an
// *EvalError; callers must treat it as a deny.
func (p *Package) Evaluate(req *Request, actor *Actor) (Verdict, error) {
	deny := Verdict{Effect: EffectDeny, Reason: p.defaultReason}
	if req == nil {
		return deny, &EvalError{Err: errors.New("nil request")}
	}
	return p.firstMatch(&activation{req: req, act: actor, extras: p.extras}, checkWithinEstimate(req, actor), deny, nil)
}

// firstMatch evaluates the rules in order against act and answers the
// first that holds, else deny; within says the request stays inside the
// sizes the cost estimate assumed. A rule guarded by another action name
// than *action (when not nil) is false without running.
func (p *Package) firstMatch(act interpreter.Activation, within bool, deny Verdict, action *string) (Verdict, error) {
	for i := range p.rules {
		r := &p.rules[i]
		if action != nil && r.byAction && r.action != *action {
			continue
		}
		out, _, err := r.program(within).Eval(act)
		if err != nil {
			return evalFailure(deny, r, err)
		}
		if out == types.True {
			return Verdict{Effect: r.info.Effect, Reason: r.info.Reason, RuleID: r.info.ID}, nil
		}
	}
	return deny, nil
}

// EvaluateAuthZEN runs the rules of an authzen package against ev, like
// Evaluate. A package of the check shape denies with its default reason.
func (p *Package) EvaluateAuthZEN(ev *Evaluation) (Verdict, error) {
	deny := Verdict{Effect: EffectDeny, Reason: p.defaultReason}
	if ev == nil || p.shape != ShapeAuthZEN {
		return deny, &EvalError{Err: errors.New("not an authzen package, or nil request")}
	}
	return p.firstMatch(&authzenActivation{ev: ev, extras: p.extras}, authzenWithinEstimate(ev) && p.dataWithin, deny, &ev.Action.Name)
}

// evalFailure is the deny given when a rule's condition fails; a condition
// stopped by the cost limit has its own reason.
func evalFailure(deny Verdict, r *rule, err error) (Verdict, error) {
	deny.RuleID = r.info.ID
	if isCostLimit(err) {
		deny.Reason = ReasonCostLimitExceeded
		err = fmt.Errorf("%w: %v", ErrCostLimit, err)
	}
	return deny, &EvalError{RuleID: r.info.ID, Err: err}
}
