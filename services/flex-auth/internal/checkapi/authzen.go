package checkapi

import (
	"errors"
	"strings"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/stellaops/authgate/pkg/policy"
	"github.com/stellaops/authgate/services/flex-auth/internal/attrs"
)

// Entity is an AuthZEN subject or resource on the wire.
type Entity struct {
	Type       string    `json:"type"`
	ID         string    `json:"id"`
	Properties attrs.Map `json:"properties,omitzero"`
}

// Action is an AuthZEN action on the wire.
type Action struct {
	Name       string    `json:"name"`
	Properties attrs.Map `json:"properties,omitzero"`
}

// Evaluation is an OpenID AuthZEN 1.0 Access Evaluation request (POST
// /access/v1/evaluation). Unknown members are ignored, as the
// specification asks; duplicate member names and invalid UTF-8 are
// refused.
type Evaluation struct {
	Subject  *Entity   `json:"subject"`
	Action   *Action   `json:"action"`
	Resource *Entity   `json:"resource"`
	Context  attrs.Map `json:"context,omitzero"`
}

// decodeJSON decodes body into v with the json v2 defaults (duplicate
// names and invalid UTF-8 refused, unknown members ignored, names matched
// exactly) and turns its errors into FieldErrors.
func decodeJSON(body []byte, v any) error {
	if len(body) > MaxBodyBytes {
		return &FieldError{Field: "body", Problem: ErrTooLarge.Error()}
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fieldError(err)
	}
	return nil
}

// fieldError names the member a json v2 error is about.
func fieldError(err error) error {
	var ae *attrs.Error
	var se *json.SemanticError
	var sx *jsontext.SyntacticError
	path := ""
	switch {
	case errors.As(err, &se):
		path = pointerPath(string(se.JSONPointer))
	case errors.As(err, &sx):
		if errors.Is(err, jsontext.ErrDuplicateName) {
			return &FieldError{Field: pathOr(pointerPath(string(sx.JSONPointer)), "body"), Problem: "duplicate member name"}
		}
		return &FieldError{Field: "body", Problem: "is not valid JSON (or not valid UTF-8)"}
	}
	if errors.As(err, &ae) {
		// the pointer of the error is where the decoder stood: the
		// offending member itself
		return &FieldError{Field: pathOr(path, pathOr(ae.Path, "body")), Problem: ae.Problem}
	}
	if se != nil {
		want := "has the wrong type"
		if se.GoType != nil {
			switch se.GoType.Kind().String() {
			case "string":
				want = "must be a string"
			case "ptr", "struct":
				want = "must be an object"
			case "slice":
				want = "must be an array"
			}
		}
		return &FieldError{Field: pathOr(path, "body"), Problem: want}
	}
	return &FieldError{Field: "body", Problem: "is not valid JSON"}
}

func pathOr(p, def string) string {
	if p == "" {
		return def
	}
	return p
}

// pointerPath turns "/evaluations/0/subject/id" into "evaluations[0].subject.id".
func pointerPath(p string) string {
	var b strings.Builder
	for _, tok := range strings.Split(strings.TrimPrefix(p, "/"), "/") {
		if tok == "" {
			continue
		}
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		if tok[0] >= '0' && tok[0] <= '9' && b.Len() > 0 {
			b.WriteString("[" + tok + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(tok)
	}
	return b.String()
}

// DecodeEvaluation parses and checks an AuthZEN evaluation request.
func DecodeEvaluation(body []byte) (*Evaluation, error) {
	var ev Evaluation
	if err := decodeJSON(body, &ev); err != nil {
		return nil, err
	}
	if err := ev.Check(""); err != nil {
		return nil, err
	}
	return &ev, nil
}

// Check reports the first required member that is missing; prefix names
// where the evaluation sits ("" or "evaluations[3].").
func (ev *Evaluation) Check(prefix string) error {
	switch {
	case ev.Subject == nil:
		return &FieldError{Field: prefix + "subject", Problem: "is required"}
	case ev.Subject.Type == "":
		return &FieldError{Field: prefix + "subject.type", Problem: "is required"}
	case ev.Subject.ID == "":
		return &FieldError{Field: prefix + "subject.id", Problem: "is required"}
	case ev.Resource == nil:
		return &FieldError{Field: prefix + "resource", Problem: "is required"}
	case ev.Resource.Type == "":
		return &FieldError{Field: prefix + "resource.type", Problem: "is required"}
	case ev.Resource.ID == "":
		return &FieldError{Field: prefix + "resource.id", Problem: "is required"}
	case ev.Action == nil:
		return &FieldError{Field: prefix + "action", Problem: "is required"}
	case ev.Action.Name == "":
		return &FieldError{Field: prefix + "action.name", Problem: "is required"}
	}
	return nil
}

// Policy returns the evaluation as conditions of an authzen package see it.
func (ev *Evaluation) Policy() *policy.Evaluation {
	return &policy.Evaluation{
		Subject:  policy.Entity{Type: ev.Subject.Type, ID: ev.Subject.ID, Properties: ev.Subject.Properties},
		Action:   policy.Action{Name: ev.Action.Name, Properties: ev.Action.Properties},
		Resource: policy.Entity{Type: ev.Resource.Type, ID: ev.Resource.ID, Properties: ev.Resource.Properties},
		Context:  ev.Context,
	}
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
	Data        *DataRef          `json:"data,omitempty"`
}

// DataRef identifies the entity data document that was consulted.
type DataRef struct {
	Digest string `json:"digest"`
}
