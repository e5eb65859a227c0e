package server

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/stellaops/authgate/services/flex-auth/internal/checkapi"
	"github.com/stellaops/authgate/services/flex-auth/internal/engine"
)

// check answers POST /v1/check with the decision envelope.
func (s *Server) check(c echo.Context) error {
	if err := s.takeDecisions(c, 1); err != nil {
		return err
	}
	buf := s.getBuf()
	defer s.putBuf(buf)
	if err := checkapi.ReadBody(c.Request().Body, buf); err != nil {
		return err
	}
	req, err := checkapi.Decode(buf.Bytes())
	if err != nil {
		return err
	}
	start := s.deps.Now()
	d := s.deps.Engine.Active().Decide(req.Policy())
	s.stamp(&d, start, RouteCheck)
	if err := s.record(c.Request().Context(), start, d); err != nil {
		return err
	}
	s.count(c.Request().Context(), start, d)
	buf.Reset()
	buf.Write(appendEnvelope(buf.AvailableBuffer(), &d))
	return writeJSON(c, buf.Bytes())
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

// stamp gives d, decided since start, its id, time, endpoint and
// latency, and counts its evaluation error.
func (s *Server) stamp(d *engine.Decision, start time.Time, endpoint string) {
	if d.Err != nil {
		s.deps.Metrics.EvalError()
	}
	d.ID = s.ids.New()
	d.Time, d.Endpoint = start, endpoint
	d.LatencyUS = s.deps.Now().Sub(start).Microseconds()
}

// record writes ds to the decision log in one write; on failure nothing
// may be answered but a deny.
func (s *Server) record(ctx context.Context, start time.Time, ds ...engine.Decision) error {
	if len(ds) == 0 {
		return nil
	}
	if err := s.deps.Log.AppendAll(ds...); err != nil {
		s.logErr.Store(&logFailure{At: s.deps.Now(), Error: err.Error()})
		s.deps.Metrics.Decision(ctx, "deny", ReasonLogUnavailable, s.deps.Now().Sub(start))
		return &errLogUnavailable{cause: err}
	}
	if s.logErr.Load() != nil {
		s.logErr.Store(nil)
	}
	return nil
}

// count counts the decisions ds, answered since start.
func (s *Server) count(ctx context.Context, start time.Time, ds ...engine.Decision) {
	for i := range ds {
		s.deps.Metrics.Decision(ctx, string(ds[i].Effect), ds[i].Reason, s.deps.Now().Sub(start))
	}
}

// envelope is the /v1/check answer of d.
func envelope(d *engine.Decision) checkapi.Decision {
	return checkapi.Decision{
		DecisionID: d.ID, Effect: string(d.Effect), Reason: d.Reason, Backend: d.Backend,
		Policy:   checkapi.PolicyRef{Package: d.PolicyPackage, Version: d.PolicyVersion, Digest: d.PolicyDigest},
		Registry: checkapi.RegistryRef{Digest: d.RegistryDigest},
		Actor:    d.Actor, Subject: d.Subject, Action: d.Action, Principal: d.Principal, TTLHours: d.TTLHours,
	}
}
