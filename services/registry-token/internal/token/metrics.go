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
	// MetricPolicyFailOpen counts tokens issued without flex-auth's
	// decision because it failed while policy.failClosed is false.
	MetricPolicyFailOpen = "registry_token_policy_fail_open"
	// MetricConfigReloads counts configuration reloads (SIGHUP, file
	// watch) by result, success or failure; counted by the program's
	// reloader, named here with the rest of the catalog.
	MetricConfigReloads = "registry_token_config_reloads"
	// MetricReplayStoreUp is 1 while the DPoP replay store answers (always
	// for memory), 0 while it does not; observed by pkg/replaystore for
	// the program, named here with the rest of the catalog.
	MetricReplayStoreUp = "registry_token_replay_store_up"
)

// instruments is the metric catalog of the token endpoint.
type instruments struct {
	issued    metric.Int64Counter
	rejected  metric.Int64Counter
	failOpens metric.Int64Counter
	reasons   map[Reason]metric.AddOption // read-only after construction
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
	failOpen, err := m.Int64Counter(MetricPolicyFailOpen,
		metric.WithDescription("Registry tokens issued without the flex-auth policy check (flex-auth failed, policy.failClosed is false), by outage reason."),
		metric.WithUnit("{token}"))
	if err != nil {
		return nil, err
	}
	in := &instruments{issued: issued, rejected: rejected, failOpens: failOpen, reasons: map[Reason]metric.AddOption{}}
	for _, r := range Reasons() {
		in.reasons[r] = metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", string(r))))
	}
	return in, nil
}

func (in *instruments) issue(ctx context.Context) { in.issued.Add(ctx, 1) }

func (in *instruments) failOpen(ctx context.Context, r Reason) {
	in.failOpens.Add(ctx, 1, in.reasons[r])
}

func (in *instruments) reject(ctx context.Context, r Reason) {
	opt, ok := in.reasons[r]
	if !ok {
		opt = in.reasons[ReasonInternal]
	}
	in.rejected.Add(ctx, 1, opt)
}
