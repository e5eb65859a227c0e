// Package metrics is the catalog of every flex-auth metric. Labels are low
// cardinality: effects, reason codes declared by the policy package, reload
// results, endpoint templates. Never actors, subjects or paths.
package metrics

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// The catalog. Counter names get the _total suffix in the Prometheus
// exposition.
const (
	// Decisions answered, by effect and reason. Unit: {decision}.
	NameDecisions = "flex_auth_decisions"
	// Time from request decoded to decision logged. Unit: s.
	NameDecisionDuration = "flex_auth_decision_duration_seconds"
	// Reload attempts of the snapshot/policy pair, by result (success,
	// failure). Unit: {reload}.
	NameReloads = "flex_auth_reloads"
	// Actors in the active registry snapshot. Unit: {actor}.
	NameActorsLoaded = "flex_auth_actors_loaded"
	// Failed decision log writes (each one failed every decision of its
	// batch closed). Unit: {error}.
	NameLogWriteErrors = "flex_auth_decision_log_write_errors"
	// Policy conditions that failed at evaluation time (counted as deny).
	// Unit: {error}.
	NameEvalErrors = "flex_auth_policy_evaluation_errors"
	// Bytes free for the service on the decision log's file system, and
	// the floor under which /readyz answers 503 (decisionLog.minFreeBytes).
	// Unit: By.
	NameLogFreeBytes    = "flex_auth_decision_log_free_bytes"
	NameLogMinFreeBytes = "flex_auth_decision_log_min_free_bytes"
	// Rotations of the decision log file. Unit: {rotation}.
	NameLogRotations = "flex_auth_decision_log_rotations"
	// 1 while the DPoP replay store of caller authentication answers
	// (always for memory), 0 while it does not; observed by
	// pkg/replaystore. Unit: 1.
	NameReplayStoreUp = "flex_auth_replay_store_up"
	// Requests refused with 429 because their caller was over a per-caller
	// limit, by limit (decisions, search_candidates). Unit: {request}.
	NameLimited = "flex_auth_limited_requests"
)

// latencyBuckets suit a decision that takes tens of microseconds plus a
// group-commit fsync.
var latencyBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1}

// Metrics holds the instruments.
type Metrics struct {
	decisions  metric.Int64Counter
	duration   metric.Float64Histogram
	reloads    metric.Int64Counter
	logErrors  metric.Int64Counter
	evalErrors metric.Int64Counter
	rotations  metric.Int64Counter
	meter      metric.Meter
	limited    metric.Int64Counter

	// attrs maps (effect, reason) to its precomputed attribute set; it is
	// replaced, never changed, when a new pair is seen (under attrsMu).
	attrs   atomic.Pointer[map[attrKey][]metric.AddOption]
	attrsMu sync.Mutex
}

type attrKey struct{ effect, reason string }

// New creates the instruments on meter; actors reports the gauge value.
func New(meter metric.Meter, actors func() int64) (*Metrics, error) {
	m := &Metrics{meter: meter}
	var err error
	if m.decisions, err = meter.Int64Counter(NameDecisions, metric.WithUnit("{decision}"),
		metric.WithDescription("Decisions answered, by effect and reason.")); err != nil {
		return nil, err
	}
	if m.duration, err = meter.Float64Histogram(NameDecisionDuration, metric.WithUnit("s"),
		metric.WithDescription("Time to decide and durably log one decision."),
		metric.WithExplicitBucketBoundaries(latencyBuckets...)); err != nil {
		return nil, err
	}
	if m.reloads, err = meter.Int64Counter(NameReloads, metric.WithUnit("{reload}"),
		metric.WithDescription("Reloads of the registry snapshot and policy package, by result.")); err != nil {
		return nil, err
	}
	if m.logErrors, err = meter.Int64Counter(NameLogWriteErrors, metric.WithUnit("{error}"),
		metric.WithDescription("Failed decision log writes; their decisions were answered 503.")); err != nil {
		return nil, err
	}
	if m.evalErrors, err = meter.Int64Counter(NameEvalErrors, metric.WithUnit("{error}"),
		metric.WithDescription("Policy conditions that failed at evaluation time (decided deny).")); err != nil {
		return nil, err
	}
	if m.rotations, err = meter.Int64Counter(NameLogRotations, metric.WithUnit("{rotation}"),
		metric.WithDescription("Rotations of the decision log file.")); err != nil {
		return nil, err
	}
	if m.limited, err = meter.Int64Counter(NameLimited, metric.WithUnit("{request}"),
		metric.WithDescription("Requests refused (429) because their caller was over a per-caller limit.")); err != nil {
		return nil, err
	}
	if _, err = meter.Int64ObservableGauge(NameActorsLoaded, metric.WithUnit("{actor}"),
		metric.WithDescription("Actors in the active registry snapshot."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(actors())
			return nil
		})); err != nil {
		return nil, err
	}
	return m, nil
}

// Decision records one answered decision. The attribute set of each
// (effect, reason) is built once, so recording allocates nothing.
func (m *Metrics) Decision(ctx context.Context, effect, reason string, d time.Duration) {
	m.decisions.Add(ctx, 1, m.attrSet(effect, reason)...)
	m.duration.Record(ctx, d.Seconds())
}

func (m *Metrics) attrSet(effect, reason string) []metric.AddOption {
	k := attrKey{effect, reason}
	if cur := m.attrs.Load(); cur != nil {
		if o, ok := (*cur)[k]; ok {
			return o
		}
	}
	m.attrsMu.Lock()
	defer m.attrsMu.Unlock()
	next := map[attrKey][]metric.AddOption{}
	if cur := m.attrs.Load(); cur != nil {
		if o, ok := (*cur)[k]; ok {
			return o
		}
		for kk, o := range *cur {
			next[kk] = o
		}
	}
	o := []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(
		attribute.String("effect", effect), attribute.String("reason", reason)))}
	next[k] = o
	m.attrs.Store(&next)
	return o
}

// Reload records one reload attempt.
func (m *Metrics) Reload(result string) {
	m.reloads.Add(context.Background(), 1, metric.WithAttributes(attribute.String("result", result)))
}

// LogWriteError records one failed decision log write.
func (m *Metrics) LogWriteError() { m.logErrors.Add(context.Background(), 1) }

// EvalError records one policy evaluation error.
func (m *Metrics) EvalError() { m.evalErrors.Add(context.Background(), 1) }

// ObserveLogDisk reports the decision log's free space (free, read at
// each collection; -1 when unknown is not reported) and its floor.
func (m *Metrics) ObserveLogDisk(free func() int64, minFree int64) error {
	_, err := m.meter.Int64ObservableGauge(NameLogFreeBytes, metric.WithUnit("By"),
		metric.WithDescription("Bytes free for flex-auth on the decision log's file system."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			if f := free(); f >= 0 {
				o.Observe(f)
			}
			return nil
		}))
	if err != nil {
		return err
	}
	_, err = m.meter.Int64ObservableGauge(NameLogMinFreeBytes, metric.WithUnit("By"),
		metric.WithDescription("decisionLog.minFreeBytes: below it /readyz answers 503."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(minFree)
			return nil
		}))
	return err
}

// LogRotation records one rotation of the decision log.
func (m *Metrics) LogRotation() { m.rotations.Add(context.Background(), 1) }

// Limited records one request refused by the per-caller limit named.
func (m *Metrics) Limited(limit string) {
	m.limited.Add(context.Background(), 1, metric.WithAttributes(attribute.String("limit", limit)))
}
