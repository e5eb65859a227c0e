package token

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Metric names, as the operations page names them (the Prometheus
// exporter appends _total to counters).
const (
	MetricIssued   = "registry_token_issued"
	MetricRejected = "registry_token_rejected"
)

// instruments is the metric catalog of the token endpoint.
type instruments struct {
	issued   metric.Int64Counter
	rejected metric.Int64Counter
	reasons  map[Reason]metric.AddOption // read-only after construction
}

func newInstruments(m metric.Meter) (*instruments, error) {
	issued, err := m.Int64Counter(MetricIssued,
		metric.WithDescription("Registry tokens issued."), metric.WithUnit("{token}"))
	if err != nil {
		return nil, err
	}
	rejected, err := m.Int64Counter(MetricRejected,
		metric.WithDescription("Registry token requests refused, by reason."), metric.WithUnit("{request}"))
	if err != nil {
		return nil, err
	}
	in := &instruments{issued: issued, rejected: rejected, reasons: map[Reason]metric.AddOption{}}
	for _, r := range Reasons() {
		in.reasons[r] = metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", string(r))))
	}
	return in, nil
}

func (in *instruments) issue(ctx context.Context) { in.issued.Add(ctx, 1) }

func (in *instruments) reject(ctx context.Context, r Reason) {
	opt, ok := in.reasons[r]
	if !ok {
		opt = in.reasons[ReasonUnavailable]
	}
	in.rejected.Add(ctx, 1, opt)
}
