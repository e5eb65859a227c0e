package token

import (
	"context"
	"errors"

	"github.com/stellaops/authgate/pkg/plans"
	"github.com/stellaops/authgate/services/registry-token/internal/authority"
	"github.com/stellaops/authgate/services/registry-token/internal/policyclient"
)

// Gate is the flex-auth policy check (policyclient.Client): one decision
// per check, in order; decisions not received are zero.
type Gate interface {
	CheckAll(ctx context.Context, checks []policyclient.Check) ([]policyclient.Decision, error)
}

// The flex-auth actions of registry access. The catalog is checked with
// resource "catalog" (plans.NameCatalog).
const (
	ActionPull    = "registry.pull"
	ActionPush    = "registry.push"
	ActionDelete  = "registry.delete"
	ActionCatalog = "registry.catalog"
)

// policyAction maps a granted token action onto the flex-auth action.
func policyAction(resourceType, action string) (string, bool) {
	switch {
	case resourceType == plans.TypeRegistry:
		return ActionCatalog, true
	case action == "pull":
		return ActionPull, true
	case action == "push":
		return ActionPush, true
	case action == "delete":
		return ActionDelete, true
	}
	return "", false
}

// policyOutcome is what the policy step adds to the decision log.
type policyOutcome struct {
	decisionIDs []string
	denied      []plans.Resource
	// failOpen is the outage reason when flex-auth failed and the plan's
	// grant was kept (policy.failClosed: false).
	failOpen Reason
}

// checkPolicy asks flex-auth about every granted (resource, action) and
// removes what it denies from d.granted. An outage denies the request
// (fail-closed) or keeps what flex-auth did not deny (fail-open); either
// way nothing is ever added to the plan's grant.
func (h *Handler) checkPolicy(ctx context.Context, tok *authority.OpTok, d *decision) error {
	if h.d.Gate == nil || len(d.granted) == 0 {
		return nil
	}
	type ref struct{ res, act int }
	var (
		checks []policyclient.Check
		refs   []ref
	)
	pctx := map[string]any{"service": d.service, "plan": d.plan}
	if tok.ClientID != "" {
		pctx["client_id"] = tok.ClientID
	}
	for i, r := range d.granted {
		for j, a := range r.Actions {
			action, ok := policyAction(r.Type, a)
			if !ok {
				continue
			}
			checks = append(checks, policyclient.Check{Actor: tok.Subject, Subject: tok.Subject,
				Action: action, Resource: r.Name, Context: pctx})
			refs = append(refs, ref{i, j})
		}
	}
	decisions, err := h.d.Gate.CheckAll(ctx, checks)
	denied := make([]map[int]bool, len(d.granted))
	for k, dec := range decisions {
		if dec.ID != "" {
			d.policy.decisionIDs = append(d.policy.decisionIDs, dec.ID)
		}
		if dec.Known() && !dec.Allowed() {
			r := refs[k]
			if denied[r.res] == nil {
				denied[r.res] = map[int]bool{}
			}
			denied[r.res][r.act] = true
		}
	}
	if err != nil {
		reason := outageReason(err)
		if !h.d.Policy.PolicyFailOpen {
			return deny(reason, err)
		}
		d.policy.failOpen = reason
		// Fail-open still applies every deny received; unknown decisions
		// keep the plan's grant.
	}
	kept := make([]plans.Resource, 0, len(d.granted))
	for i, r := range d.granted {
		if len(denied[i]) == 0 {
			kept = append(kept, r)
			continue
		}
		var allow, refused []string
		for j, a := range r.Actions {
			if denied[i][j] {
				refused = append(refused, a)
			} else {
				allow = append(allow, a)
			}
		}
		d.policy.denied = append(d.policy.denied, plans.Resource{Type: r.Type, Name: r.Name, Actions: refused})
		if len(allow) > 0 {
			kept = append(kept, plans.Resource{Type: r.Type, Name: r.Name, Actions: allow})
		}
	}
	d.granted = kept
	if len(kept) == 0 {
		return deny(ReasonPolicyDenied, errors.New("flex-auth denied every access the plan grants"))
	}
	return nil
}

// outageReason maps a policy client failure onto its rejection reason.
func outageReason(err error) Reason {
	switch {
	case errors.Is(err, policyclient.ErrTimeout):
		return ReasonPolicyTimeout
	case errors.Is(err, policyclient.ErrInvalidResponse):
		return ReasonPolicyInvalidResponse
	}
	return ReasonPolicyUnavailable
}
