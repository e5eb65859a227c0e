package server

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/stellaops/authgate/services/flex-auth/internal/checkapi"
	"github.com/stellaops/authgate/services/flex-auth/internal/decisionlog"
)

// check answers POST /v1/check with the decision envelope.
func (s *Server) check(c echo.Context) error {
	buf := s.getBuf()
	defer s.putBuf(buf)
	if err := checkapi.ReadBody(c.Request().Body, buf); err != nil {
		return err
	}
	req, err := checkapi.Decode(buf.Bytes())
	if err != nil {
		return err
	}
	d, err := s.decide(c.Request().Context(), &req, RouteCheck)
	if err != nil {
		return err
	}
	buf.Reset()
	out := d.AppendJSON(buf.AvailableBuffer())
	return writeJSON(c, out)
}

// Header values of a decision answer, shared read-only by every response.
var (
	headerJSON    = []string{jsonMediaType}
	headerNoStore = []string{"no-store"}
)

// writeJSON answers 200 with body, not cacheable; the header values are
// assigned rather than Set so that no slice is allocated per response.
func writeJSON(c echo.Context, body []byte) error {
	res := c.Response()
	h := res.Header()
	h[echo.HeaderContentType] = headerJSON
	h[echo.HeaderCacheControl] = headerNoStore
	res.WriteHeader(http.StatusOK)
	_, err := res.Write(body)
	return err
}

// decide evaluates req with the active pair, records the decision in the
// log, and returns it only once the log line is written.
func (s *Server) decide(ctx context.Context, req *checkapi.Request, endpoint string) (checkapi.Decision, error) {
	start := s.deps.Now()
	pair := s.deps.Engine.Active()
	d, evalErr := pair.Decide(req)
	if evalErr != nil {
		s.deps.Metrics.EvalError()
	}
	d.DecisionID = s.ids.New()
	e := decisionlog.Entry{
		Time: start, DecisionID: d.DecisionID, Endpoint: endpoint,
		Actor: d.Actor, Subject: d.Subject, Action: d.Action, Principal: d.Principal,
		Resource: req.Resource, TTLHours: d.TTLHours,
		Effect: d.Effect, Reason: d.Reason, Backend: d.Backend,
		PolicyPackage: d.Policy.Package, PolicyDigest: d.Policy.Digest, RegistryDigest: d.Registry.Digest,
	}
	e.Latency = s.deps.Now().Sub(start)
	if err := s.deps.Log.Append(&e); err != nil {
		s.logErr.Store(&logFailure{At: s.deps.Now(), Error: err.Error()})
		s.deps.Metrics.Decision(ctx, "deny", ReasonLogUnavailable, s.deps.Now().Sub(start))
		return checkapi.Decision{}, &errLogUnavailable{cause: err}
	}
	if s.logErr.Load() != nil {
		s.logErr.Store(nil)
	}
	s.deps.Metrics.Decision(ctx, d.Effect, d.Reason, s.deps.Now().Sub(start))
	return d, nil
}
