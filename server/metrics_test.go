package server

import (
	"net/http/httptest"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

type gaugeEngine map[string]float64

func (f gaugeEngine) EngineMetrics() map[string]float64 { return f }

// TestMetricsExposition parses a whole scrape with Prometheus's own text
// parser, which rejects a family whose samples are split or whose TYPE
// comes twice: every family must come with its # TYPE line (as daprd's
// exporter writes them), daprd's histograms as histograms, and each engine
// figure as one gauge family with a sample per store.
func TestMetricsExposition(t *testing.T) {
	m := newHTTPMetrics("expo-app", MetricsOptions{IncreasedCardinality: true, LatencyBuckets: DefaultLatencyBuckets})
	m.record("GET", "/v1.0/state/s/k", 200, 0, 3, nowFunc())
	h := (&Runtime{}).metricsHandler(map[string]EngineMetricser{
		"b": gaugeEngine{"kv_applied_seq": 7, "kv_disk.bytes": 1},
		"a": gaugeEngine{"kv_applied_seq": 3, "kv_disk.bytes": 2},
	})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	body := w.Body.String()
	if !strings.Contains(body, "# TYPE dapr_http_server_request_count counter\n") {
		t.Fatalf("no TYPE line for dapr_http_server_request_count:\n%.2000s", body)
	}
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("Prometheus's parser rejects the exposition: %v", err)
	}
	for name, want := range map[string]dto.MetricType{
		"dapr_http_server_request_count": dto.MetricType_COUNTER,
		"dapr_http_server_latency":       dto.MetricType_HISTOGRAM,
		"process_resident_memory_bytes":  dto.MetricType_GAUGE,
		"statecar_kv_applied_seq":        dto.MetricType_GAUGE,
		"statecar_kv_disk_bytes":         dto.MetricType_GAUGE,
	} {
		f, ok := fams[name]
		if !ok {
			t.Fatalf("no family %s", name)
		}
		if f.GetType() != want {
			t.Errorf("%s: type %v, want %v", name, f.GetType(), want)
		}
	}
	seq := fams["statecar_kv_applied_seq"].GetMetric()
	if len(seq) != 2 || seq[0].GetGauge().GetValue()+seq[1].GetGauge().GetValue() != 10 {
		t.Fatalf("statecar_kv_applied_seq samples: %v", seq)
	}
	// (VictoriaMetrics' own vmrange histograms, statecar_store_*_seconds,
	// are exposed as untyped; they are not daprd's.)
	for name, f := range fams {
		if strings.HasPrefix(name, "dapr_") && f.GetType() == dto.MetricType_UNTYPED {
			t.Errorf("family %s has no TYPE line", name)
		}
	}
}
