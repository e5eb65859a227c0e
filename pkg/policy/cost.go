package policy

import (
	"errors"
	"strings"

	"github.com/google/cel-go/checker"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
)

// DefaultCostLimit is the CEL cost a single condition may spend on one
// evaluation. A condition whose estimated worst case exceeds it does not
// load; an evaluation that spends more is stopped and denied with
// ReasonCostLimitExceeded.
const DefaultCostLimit uint64 = 1_000_000

// ReasonCostLimitExceeded is the reason of a deny given because a condition
// exceeded the cost limit at run time. Packages cannot declare it.
const ReasonCostLimitExceeded = "cost_limit_exceeded"

// Bounds of the values conditions read. Callers enforce MaxMembers and
// MaxDepth on AuthZEN request values and entity data.
const (
	// MaxMembers bounds the members of one object or elements of one array.
	MaxMembers = 1024
	// MaxDepth bounds the nesting of objects and arrays.
	MaxDepth = 8
)

// Sizes the cost estimate assumes. A collection read from a request has
// at most estimateCollection elements: a request body is at most 64 KiB
// and a member takes at least six bytes. Strings are assumed to be at most
// estimateString bytes: the estimate is there to catch conditions whose
// cost grows with the product of collection sizes (nested loops); a
// longer string is still bounded by the run-time limit.
const (
	estimateCollection = (64 << 10) / 6
	estimateString     = 1024
)

// ErrCostLimit is wrapped by the EvalError of an evaluation stopped by
// the cost limit.
var ErrCostLimit = errors.New("condition exceeded the CEL cost limit")

// sizeEstimator bounds the size of every list, map and string a condition
// reads by the input bounds above, so that the checker's estimate is a
// real worst case.
type sizeEstimator struct {
	maxList uint64
	vars    map[string]uint64 // sizes of the declared (constant) variables
}

func (e sizeEstimator) EstimateSize(n checker.AstNode) *checker.SizeEstimate {
	if l := n.ComputedSize(); l != nil {
		return l
	}
	if p := n.Path(); len(p) == 1 {
		if size, ok := e.vars[p[0]]; ok {
			return &checker.SizeEstimate{Min: size, Max: size}
		}
	}
	t := n.Type()
	if t != nil && t.TypeName() == "string" {
		return &checker.SizeEstimate{Min: 0, Max: estimateString}
	}
	return &checker.SizeEstimate{Min: 0, Max: e.maxList}
}

func (sizeEstimator) EstimateCallCost(_, _ string, _ *checker.AstNode, _ []checker.AstNode) *checker.CallEstimate {
	return nil
}

// isCostLimit reports whether err is CEL's "cost limit exceeded".
func isCostLimit(err error) bool {
	return err != nil && strings.Contains(err.Error(), "cost limit exceeded")
}

// costLimits are the limit and the largest declared collection of a
// package, for the estimate.
type costLimits struct {
	limit   uint64
	maxList uint64
	vars    map[string]uint64
}

// newCostLimits records the sizes of the declared variables.
func newCostLimits(limit uint64, values map[string]ref.Val) costLimits {
	c := costLimits{limit: limit, maxList: estimateCollection, vars: map[string]uint64{}}
	for name, v := range values {
		switch x := v.(type) {
		case types.String:
			c.vars[name] = uint64(len(x))
		case traits.Sizer:
			if l, ok := x.Size().(types.Int); ok && l >= 0 {
				c.vars[name] = uint64(l)
			}
		}
	}
	return c
}

// checkWithinEstimate reports whether a check request and its actor stay
// within the sizes the cost estimate assumed.
func checkWithinEstimate(req *Request, a *Actor) bool {
	for _, s := range [...]string{req.Actor, req.Subject, req.Action, req.Principal, req.Resource} {
		if len(s) > estimateString {
			return false
		}
	}
	for k, v := range req.Context {
		if s, ok := v.(string); (ok && len(s) > estimateString) || len(k) > estimateString {
			return false
		}
	}
	if len(req.Context) > estimateCollection {
		return false
	}
	if a == nil {
		return true
	}
	if len(a.Name) > estimateString || len(a.Type) > estimateString || len(a.Principal) > estimateString || len(a.AllowedSubjects) > estimateCollection {
		return false
	}
	for _, s := range a.AllowedSubjects {
		if len(s) > estimateString {
			return false
		}
	}
	return true
}

// authzenWithinEstimate reports whether an evaluation stays within the
// sizes the cost estimate assumed.
func authzenWithinEstimate(ev *Evaluation) bool {
	for _, s := range [...]string{ev.Subject.Type, ev.Subject.ID, ev.Resource.Type, ev.Resource.ID, ev.Action.Name} {
		if len(s) > estimateString {
			return false
		}
	}
	return valueWithin(ev.Subject.Properties) && valueWithin(ev.Resource.Properties) &&
		valueWithin(ev.Action.Properties) && valueWithin(ev.Context)
}

// DataWithinEstimate reports whether every entity of d stays within the
// sizes the cost estimate assumed (d must also implement Walk).
func DataWithinEstimate(d Data) bool {
	w, ok := d.(interface {
		Walk(func(map[string]any) bool) bool
	})
	return ok && w.Walk(func(m map[string]any) bool { return valueWithin(m) })
}

func valueWithin(v any) bool {
	switch x := v.(type) {
	case string:
		return len(x) <= estimateString
	case map[string]any:
		if len(x) > estimateCollection {
			return false
		}
		for k, e := range x {
			if len(k) > estimateString || !valueWithin(e) {
				return false
			}
		}
	case []any:
		if len(x) > estimateCollection {
			return false
		}
		for _, e := range x {
			if !valueWithin(e) {
				return false
			}
		}
	}
	return true
}
