package plans

import "errors"

// ErrNothingGranted is what Decision.Err returns when resources were
// requested and the plan grants none of them (the service answers 403).
var ErrNothingGranted = errors.New("plans: the plan grants none of the requested access")

// Decision is the outcome of checking requested resources against a plan.
type Decision struct {
	// Granted holds, per requested resource, the actions both requested and
	// entitled; resources left with no action are absent. Names are the
	// exact requested names, never patterns. It is never nil.
	Granted []Resource
	// Denied holds, per requested resource, the requested actions the plan
	// refused (with "*" expanded), for the decision log.
	Denied []Resource
}

// GrantedNothing reports whether something was requested and nothing at all
// was granted. An empty request (docker login) is not a denial.
func (d Decision) GrantedNothing() bool {
	return len(d.Granted) == 0 && len(d.Denied) > 0
}

// Err returns ErrNothingGranted when GrantedNothing holds, nil otherwise.
func (d Decision) Err() error {
	if d.GrantedNothing() {
		return ErrNothingGranted
	}
	return nil
}

// Authorize returns, per requested resource, the intersection of the
// requested and the entitled actions. A requested "*" on a repository means
// every action the plan grants on it; actions are listed in the order pull,
// push, delete. "registry:catalog:*" is kept only when the plan has a
// catalog rule. Resources with an empty intersection are dropped: a partial
// grant is not an error. The result is never nil, so an empty grant (docker
// login) encodes as an empty JSON array. Requests are expected to come from
// ParseScopes; Authorize is safe for concurrent use.
func (p *Plan) Authorize(requested []Resource) []Resource {
	return p.decide(requested, false).Granted
}

// Decide is Authorize that also reports what was refused.
func (p *Plan) Decide(requested []Resource) Decision {
	return p.decide(requested, true)
}

// decide computes the decision; Denied is filled only when withDenied is set,
// and then holds at least one entry per refused resource.
func (p *Plan) decide(requested []Resource, withDenied bool) Decision {
	// Never nil, so that an empty grant encodes as "access": [].
	d := Decision{Granted: make([]Resource, 0, len(requested))}
	for _, r := range requested {
		switch r.Type {
		case TypeRepository:
			want := requestedActions(r.Actions)
			if want == 0 {
				d.deny(withDenied, r)
				continue
			}
			got := want & p.entitled(r.Name)
			if got != 0 {
				d.Granted = append(d.Granted, Resource{Type: r.Type, Name: r.Name, Actions: got.names()})
			}
			if left := want &^ got; left != 0 && withDenied {
				d.deny(withDenied, Resource{Type: r.Type, Name: r.Name, Actions: left.names()})
			}
		case TypeRegistry:
			if p.catalog && r.Name == NameCatalog && contains(r.Actions, ActionAll) {
				d.Granted = append(d.Granted, Resource{Type: TypeRegistry, Name: NameCatalog, Actions: []string{ActionAll}})
			} else {
				d.deny(withDenied, r)
			}
		default:
			d.deny(withDenied, r)
		}
	}
	return d
}

func (d *Decision) deny(record bool, r Resource) {
	if record {
		d.Denied = append(d.Denied, r)
	}
}

// requestedActions folds requested repository actions into a set, ignoring
// names the scope grammar does not allow.
func requestedActions(actions []string) actionSet {
	var want actionSet
	for _, a := range actions {
		bits, _ := repositoryAction(a)
		want |= bits
	}
	return want
}
