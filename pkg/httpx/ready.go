package httpx

import (
	"sync"
	"time"

	"go.uber.org/zap"
)

// ReadyLog logs a service's readiness, as its /readyz finds it, once per
// change at info: "not ready" with why at the first not-ready answer (at
// start, or after being ready), "ready" with how long it was not at the
// first ready answer after that. The probes themselves are request lines
// at debug level (see levelFor), so a start-up polled every few
// milliseconds logs two lines, not hundreds of errors. Safe for
// concurrent use.
type ReadyLog struct {
	log *zap.Logger
	now func() time.Time

	mu    sync.Mutex
	known bool // a state was logged
	ready bool
	since time.Time // start of the current state
}

// NewReadyLog returns a ReadyLog that logs to log; now (nil: time.Now)
// dates the changes.
func NewReadyLog(log *zap.Logger, now func() time.Time) *ReadyLog {
	if now == nil {
		now = time.Now
	}
	return &ReadyLog{log: log, now: now, since: now()}
}

// Observe records one readiness check: why is empty when ready, else the
// reason the service is not.
func (r *ReadyLog) Observe(why string) {
	ready := why == ""
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.known && r.ready == ready {
		return
	}
	at := r.now()
	if ready {
		r.log.Info("ready", zap.Duration("not_ready_for", at.Sub(r.since)))
	} else {
		r.log.Info("not ready: /readyz answers 503 until this changes", zap.String("why", why))
	}
	r.known, r.ready, r.since = true, ready, at
}
