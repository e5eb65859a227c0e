package proctest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Metrics is one scrape of a /metrics endpoint, parsed with the
// Prometheus text parser.
type Metrics map[string]*dto.MetricFamily

// Scrape fetches and parses url (e.g. p.URL + "/metrics").
func Scrape(ctx context.Context, url string) (Metrics, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil, fmt.Errorf("proctest: GET %s: status %d", url, resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("proctest: parse %s: %w", url, err)
	}
	return Metrics(fams), nil
}

// Metrics scrapes the process's /metrics.
func (p *Proc) Metrics(ctx context.Context) (Metrics, error) {
	return Scrape(ctx, p.URL+"/metrics")
}

// Value sums the samples of the counter or gauge name whose labels include
// every pair of labelPairs ("reason", "unavailable", ...). A missing
// family or series counts 0.
func (m Metrics) Value(name string, labelPairs ...string) float64 {
	fam, ok := m[name]
	if !ok {
		return 0
	}
	var sum float64
	for _, s := range fam.GetMetric() {
		if !hasLabels(s, labelPairs) {
			continue
		}
		sum += sampleValue(s)
	}
	return sum
}

// Labels returns the values of label on the series of name, with their
// values (e.g. every reason of registry_token_rejected_total).
func (m Metrics) Labels(name, label string) map[string]float64 {
	out := map[string]float64{}
	fam, ok := m[name]
	if !ok {
		return out
	}
	for _, s := range fam.GetMetric() {
		for _, l := range s.GetLabel() {
			if l.GetName() == label {
				out[l.GetValue()] += sampleValue(s)
			}
		}
	}
	return out
}

func sampleValue(s *dto.Metric) float64 {
	switch {
	case s.Counter != nil:
		return s.Counter.GetValue()
	case s.Gauge != nil:
		return s.Gauge.GetValue()
	case s.Untyped != nil:
		return s.Untyped.GetValue()
	}
	return 0
}

func hasLabels(s *dto.Metric, pairs []string) bool {
	for i := 0; i+1 < len(pairs); i += 2 {
		found := false
		for _, l := range s.GetLabel() {
			if l.GetName() == pairs[i] && l.GetValue() == pairs[i+1] {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// Usage is a process's footprint as it reports it on /metrics.
type Usage struct {
	RSS        int64 // process_resident_memory_bytes
	Goroutines int64 // go_goroutines
}

func (u Usage) String() string {
	return fmt.Sprintf("rss=%.1fMiB goroutines=%d", float64(u.RSS)/(1<<20), u.Goroutines)
}

// Usage scrapes process_resident_memory_bytes and go_goroutines.
func (p *Proc) Usage(ctx context.Context) (Usage, error) {
	m, err := p.Metrics(ctx)
	if err != nil {
		return Usage{}, err
	}
	if _, ok := m["go_goroutines"]; !ok {
		return Usage{}, fmt.Errorf("proctest: %s exposes no go_goroutines", p.Name)
	}
	return Usage{RSS: int64(m.Value("process_resident_memory_bytes")), Goroutines: int64(m.Value("go_goroutines"))}, nil
}

// CheckGrowth fails t when RSS or goroutines grew from start to end
// beyond noise: half again plus 16 MiB for memory (the heap grows in
// steps before it settles), 10 goroutines (connections come and go).
func CheckGrowth(t testing.TB, start, end Usage) {
	t.Helper()
	if end.RSS > start.RSS+start.RSS/2+16<<20 {
		t.Errorf("RSS grew from %s to %s", start, end)
	}
	if end.Goroutines > start.Goroutines+10 {
		t.Errorf("goroutines grew from %d to %d", start.Goroutines, end.Goroutines)
	}
}
