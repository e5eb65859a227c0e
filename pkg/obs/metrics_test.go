package obs

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

func TestCounterIsExposedInPrometheusTextFormat(t *testing.T) {
	m, err := NewMetrics()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Shutdown(context.Background())
	c, err := m.Meter("test").Int64Counter("registry_token_rejected", metric.WithDescription("rejections"))
	if err != nil {
		t.Fatal(err)
	}
	c.Add(context.Background(), 2, metric.WithAttributes(attribute.String("reason", "invalid_token")))

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(rec.Body.String()))
	if err != nil {
		t.Fatalf("exposition does not parse: %v\n%s", err, rec.Body.String())
	}
	fam, ok := families["registry_token_rejected_total"]
	if !ok {
		t.Fatalf("registry_token_rejected_total missing; have %d families", len(families))
	}
	got := fam.GetMetric()[0]
	if v := got.GetCounter().GetValue(); v != 2 {
		t.Fatalf("value = %v, want 2", v)
	}
	if l := got.GetLabel(); len(l) != 1 || l[0].GetName() != "reason" || l[0].GetValue() != "invalid_token" {
		t.Fatalf("labels = %v", l)
	}
	if _, ok := families["go_goroutines"]; !ok {
		t.Fatal("go runtime collector missing")
	}
}
