package server

import (
	"errors"
	"mime"
	"net/http"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/labstack/echo/v4"

	"github.com/stellaops/authgate/services/flex-auth/internal/checkapi"
	"github.com/stellaops/authgate/services/flex-auth/internal/engine"
)

// authzenProtocol is the middleware of every AuthZEN endpoint: it echoes
// X-Request-ID (the specification's request correlation header) and
// refuses a POST body that is not application/json.
func authzenProtocol(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if id := c.Request().Header.Get(HeaderRequestID); id != "" {
			c.Response().Header().Set(HeaderRequestID, id)
		}
		if c.Request().Method == http.MethodPost {
			mt, _, err := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
			if err != nil || mt != jsonMediaType {
				return &checkapi.FieldError{Field: "Content-Type", Problem: "must be application/json"}
			}
		}
		return next(c)
	}
}

// readBody reads the request body into a pooled buffer; call the
// returned release when done with the bytes.
func (s *Server) readBody(c echo.Context) ([]byte, func(), error) {
	buf := s.getBuf()
	release := func() { s.putBuf(buf) }
	if err := checkapi.ReadBody(c.Request().Body, buf); err != nil {
		release()
		return nil, nil, err
	}
	return buf.Bytes(), release, nil
}

// authzen answers POST /access/v1/evaluation.
func (s *Server) authzen(c echo.Context) error {
	if err := s.takeDecisions(c, 1); err != nil {
		return err
	}
	body, release, err := s.readBody(c)
	if err != nil {
		return err
	}
	defer release()
	ev, err := checkapi.DecodeEvaluation(body)
	if err != nil {
		return err
	}
	set := s.deps.Engine.Active()
	start := s.deps.Now()
	d, err := s.evaluate(set, ev, start, RouteAuthZEN)
	if err != nil {
		return err
	}
	if err := s.record(c.Request().Context(), start, d); err != nil {
		return err
	}
	s.count(c.Request().Context(), start, d)
	out := s.getBuf()
	defer s.putBuf(out)
	out.Write(append(appendEvaluationResponse(out.AvailableBuffer(), &d), '\n'))
	return writeJSON(c, out.Bytes())
}

// evaluate decides one evaluation with set and stamps the decision.
func (s *Server) evaluate(set *engine.Set, ev *checkapi.Evaluation, start time.Time, endpoint string) (engine.Decision, error) {
	d, err := decideAuthZEN(set, ev)
	if err != nil {
		return d, err
	}
	s.stamp(&d, start, endpoint)
	return d, nil
}

// decideAuthZEN decides ev with set; an evaluation the routed package
// cannot take is a *checkapi.FieldError.
func decideAuthZEN(set *engine.Set, ev *checkapi.Evaluation) (engine.Decision, error) {
	d, err := set.DecideAuthZEN(ev.Policy())
	if err == nil {
		return d, nil
	}
	var re *engine.RequestError
	if errors.As(err, &re) {
		return d, &checkapi.FieldError{Field: re.Field, Problem: re.Problem}
	}
	return d, err
}

// evaluationResponse is the AuthZEN answer of d.
func evaluationResponse(d *engine.Decision) checkapi.EvaluationResponse {
	r := checkapi.EvaluationResponse{
		Decision: d.Allowed(),
		Context: checkapi.EvaluationContext{
			DecisionID: d.ID, Reason: d.Reason, ReasonAdmin: map[string]string{"en": d.Reason},
			Effect: string(d.Effect), Backend: d.Backend,
			Policy:   checkapi.PolicyRef{Package: d.PolicyPackage, Version: d.PolicyVersion, Digest: d.PolicyDigest},
			Registry: checkapi.RegistryRef{Digest: d.RegistryDigest},
		},
	}
	if d.DataDigest != "" {
		r.Context.Data = &checkapi.DataRef{Digest: d.DataDigest}
	}
	return r
}

// evaluations answers POST /access/v1/evaluations: every item decided with
// the same loaded set, in request order, stopping early as the semantic
// asks; all decisions are logged in one write before the answer.
func (s *Server) evaluations(c echo.Context) error {
	// A caller over its limit is refused before its body is read: the
	// batch's size is known only once decoded, so the door waits for
	// the size of the caller's last refused batch.
	if err := s.limited(c, s.deps.Limits.Decisions.Admit(Caller(c))); err != nil {
		return err
	}
	body, release, err := s.readBody(c)
	if err != nil {
		return err
	}
	defer release()
	items, semantic, single, err := checkapi.DecodeEvaluations(body)
	if err != nil {
		return err
	}
	if err := s.takeDecisions(c, len(items)); err != nil {
		return err
	}
	set := s.deps.Engine.Active()
	start := s.deps.Now()
	out := s.getBuf()
	defer s.putBuf(out)
	// The answers are encoded as they are decided: {"evaluations":[...]}
	// around them for a batch, the first alone for a single evaluation.
	out.Grow(len(items) * answerSize)
	if !single {
		out.WriteString(`{"evaluations":[`)
	}
	decisions := make([]engine.Decision, 0, len(items))
	for i := range items {
		if i > 0 {
			out.WriteByte(',')
		}
		allow := false
		if items[i].Err != nil {
			// an evaluation-level error: a deny, the batch goes on
			r := checkapi.NewErrorResponse(items[i].Err)
			err = json.MarshalWrite(out, &r, checkapi.EncodeOptions)
		} else {
			d, derr := s.evaluate(set, &items[i].Evaluation, start, RouteEvaluations)
			if derr != nil {
				var fe *checkapi.FieldError
				if !errors.As(derr, &fe) || single {
					return derr
				}
				r := checkapi.NewErrorResponse(derr)
				err = json.MarshalWrite(out, &r, checkapi.EncodeOptions)
			} else {
				decisions = append(decisions, d)
				out.Write(appendEvaluationResponse(out.AvailableBuffer(), &d))
				allow = d.Allowed()
			}
		}
		if err != nil {
			return err
		}
		if single || (semantic == checkapi.DenyOnFirstDeny && !allow) || (semantic == checkapi.PermitOnFirstPermit && allow) {
			break
		}
	}
	if !single {
		out.WriteString("]}")
	}
	if err := s.record(c.Request().Context(), start, decisions...); err != nil {
		return err
	}
	s.count(c.Request().Context(), start, decisions...)
	out.WriteByte('\n')
	return writeJSON(c, out.Bytes())
}
