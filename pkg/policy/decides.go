package policy

import (
	"fmt"
	"slices"
	"strings"
)

// Decides is the set of requests a package decides, from its front
// matter's `decides` block. A package without the block decides every
// request no other package claims (the default package).
//
// An action pattern is an exact action name, or a prefix followed by "*"
// ("registry.*", or "*" for every action). ResourceTypes, when not empty,
// restricts the package to requests on resources of those types; a
// request without a resource type (POST /v1/check) matches only packages
// that name no resource types.
type Decides struct {
	Actions       []string `yaml:"actions" json:"actions"`
	ResourceTypes []string `yaml:"resource_types" json:"resource_types,omitempty"`
}

// Matches reports whether a request for action on a resource of type
// resourceType falls to a package with these declarations.
func (d *Decides) Matches(action, resourceType string) bool {
	if len(d.ResourceTypes) > 0 && !slices.Contains(d.ResourceTypes, resourceType) {
		return false
	}
	for _, p := range d.Actions {
		if actionMatches(p, action) {
			return true
		}
	}
	return false
}

// ExactActions returns the actions named exactly (not by a prefix), the
// ones an action search can enumerate.
func (d *Decides) ExactActions() []string {
	var out []string
	for _, p := range d.Actions {
		if !strings.HasSuffix(p, "*") {
			out = append(out, p)
		}
	}
	return out
}

// Overlaps reports whether some request is decided by both d and o, and
// names one pattern pair that shows it.
func (d *Decides) Overlaps(o *Decides) (string, bool) {
	if len(d.ResourceTypes) > 0 && len(o.ResourceTypes) > 0 {
		shared := false
		for _, t := range d.ResourceTypes {
			shared = shared || slices.Contains(o.ResourceTypes, t)
		}
		if !shared {
			return "", false
		}
	}
	for _, a := range d.Actions {
		for _, b := range o.Actions {
			if patternsOverlap(a, b) {
				return fmt.Sprintf("action %q and %q", a, b), true
			}
		}
	}
	return "", false
}

func actionMatches(pattern, action string) bool {
	if p, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(action, p)
	}
	return pattern == action
}

func patternsOverlap(a, b string) bool {
	pa, wa := strings.CutSuffix(a, "*")
	pb, wb := strings.CutSuffix(b, "*")
	switch {
	case wa && wb:
		return strings.HasPrefix(pa, pb) || strings.HasPrefix(pb, pa)
	case wa:
		return strings.HasPrefix(b, pa)
	case wb:
		return strings.HasPrefix(a, pb)
	}
	return a == b
}

// checkDecides validates a decides block.
func checkDecides(s *diagSink, d *Decides) {
	if len(d.Actions) == 0 {
		s.errorf(1, CodeDecides, "front matter: decides: actions must name at least one action or prefix*")
	}
	for i, a := range d.Actions {
		p, _ := strings.CutSuffix(a, "*")
		if a == "" || strings.Contains(p, "*") {
			s.errorf(1, CodeDecides, "front matter: decides.actions[%d]: %q must be an action name or a prefix followed by one *", i, a)
		}
	}
	for i, t := range d.ResourceTypes {
		if t == "" {
			s.errorf(1, CodeDecides, "front matter: decides.resource_types[%d]: must not be empty", i)
		}
	}
}
