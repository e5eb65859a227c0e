package checkapi

import (
	"errors"
	"strings"
)

// Evaluation is an OpenID AuthZEN 1.0 Access Evaluation request
// (POST /access/v1/evaluation).
type Evaluation struct {
	Subject  EvalEntity     `json:"subject"`
	Action   EvalAction     `json:"action"`
	Resource EvalEntity     `json:"resource"`
	Context  map[string]any `json:"context,omitempty"`
}

// EvalEntity is an AuthZEN subject or resource.
type EvalEntity struct {
	Type       string         `json:"type"`
	ID         string         `json:"id"`
	Properties map[string]any `json:"properties,omitempty"`
}

// EvalAction is an AuthZEN action.
type EvalAction struct {
	Name       string         `json:"name"`
	Properties map[string]any `json:"properties,omitempty"`
}

// DecodeEvaluation parses an AuthZEN evaluation request strictly and maps
// it onto a check request:
//
//   - actor: subject.properties.actor when it is a string; otherwise
//     subject.id with a leading "iam:" removed,
//   - subject: subject.id (so "iam:<actor>" and "<actor>" both work),
//   - action: action.name,
//   - resource: resource.id (resource.type is required by AuthZEN but not
//     used by the mapping),
//   - principal: context.principal, else resource.properties.principal,
//   - ttl_hours: context.ttl_hours, else resource.properties.ttl_hours
//     (an integer),
//   - context: every context member; values must be scalars.
func DecodeEvaluation(body []byte) (Request, error) {
	var ev Evaluation
	if len(body) > MaxBodyBytes {
		return Request{}, &FieldError{Field: "body", Problem: ErrTooLarge.Error()}
	}
	if err := decodeObject(body, &ev, evaluationShape()); err != nil {
		return Request{}, err
	}
	switch {
	case ev.Subject.Type == "":
		return Request{}, &FieldError{Field: "subject.type", Problem: "is required"}
	case ev.Subject.ID == "":
		return Request{}, &FieldError{Field: "subject.id", Problem: "is required"}
	case ev.Action.Name == "":
		return Request{}, &FieldError{Field: "action.name", Problem: "is required"}
	case ev.Resource.Type == "":
		return Request{}, &FieldError{Field: "resource.type", Problem: "is required"}
	case ev.Resource.ID == "":
		return Request{}, &FieldError{Field: "resource.id", Problem: "is required"}
	}
	req := Request{Subject: ev.Subject.ID, Action: ev.Action.Name, Resource: ev.Resource.ID, Context: ev.Context}
	req.Actor = strings.TrimPrefix(ev.Subject.ID, "iam:")
	if req.Actor == "" {
		return Request{}, &FieldError{Field: "subject.id", Problem: "names no actor"}
	}
	if a, ok := ev.Subject.Properties["actor"]; ok {
		s, ok := a.(string)
		if !ok || s == "" {
			return Request{}, &FieldError{Field: "subject.properties.actor", Problem: "must be a non-empty string"}
		}
		req.Actor = s
	}
	if err := normalizeContext(req.Context); err != nil {
		return Request{}, err
	}
	if err := normalizeContext(ev.Resource.Properties); err != nil {
		var fe *FieldError
		if !errors.As(err, &fe) {
			return Request{}, err
		}
		return Request{}, &FieldError{Field: "resource.properties" + strings.TrimPrefix(fe.Field, "context"), Problem: fe.Problem}
	}
	for _, src := range []struct {
		m      map[string]any
		prefix string
	}{{req.Context, "context."}, {ev.Resource.Properties, "resource.properties."}} {
		if v, ok := src.m["principal"]; ok && req.Principal == "" {
			s, ok := v.(string)
			if !ok {
				return Request{}, &FieldError{Field: src.prefix + "principal", Problem: "must be a string"}
			}
			req.Principal = s
		}
		if v, ok := src.m["ttl_hours"]; ok && req.TTLHours == nil {
			n, ok := v.(int64)
			if !ok {
				return Request{}, &FieldError{Field: src.prefix + "ttl_hours", Problem: "must be an integer"}
			}
			req.TTLHours = &n
		}
	}
	return req, nil
}

// EvaluationResponse is the AuthZEN answer: the boolean decision and a
// context carrying the flex-auth evidence.
type EvaluationResponse struct {
	Decision bool              `json:"decision"`
	Context  EvaluationContext `json:"context"`
}

// EvaluationContext is the context member of an EvaluationResponse.
type EvaluationContext struct {
	DecisionID  string            `json:"decision_id"`
	Reason      string            `json:"reason"`
	ReasonAdmin map[string]string `json:"reason_admin"`
	Effect      string            `json:"effect"`
	Backend     string            `json:"backend"`
	Policy      PolicyRef         `json:"policy"`
	Registry    RegistryRef       `json:"registry"`
}

// NewEvaluationResponse wraps a decision envelope for AuthZEN.
func NewEvaluationResponse(d *Decision) EvaluationResponse {
	return EvaluationResponse{
		Decision: d.Effect == "allow",
		Context: EvaluationContext{
			DecisionID: d.DecisionID, Reason: d.Reason, ReasonAdmin: map[string]string{"en": d.Reason},
			Effect: d.Effect, Backend: d.Backend, Policy: d.Policy, Registry: d.Registry,
		},
	}
}
