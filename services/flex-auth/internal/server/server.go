// Package server is the flex-auth HTTP API: POST /v1/check, the AuthZEN
// evaluation endpoint, health, readiness and metrics, on the shared echo
// plumbing of pkg/httpx.
package server

import (
	"bytes"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/stellaops/authgate/pkg/httpx"
	"github.com/stellaops/authgate/services/flex-auth/internal/checkapi"
	"github.com/stellaops/authgate/services/flex-auth/internal/decisionlog"
	"github.com/stellaops/authgate/services/flex-auth/internal/engine"
	"github.com/stellaops/authgate/services/flex-auth/internal/metrics"
)

// Routes served.
const (
	RouteCheck          = "/v1/check"
	RouteAuthZEN        = "/access/v1/evaluation"
	RouteEvaluations    = "/access/v1/evaluations"
	RouteSearchSubject  = "/access/v1/search/subject"
	RouteSearchResource = "/access/v1/search/resource"
	RouteSearchAction   = "/access/v1/search/action"
	RouteConfiguration  = "/.well-known/authzen-configuration"
	// HeaderRequestID is echoed on every AuthZEN answer.
	HeaderRequestID = "X-Request-ID"
	RouteHealth     = "/healthz"
	RouteReady      = "/readyz"
	RouteMetrics    = "/metrics"
	jsonMediaType   = "application/json"
)

// Deps are what the server needs.
type Deps struct {
	Engine   *engine.Engine
	Log      *decisionlog.Log
	LogSync  decisionlog.SyncMode
	Metrics  *metrics.Metrics
	Logger   *zap.Logger
	Exporter http.Handler // serves /metrics
	Now      func() time.Time
	// Guard, when set, authenticates callers of the decision endpoints.
	Guard echo.MiddlewareFunc
	// AuthReady, when set, must hold for /readyz to answer ready: caller
	// authentication has what it needs (the Authority's keys).
	AuthReady func() bool
	// PublicURL, when set, is the base URL callers use: the metadata's
	// policy_decision_point and the prefix of its endpoints. Unset, the
	// scheme and host of the metadata request are used.
	PublicURL string
	// Pager signs search page tokens (nil: a key of this process's own,
	// good for one replica).
	Pager *checkapi.Pager
	// Limits bound what one caller may ask per second.
	Limits Limits
	// SearchBudget, when positive, is the most candidates one search page
	// evaluates (limits.searchCandidates): a page that reaches it is
	// partial (context.partial) with a next_token to go on.
	SearchBudget int
}

// Server holds the handlers' state.
type Server struct {
	deps     Deps
	ready    atomic.Bool
	readyLog *httpx.ReadyLog
	logErr   atomic.Pointer[logFailure]
	bufs     sync.Pool
	ids      checkapi.IDSource
}

type logFailure struct {
	At    time.Time
	Error string
}

// New builds the server and its echo router. It starts not ready.
func New(d Deps) (*Server, *echo.Echo) {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Pager == nil {
		d.Pager = checkapi.RandomPager()
	}
	s := &Server{deps: d, readyLog: httpx.NewReadyLog(d.Logger, d.Now)}
	s.bufs.New = func() any { return new(bytes.Buffer) }
	e := httpx.New(httpx.Options{Logger: d.Logger, Mapper: Errors, Metrics: d.Exporter, Now: d.Now})
	var guard []echo.MiddlewareFunc
	if d.Guard != nil {
		guard = append(guard, d.Guard)
	}
	e.POST(RouteCheck, s.check, guard...)
	az := append([]echo.MiddlewareFunc{authzenProtocol}, guard...)
	e.POST(RouteAuthZEN, s.authzen, az...)
	e.POST(RouteEvaluations, s.evaluations, az...)
	e.POST(RouteSearchSubject, s.search(checkapi.SearchSubject), az...)
	e.POST(RouteSearchResource, s.search(checkapi.SearchResource), az...)
	e.POST(RouteSearchAction, s.search(checkapi.SearchAction), az...)
	e.GET(RouteConfiguration, s.configuration, authzenProtocol)
	if p := metadataPath(d.PublicURL); p != RouteConfiguration {
		e.GET(p, s.configuration, authzenProtocol)
	}
	e.GET(RouteHealth, s.health)
	e.GET(RouteReady, s.readyz)
	return s, e
}

// SetReady marks the server ready (true) or draining (false).
func (s *Server) SetReady(v bool) { s.ready.Store(v) }

// Buffers of request bodies and answers are pooled up to maxPooledBuf, so
// that a batch of checkapi.MaxBatch answers (about answerSize bytes each)
// reuses its buffer.
const (
	answerSize   = 480
	maxPooledBuf = 1 << 20
)

func (s *Server) getBuf() *bytes.Buffer {
	b := s.bufs.Get().(*bytes.Buffer)
	b.Reset()
	return b
}

func (s *Server) putBuf(b *bytes.Buffer) {
	if b.Cap() <= maxPooledBuf {
		s.bufs.Put(b)
	}
}
