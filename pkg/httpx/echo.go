package httpx

import (
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Options configure New.
type Options struct {
	Logger *zap.Logger
	// Mapper is the service's error table.
	Mapper Mapper
	// Metrics serves GET /metrics when set.
	Metrics http.Handler
	// Now is the clock used for request latency.
	Now func() time.Time
}

// New returns an echo instance with the request log, error rendering,
// panic recovery and /metrics wired. Health routes are the service's own.
func New(o Options) *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	// The client address is the direct peer; forwarding headers are
	// attacker-controlled unless a service decides otherwise.
	e.IPExtractor = echo.ExtractIPDirect()
	// Likewise the scheme is the connection's (https with TLS): echo would
	// else believe X-Forwarded-Proto from any loopback or private address,
	// which is any pod of the cluster.
	e.SchemeExtractor = echo.ExtractSchemeDirect()
	e.HTTPErrorHandler = ErrorHandler(o.Mapper)
	// One middleware, not two: echo applies its middleware chain on every
	// request, allocating one closure per middleware each time.
	e.Use(requestLog(o.Logger, o.Mapper, o.Now))
	if o.Metrics != nil {
		e.GET("/metrics", echo.WrapHandler(o.Metrics))
	}
	return e
}

// requestLog recovers handler panics (a 500 with no details) and writes
// one line per request, with the route template (never
// the raw path or query, which may carry tokens), the error code once and,
// in the field cause, why (see causeOf).
func requestLog(log *zap.Logger, m Mapper, now func() time.Time) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := now()
			err := callRecovering(log, next, c)
			if err != nil {
				c.Error(err)
			}
			status := c.Response().Status
			lvl := levelFor(c.Path(), status)
			if !log.Core().Enabled(lvl) {
				return nil
			}
			fields := []zap.Field{
				zap.String("method", c.Request().Method),
				zap.String("route", c.Path()),
				zap.String("remote", c.RealIP()),
				zap.Duration("latency", now().Sub(start)),
			}
			if err != nil {
				p := resolve(m, err)
				status = p.Status
				fields = append(fields, zap.String("error", p.Code))
				if c := causeOf(err, p); c != "" {
					fields = append(fields, zap.String("cause", c))
				}
			}
			fields = append(fields, zap.Int("status", status))
			if ce := log.Check(lvl, "request"); ce != nil {
				ce.Write(fields...)
			}
			return nil
		}
	}
}

// causeOf is why a request was refused, for the request log: the whole
// error of a server error; else what the error wraps (an invalid_token
// wrapping "optok audience mismatch" gives that cause); else, for a 401 or
// 403, the public description; "" otherwise. Domain errors wrap only fixed
// strings, claim and header names and configuration, never a token or
// proof.
func causeOf(err error, p *Problem) string {
	switch {
	case p.Status >= 500:
		return err.Error()
	case errors.Unwrap(err) != nil:
		return errors.Unwrap(err).Error()
	case p.Status == http.StatusUnauthorized || p.Status == http.StatusForbidden:
		return p.Description
	}
	return ""
}

// levelFor logs server errors at error level, probes and scrapes at debug,
// everything else at info. A /readyz 503 is a probe's answer, not a
// server error: debug too (ReadyLog logs the change once). So is a 429:
// the limiter logs each limited caller once per interval, and a caller
// flooding the service must not flood its log.
func levelFor(route string, status int) zapcore.Level {
	switch {
	case route == "/readyz" && status == http.StatusServiceUnavailable, status == http.StatusTooManyRequests:
		return zapcore.DebugLevel
	case status >= 500:
		return zapcore.ErrorLevel
	case route == "/healthz" || route == "/readyz" || route == "/metrics":
		return zapcore.DebugLevel
	default:
		return zapcore.InfoLevel
	}
}

// errPanic is what a recovered panic becomes: a 500 with no details.
var errPanic = errors.New("handler panic")

// callRecovering calls next, turning a panic (other than
// http.ErrAbortHandler) into errPanic after logging it.
func callRecovering(log *zap.Logger, next echo.HandlerFunc, c echo.Context) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if err, ok := r.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(r)
			}
			log.Error("panic", zap.Any("panic", r), zap.String("route", c.Path()))
			err = errPanic
		}
	}()
	return next(c)
}
