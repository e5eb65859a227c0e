package policy

// DefaultAction is the action assumed when a request names none.
const DefaultAction = "ssh.sign"

// Effect is the outcome of a decision.
type Effect string

// The two effects a rule can have.
const (
	EffectAllow Effect = "allow"
	EffectDeny  Effect = "deny"
)

// Valid reports whether e is one of the known effects.
func (e Effect) Valid() bool { return e == EffectAllow || e == EffectDeny }

// Request is the data a policy condition sees as `request`.
//
// HasTTL records whether the caller supplied TTLHours: an explicit 0 is a
// request for a zero TTL (and is out of bounds), while an absent TTL is
// filled in by ApplyDefaults.
type Request struct {
	Actor     string
	Subject   string
	Action    string
	Principal string
	Resource  string
	TTLHours  int64
	HasTTL    bool
	Context   map[string]any
}

// Actor is a registry entry as a policy condition sees it as `actor`.
type Actor struct {
	Name            string
	Type            string
	Principal       string
	MaxTTLHours     int64
	DefaultTTLHours int64
	AllowedSubjects []string
}

// Verdict is what a package says about one request: the effect, the
// reason and the rule that gave them.
// RuleID is empty when no rule matched and the default reason applies.
type Verdict struct {
	Effect Effect
	Reason string
	RuleID string
}

// ApplyDefaults fills the fields a caller may leave out, the same way for
// every caller (the HTTP service and the simulator):
//
//   - Subject defaults to the actor name,
//   - Action defaults to DefaultAction,
//   - Principal defaults to the actor's principal (known actors only),
//   - TTLHours, when HasTTL is false, defaults to the actor's default TTL,
//     or to its maximum TTL when it has no default (known actors only).
//
// a may be nil when the actor is not in the registry.
func (r *Request) ApplyDefaults(a *Actor) {
	if r.Subject == "" {
		r.Subject = r.Actor
	}
	if r.Action == "" {
		r.Action = DefaultAction
	}
	if a == nil {
		return
	}
	if r.Principal == "" {
		r.Principal = a.Principal
	}
	if !r.HasTTL {
		r.TTLHours = a.DefaultTTLHours
		if r.TTLHours <= 0 {
			r.TTLHours = a.MaxTTLHours
		}
		r.HasTTL = true
	}
}
