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

// BatchItem is one evaluation of a batch with the defaults applied, or
// the reason it cannot be evaluated (Err, a *FieldError naming the member
// as "evaluations[i]...").
type BatchItem struct {
	Evaluation
	Err error
}

// DecodeEvaluations parses a batch request and returns its evaluations
// with the defaults applied, in request order, and the semantic. A batch
// without an evaluations array (or an empty one) is a single evaluation
// (single is true) whose missing members are a request error. In a batch,
// an item that names a member replaces the default whole (nothing of the
// default's type, id, name or properties is kept); an item that misses a
// required member is an evaluation-level error (Err), not a request error.
func DecodeEvaluations(body []byte) (items []BatchItem, semantic string, single bool, err error) {
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
		return []BatchItem{{Evaluation: b.Evaluation}}, semantic, true, nil
	}
	if len(b.Evaluations) > MaxBatch {
		return nil, "", false, &FieldError{Field: "evaluations", Problem: "has more than " + strconv.Itoa(MaxBatch) + " items"}
	}
	items = make([]BatchItem, len(b.Evaluations))
	for i, it := range b.Evaluations {
		ev := Evaluation{
			Subject:  override(it.Subject, b.Subject),
			Action:   override(it.Action, b.Action),
			Resource: override(it.Resource, b.Resource),
			Context:  b.Context,
		}
		if it.Context != nil {
			ev.Context = it.Context
		}
		items[i] = BatchItem{Evaluation: ev, Err: ev.Check("evaluations[" + strconv.Itoa(i) + "].")}
	}
	return items, semantic, false, nil
}

// override is the item's member when it names one, else the default:
// AuthZEN 1.0 §6.1.1, "Any of these keys specified within an individual
// evaluation object overrides the corresponding top-level default."
func override[T any](item, def *T) *T {
	if item != nil {
		return item
	}
	return def
}

// ErrorResponse is the answer of an evaluation that could not be
// evaluated: a deny with the error in its context.
type ErrorResponse struct {
	Decision bool         `json:"decision"`
	Context  ErrorContext `json:"context"`
}

// ErrorContext carries an evaluation-level error.
type ErrorContext struct {
	Error ItemError `json:"error"`
}

// ItemError describes an evaluation-level error.
type ItemError struct {
	Status  int    `json:"status"`
	Message string `json:"message"`
}

// NewErrorResponse is the deny answered for an item that failed with err.
func NewErrorResponse(err error) ErrorResponse {
	return ErrorResponse{Context: ErrorContext{Error: ItemError{Status: 400, Message: err.Error()}}}
}

// EvaluationsResponse is the answer of a batch: one decision per
// evaluation, in request order (fewer when a semantic stopped early).
type EvaluationsResponse struct {
	// Evaluations holds EvaluationResponse and ErrorResponse values.
	Evaluations []any `json:"evaluations"`
}
