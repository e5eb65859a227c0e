package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"go.yaml.in/yaml/v3"

	"github.com/stellaops/authgate/pkg/policy"
	"github.com/stellaops/authgate/services/flex-auth/internal/checkapi"
)

// CaseFile is a simulation case file (YAML or JSON): requests with the
// decision the policy package must give them.
type CaseFile struct {
	Cases []Case `json:"cases" jsonschema:"minItems=1,description=Cases run in order."`
}

// Case is one request and its expected outcome.
type Case struct {
	Name        string           `json:"name" jsonschema:"minLength=1,description=Unique name shown in the report."`
	Description string           `json:"description,omitempty" jsonschema:"description=Why the case exists."`
	Request     checkapi.Request `json:"request,omitzero" jsonschema:"description=A check request exactly as POST /v1/check takes it (or give evaluation)."`
	// Evaluation is an AuthZEN evaluation request, for authzen packages
	// (and check packages, mapped as on /access/v1/evaluation).
	Evaluation *checkapi.Evaluation `json:"evaluation,omitempty" jsonschema:"description=An AuthZEN evaluation request exactly as POST /access/v1/evaluation takes it (instead of request)."`
	Expect     Expectation          `json:"expect"`
}

// Expectation is the decision a case expects.
type Expectation struct {
	Effect string `json:"effect" jsonschema:"enum=allow,enum=deny"`
	Reason string `json:"reason" jsonschema:"minLength=1,description=Reason code the package must return."`
}

// CaseError is a problem in a case file; Path points at the field.
type CaseError struct {
	Path    string
	Problem string
}

func (e *CaseError) Error() string { return e.Path + ": " + e.Problem }

// loadCases reads a case file. YAML is converted to JSON and then decoded
// strictly, the request of each case by the same decoder as /v1/check.
func loadCases(path string) (*CaseFile, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseCases(src)
}

func parseCases(src []byte) (*CaseFile, error) {
	var doc any
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, &CaseError{Path: "(document)", Problem: yamlErrorText(err)}
	}
	js, err := json.Marshal(doc)
	if err != nil {
		return nil, &CaseError{Path: "(document)", Problem: "keys must be strings"}
	}
	var raw struct {
		Cases []struct {
			Name        string          `json:"name"`
			Description string          `json:"description"`
			Request     json.RawMessage `json:"request"`
			Evaluation  json.RawMessage `json:"evaluation"`
			Expect      Expectation     `json:"expect"`
		} `json:"cases"`
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil && !errors.Is(err, io.EOF) {
		return nil, &CaseError{Path: "(document)", Problem: err.Error()}
	}
	if len(raw.Cases) == 0 {
		return nil, &CaseError{Path: "cases", Problem: "must list at least one case"}
	}
	out := &CaseFile{}
	var errs []error
	names := map[string]int{}
	for i, c := range raw.Cases {
		path := fmt.Sprintf("cases[%d]", i)
		if c.Name == "" {
			errs = append(errs, &CaseError{Path: path + ".name", Problem: "is required"})
		} else if j, dup := names[c.Name]; dup {
			errs = append(errs, &CaseError{Path: path + ".name", Problem: fmt.Sprintf("duplicate case name %q (first at cases[%d])", c.Name, j)})
		} else {
			names[c.Name] = i
		}
		if !policy.Effect(c.Expect.Effect).Valid() {
			errs = append(errs, &CaseError{Path: path + ".expect.effect", Problem: fmt.Sprintf("%q must be allow or deny", c.Expect.Effect)})
		}
		if c.Expect.Reason == "" {
			errs = append(errs, &CaseError{Path: path + ".expect.reason", Problem: "is required"})
		}
		cs := Case{Name: c.Name, Description: c.Description, Expect: c.Expect}
		var err error
		member := ".request"
		switch {
		case len(c.Request) > 0 && len(c.Evaluation) > 0:
			errs = append(errs, &CaseError{Path: path, Problem: "give request or evaluation, not both"})
			continue
		case len(c.Evaluation) > 0:
			member = ".evaluation"
			cs.Evaluation, err = checkapi.DecodeEvaluation(c.Evaluation)
		default:
			cs.Request, err = checkapi.Decode(c.Request)
		}
		if err != nil {
			var fe *checkapi.FieldError
			if errors.As(err, &fe) {
				errs = append(errs, &CaseError{Path: path + member + "." + fe.Field, Problem: fe.Problem})
			} else {
				errs = append(errs, &CaseError{Path: path + member, Problem: err.Error()})
			}
		}
		out.Cases = append(out.Cases, cs)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

func yamlErrorText(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		return te.Errors[0]
	}
	return err.Error()
}
