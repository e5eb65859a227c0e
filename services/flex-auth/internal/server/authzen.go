package server

import (
	"context"
	"errors"
	"mime"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/stellaops/authgate/services/flex-auth/internal/checkapi"
	"github.com/stellaops/authgate/services/flex-auth/internal/decisionlog"
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
	body, release, err := s.readBody(c)
	if err != nil {
		return err
	}
	defer release()
	ev, err := checkapi.DecodeEvaluation(body)
	if err != nil {
		return err
	}
	pair := s.deps.Engine.Active()
	start := s.deps.Now()
	d, err := s.evaluate(pair, ev)
	if err != nil {
		return err
	}
	e := s.entry(start, &d, ev.Resource.ID, RouteAuthZEN)
	if err := s.record(c.Request().Context(), start, []decisionlog.Entry{e}); err != nil {
		return err
	}
	s.deps.Metrics.Decision(c.Request().Context(), d.Effect, d.Reason, s.deps.Now().Sub(start))
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, checkapi.NewEvaluationResponse(&d))
}

// evaluate decides one evaluation with pair and gives it an id.
func (s *Server) evaluate(pair *engine.Pair, ev *checkapi.Evaluation) (checkapi.Decision, error) {
	d, evalErr, badReq := pair.DecideAuthZEN(ev)
	if badReq != nil {
		return d, badReq
	}
	if evalErr != nil {
		s.deps.Metrics.EvalError()
	}
	d.DecisionID = s.ids.New()
	return d, nil
}

// entry is the decision log line of d.
func (s *Server) entry(start time.Time, d *checkapi.Decision, resource, endpoint string) decisionlog.Entry {
	return decisionlog.Entry{
		Time: start, DecisionID: d.DecisionID, Endpoint: endpoint,
		Actor: d.Actor, Subject: d.Subject, Action: d.Action, Principal: d.Principal,
		Resource: resource, TTLHours: d.TTLHours,
		Effect: d.Effect, Reason: d.Reason, Backend: d.Backend,
		PolicyPackage: d.Policy.Package, PolicyDigest: d.Policy.Digest, RegistryDigest: d.Registry.Digest,
		DataDigest: d.DataDigest, Latency: s.deps.Now().Sub(start),
	}
}

// record writes entries to the decision log in one write; on failure
// nothing may be answered but a deny.
func (s *Server) record(ctx context.Context, start time.Time, es []decisionlog.Entry) error {
	if len(es) == 0 {
		return nil
	}
	if err := s.deps.Log.AppendAll(es); err != nil {
		s.logErr.Store(&logFailure{At: s.deps.Now(), Error: err.Error()})
		s.deps.Metrics.Decision(ctx, "deny", ReasonLogUnavailable, s.deps.Now().Sub(start))
		return &errLogUnavailable{cause: err}
	}
	if s.logErr.Load() != nil {
		s.logErr.Store(nil)
	}
	return nil
}

// evaluations answers POST /access/v1/evaluations: every item decided with
// the same loaded set, in request order, stopping early as the semantic
// asks; all decisions are logged in one write before the answer.
func (s *Server) evaluations(c echo.Context) error {
	body, release, err := s.readBody(c)
	if err != nil {
		return err
	}
	defer release()
	items, semantic, single, err := checkapi.DecodeEvaluations(body)
	if err != nil {
		return err
	}
	pair := s.deps.Engine.Active()
	start := s.deps.Now()
	out := make([]any, 0, len(items))
	entries := make([]decisionlog.Entry, 0, len(items))
	decisions := make([]checkapi.Decision, 0, len(items))
	for i := range items {
		allow := false
		if items[i].Err != nil {
			// an evaluation-level error: a deny, the batch goes on
			out = append(out, checkapi.NewErrorResponse(items[i].Err))
		} else {
			d, err := s.evaluate(pair, &items[i].Evaluation)
			if err != nil {
				var fe *checkapi.FieldError
				if !errors.As(err, &fe) || single {
					return err
				}
				out = append(out, checkapi.NewErrorResponse(err))
			} else {
				decisions = append(decisions, d)
				entries = append(entries, s.entry(start, &d, items[i].Resource.ID, RouteEvaluations))
				out = append(out, checkapi.NewEvaluationResponse(&d))
				allow = d.Effect == "allow"
			}
		}
		if (semantic == checkapi.DenyOnFirstDeny && !allow) || (semantic == checkapi.PermitOnFirstPermit && allow) {
			break
		}
	}
	if err := s.record(c.Request().Context(), start, entries); err != nil {
		return err
	}
	for i := range decisions {
		s.deps.Metrics.Decision(c.Request().Context(), decisions[i].Effect, decisions[i].Reason, s.deps.Now().Sub(start))
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	if single {
		return c.JSON(http.StatusOK, out[0])
	}
	return c.JSON(http.StatusOK, checkapi.EvaluationsResponse{Evaluations: out})
}
