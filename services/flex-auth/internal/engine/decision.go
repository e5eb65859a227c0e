package engine

import (
	"strings"
	"time"

	"github.com/stellaops/authgate/pkg/policy"
)

// Decision is one decision record, from the engine to the decision log:
// the package's verdict, the request it is about (with the defaults
// applied), the files that decided it, and (filled in by the caller) its
// id, time, endpoint and latency. The decision log writes it as one JSON
// line, its members named by the tags below; the HTTP answers are built
// from it. It never holds request context values, keys or tokens.
type Decision struct {
	Time     time.Time `json:"time"`
	ID       string    `json:"decision_id"`
	Endpoint string    `json:"endpoint,omitempty"`

	Actor     string `json:"actor"`
	Subject   string `json:"subject"`
	Action    string `json:"action"`
	Principal string `json:"principal"`
	Resource  string `json:"resource,omitempty"`
	// TTLHours is nil when the actor is unknown and the request named no
	// TTL.
	TTLHours *int64 `json:"ttl_hours,omitempty"`

	Effect  policy.Effect `json:"effect"`
	Reason  string        `json:"reason"`
	Backend string        `json:"backend"`
	// PolicyPackage, PolicyVersion and PolicyDigest name the policy
	// package that decided; empty when none did.
	PolicyPackage string `json:"policy_package"`
	PolicyVersion string `json:"-"`
	PolicyDigest  string `json:"policy_digest"`
	// RegistryDigest names the registry snapshot consulted.
	RegistryDigest string `json:"registry_digest"`
	// DataDigest names the entity data document of an AuthZEN decision;
	// empty for /v1/check and when no document is loaded.
	DataDigest string `json:"data_digest,omitempty"`
	// Results holds the ids a search answered: not nil (maybe empty) in
	// the record of a search, nil in every other.
	Results []string `json:"results,omitzero"`
	// LatencyUS is how long deciding and recording took, in whole
	// microseconds.
	LatencyUS int64 `json:"latency_us"`

	// RuleID names the rule that decided; empty when the default reason
	// applied.
	RuleID string `json:"-"`
	// Err is the error of a condition that failed at evaluation time (the
	// effect is then a deny); it is counted, never answered or logged.
	Err error `json:"-"`
}

// Allowed reports whether the decision is an allow.
func (d *Decision) Allowed() bool { return d.Effect == policy.EffectAllow }

// decidedBy records pkg's verdict v (and the error of its evaluation):
// a verdict without a known effect, or with an error, is a deny.
func (d *Decision) decidedBy(pkg *policy.Package, v policy.Verdict, err error) {
	d.Backend = pkg.Backend()
	d.PolicyPackage, d.PolicyVersion, d.PolicyDigest = pkg.Name(), pkg.Version(), pkg.Digest()
	d.Effect, d.Reason, d.RuleID, d.Err = v.Effect, v.Reason, v.RuleID, err
	if err != nil || !d.Effect.Valid() {
		d.Effect = policy.EffectDeny
	}
}

// RequestError is a request the engine cannot decide as asked: an AuthZEN
// evaluation that does not map onto the check request a package of the
// check shape needs. Field names the offending member.
type RequestError struct {
	Field   string
	Problem string
}

func (e *RequestError) Error() string { return e.Field + ": " + e.Problem }

// CheckRequest maps an AuthZEN evaluation onto a check request, for
// packages of the check shape (the ops-warden package):
//
//   - actor: subject.properties.actor when it is a string; otherwise
//     subject.id with a leading "iam:" removed,
//   - subject: subject.id (so "iam:<actor>" and "<actor>" both work),
//   - action: action.name,
//   - resource: resource.id,
//   - principal: context.principal, else resource.properties.principal,
//   - ttl_hours: context.ttl_hours, else resource.properties.ttl_hours
//     (an integer),
//   - context: every context member; values must be scalars.
func CheckRequest(ev *policy.Evaluation) (policy.Request, error) {
	req := policy.Request{Subject: ev.Subject.ID, Action: ev.Action.Name, Resource: ev.Resource.ID, Context: ev.Context}
	req.Actor = strings.TrimPrefix(ev.Subject.ID, "iam:")
	if req.Actor == "" {
		return policy.Request{}, &RequestError{Field: "subject.id", Problem: "names no actor"}
	}
	if a, ok := ev.Subject.Properties["actor"]; ok {
		s, ok := a.(string)
		if !ok || s == "" {
			return policy.Request{}, &RequestError{Field: "subject.properties.actor", Problem: "must be a non-empty string"}
		}
		req.Actor = s
	}
	for _, src := range []struct {
		m      map[string]any
		prefix string
	}{{req.Context, "context."}, {ev.Resource.Properties, "resource.properties."}} {
		for k, v := range src.m {
			switch v.(type) {
			case map[string]any, []any:
				return policy.Request{}, &RequestError{Field: src.prefix + k, Problem: "must be a string, number, boolean or null (no nesting) for this policy package"}
			}
		}
		if v, ok := src.m["principal"]; ok && req.Principal == "" {
			s, ok := v.(string)
			if !ok {
				return policy.Request{}, &RequestError{Field: src.prefix + "principal", Problem: "must be a string"}
			}
			req.Principal = s
		}
		if v, ok := src.m["ttl_hours"]; ok && !req.HasTTL {
			n, ok := v.(int64)
			if !ok {
				return policy.Request{}, &RequestError{Field: src.prefix + "ttl_hours", Problem: "must be an integer"}
			}
			req.TTLHours, req.HasTTL = n, true
		}
	}
	if len(req.Context) == 0 {
		req.Context = nil
	}
	return req, nil
}
