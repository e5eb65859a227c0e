package plans

import (
	"errors"
	"fmt"
	"sort"
)

// ErrInvalidRule is the sentinel that every *RuleError wraps.
var ErrInvalidRule = errors.New("plans: invalid plan rule")

// Rule is one entry of a plan. Exactly one of Repository and Catalog is set.
//
// Repository is a pattern of '/'-separated segments, each a path component
// or "*" (exactly one segment). Actions are any of pull, push, delete and
// "*" (all three); omitted or empty, they default to [pull].
//
// Catalog: true grants "registry:catalog:*" (listing all repositories). Its
// Actions must be omitted or ["*"]. Repository patterns never grant the
// catalog, whatever they match.
type Rule struct {
	Repository string   `json:"repository,omitempty" yaml:"repository,omitempty" koanf:"repository"`
	Catalog    bool     `json:"catalog,omitempty" yaml:"catalog,omitempty" koanf:"catalog"`
	Actions    []string `json:"actions,omitempty" yaml:"actions,omitempty" koanf:"actions"`
}

// RuleError names an invalid rule: the plan, the rule's index in the plan,
// its pattern and what is wrong. It matches ErrInvalidRule with errors.Is.
type RuleError struct {
	Plan    string
	Index   int
	Pattern string
	Reason  string
}

func (e *RuleError) Error() string {
	return fmt.Sprintf("plan %q rule %d (%q): %s", e.Plan, e.Index, e.Pattern, e.Reason)
}

// Unwrap lets errors.Is(err, ErrInvalidRule) hold.
func (e *RuleError) Unwrap() error { return ErrInvalidRule }

// Catalog is the immutable set of plans, safe for concurrent use.
type Catalog struct {
	plans map[string]*Plan
}

// Plan is one compiled plan, safe for concurrent use.
type Plan struct {
	name    string
	root    node
	catalog bool
	rules   int
}

// NewCatalog compiles the plans. Every invalid rule of every plan is
// reported, joined with errors.Join, each as a *RuleError; plans are checked
// in name order so the report is stable.
func NewCatalog(plans map[string][]Rule) (*Catalog, error) {
	names := make([]string, 0, len(plans))
	for name := range plans {
		names = append(names, name)
	}
	sort.Strings(names)

	c := &Catalog{plans: make(map[string]*Plan, len(plans))}
	var errs []error
	for _, name := range names {
		if name == "" {
			errs = append(errs, &RuleError{Plan: name, Index: -1, Reason: "empty plan name"})
			continue
		}
		p := &Plan{name: name, rules: len(plans[name])}
		for i, r := range plans[name] {
			if err := p.add(r); err != nil {
				errs = append(errs, &RuleError{Plan: name, Index: i, Pattern: r.pattern(), Reason: err.Error()})
			}
		}
		c.plans[name] = p
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

// pattern is how the rule is named in errors.
func (r Rule) pattern() string {
	if r.Catalog && r.Repository == "" {
		return "registry:catalog"
	}
	return r.Repository
}

// add validates one rule and adds it to the plan.
func (p *Plan) add(r Rule) error {
	switch {
	case r.Catalog && r.Repository != "":
		return errorString("a rule sets either repository or catalog, not both")
	case r.Catalog:
		for _, a := range r.Actions {
			if a != ActionAll {
				return errorString(fmt.Sprintf("catalog action %q: only \"*\" is allowed", truncate(a)))
			}
		}
		p.catalog = true
		return nil
	}
	segs, err := compilePattern(r.Repository)
	if err != nil {
		return err
	}
	grant := actPull
	if len(r.Actions) > 0 {
		grant = 0
		for _, a := range r.Actions {
			bits, ok := repositoryAction(a)
			if !ok {
				return errorString(fmt.Sprintf("unknown action %q", truncate(a)))
			}
			grant |= bits
		}
	}
	p.root.insert(segs, grant)
	return nil
}

// Plan returns the plan of that name.
func (c *Catalog) Plan(name string) (*Plan, bool) {
	p, ok := c.plans[name]
	return p, ok
}

// Names returns the plan names in sorted order.
func (c *Catalog) Names() []string {
	names := make([]string, 0, len(c.plans))
	for name := range c.plans {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Name is the plan's name in the catalogue.
func (p *Plan) Name() string { return p.name }

// Rules is the number of rules the plan was built from.
func (p *Plan) Rules() int { return p.rules }

// GrantsCatalog reports whether the plan grants "registry:catalog:*".
func (p *Plan) GrantsCatalog() bool { return p.catalog }

// Entitled returns the actions the plan grants on the repository name, in
// the order pull, push, delete (a rule granting "*" grants all three), or
// nil when it grants none. Names that are not valid repository names are
// entitled to nothing.
func (p *Plan) Entitled(name string) []string {
	return p.entitled(name).names()
}

func (p *Plan) entitled(name string) actionSet {
	if !ValidName(name) {
		return 0
	}
	return p.root.match(name)
}
