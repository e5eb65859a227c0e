package checkapi

import (
	"strconv"
)

// Evaluation semantics of a batch (options.evaluations_semantic).
const (
	ExecuteAll          = "execute_all"
	DenyOnFirstDeny     = "deny_on_first_deny"
	PermitOnFirstPermit = "permit_on_first_permit"
)

// MaxBatch bounds the evaluations of one batch request.
const MaxBatch = 1000

// Evaluations is an AuthZEN Access Evaluations request (POST
// /access/v1/evaluations).
type Evaluations struct {
	Evaluation
	Evaluations []Evaluation `json:"evaluations"`
	Options     struct {
		Semantic string `json:"evaluations_semantic"`
	} `json:"options"`
}

// DecodeEvaluations parses a batch request and returns its evaluations
// with the defaults applied, in request order, and the semantic. A batch
// without an evaluations array is a single evaluation (single is true).
func DecodeEvaluations(body []byte) (items []Evaluation, semantic string, single bool, err error) {
	var b Evaluations
	if err := decodeJSON(body, &b); err != nil {
		return nil, "", false, err
	}
	semantic = b.Options.Semantic
	switch semantic {
	case "":
		semantic = ExecuteAll
	case ExecuteAll, DenyOnFirstDeny, PermitOnFirstPermit:
	default:
		return nil, "", false, &FieldError{Field: "options.evaluations_semantic", Problem: "must be execute_all, deny_on_first_deny or permit_on_first_permit"}
	}
	if len(b.Evaluations) == 0 {
		if err := b.Check(""); err != nil {
			return nil, "", false, err
		}
		return []Evaluation{b.Evaluation}, semantic, true, nil
	}
	if len(b.Evaluations) > MaxBatch {
		return nil, "", false, &FieldError{Field: "evaluations", Problem: "has more than " + strconv.Itoa(MaxBatch) + " items"}
	}
	items = make([]Evaluation, len(b.Evaluations))
	for i, it := range b.Evaluations {
		ev := b.Evaluation
		if it.Subject != nil {
			ev.Subject = it.Subject
		}
		if it.Action != nil {
			ev.Action = it.Action
		}
		if it.Resource != nil {
			ev.Resource = it.Resource
		}
		if it.Context != nil {
			ev.Context = it.Context
		}
		if err := ev.Check("evaluations[" + strconv.Itoa(i) + "]."); err != nil {
			return nil, "", false, err
		}
		items[i] = ev
	}
	return items, semantic, false, nil
}

// EvaluationsResponse is the answer of a batch: one decision per
// evaluation, in request order (fewer when a semantic stopped early).
type EvaluationsResponse struct {
	Evaluations []EvaluationResponse `json:"evaluations"`
}
