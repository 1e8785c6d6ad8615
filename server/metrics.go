package server

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/VictoriaMetrics/metrics"
)

// httpMetrics records dapr_http_server_* into VictoriaMetrics' default set.
type httpMetrics struct {
	appID   string
	opts    MetricsOptions
	reqSize *metrics.PrometheusHistogram
	resSize *metrics.PrometheusHistogram

	pm *pathMatching // nil unless Configuration pathMatching is set

	mu     sync.RWMutex
	series map[string]*httpSeries // key: method \x00 path \x00 status; guarded by mu
}

type httpSeries struct {
	count    *metrics.Counter
	resCount *metrics.Counter // nil unless increased cardinality
	latency  *metrics.PrometheusHistogram
}

func newHTTPMetrics(appID string, opts MetricsOptions) *httpMetrics {
	app := `{app_id=` + strconv.Quote(appID) + `}`
	return &httpMetrics{
		appID:   appID,
		opts:    opts,
		reqSize: metrics.GetOrCreatePrometheusHistogramExt("dapr_http_server_request_bytes"+app, sizeBuckets),
		resSize: metrics.GetOrCreatePrometheusHistogramExt("dapr_http_server_response_bytes"+app, sizeBuckets),
		series:  map[string]*httpSeries{},
		pm:      newPathMatching(opts.PathMatching, opts.IncreasedCardinality),
	}
}

var keyPool = sync.Pool{New: func() any { b := make([]byte, 0, 128); return &b }}

// metricPath is daprd's legacy path label: state and secrets keep their
// first three segments (the key is dropped).
func metricPath(p string) string {
	ps := splitPath(p)
	segs := ps.s[:ps.n]
	if len(segs) >= 3 && (segs[1] == "state" || segs[1] == "secrets") {
		n := 1 + len(segs[0]) + 1 + len(segs[1]) + 1 + len(segs[2])
		if n <= len(p) {
			return p[:n]
		}
	}
	return p
}

var validVerbs = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodConnect: true, http.MethodOptions: true, http.MethodTrace: true,
}

// record counts one served request; the lookup of an existing series does
// not allocate (Invariant 4).
func (m *httpMetrics) record(method, path string, status, reqBytes, resBytes int, start int64) {
	if m.opts.ExcludeVerbs {
		method = ""
	} else if !validVerbs[method] {
		method = "UNKNOWN"
	}
	path = m.metricsPath(path)
	kp := keyPool.Get().(*[]byte)
	key := append((*kp)[:0], method...)
	key = append(key, 0)
	key = append(key, path...)
	key = append(key, 0)
	key = strconv.AppendInt(key, int64(status), 10)
	m.mu.RLock()
	s := m.series[string(key)]
	m.mu.RUnlock()
	if s == nil {
		s = m.newSeries(string(key), method, path, status)
	}
	*kp = key
	keyPool.Put(kp)
	s.count.Inc()
	if s.resCount != nil {
		s.resCount.Inc()
	}
	s.latency.Update(float64(nowFunc()-start) / 1e6)
	m.reqSize.Update(float64(reqBytes))
	m.resSize.Update(float64(resBytes))
}

func (m *httpMetrics) newSeries(key, method, path string, status int) *httpSeries {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := m.series[key]; s != nil {
		return s
	}
	labels := `{app_id=` + strconv.Quote(m.appID) + `,method=` + strconv.Quote(method) +
		`,path=` + strconv.Quote(path) + `,status=` + strconv.Quote(strconv.Itoa(status)) + `}`
	s := &httpSeries{
		count:   metrics.GetOrCreateCounter("dapr_http_server_request_count" + labels),
		latency: metrics.GetOrCreatePrometheusHistogramExt("dapr_http_server_latency"+labels, m.opts.LatencyBuckets),
	}
	if m.opts.IncreasedCardinality || m.pm != nil {
		s.resCount = metrics.GetOrCreateCounter("dapr_http_server_response_count" + labels)
	}
	m.series[key] = s
	return s
}

// RecordComponentLoaded counts a loaded component
// (dapr_runtime_component_loaded, dapr_runtime_component_init_total).
func RecordComponentLoaded(appID, typ string) {
	app := strconv.Quote(appID)
	metrics.GetOrCreateCounter(`dapr_runtime_component_loaded{app_id=` + app + `}`).Inc()
	metrics.GetOrCreateCounter(`dapr_runtime_component_init_total{app_id=` + app + `,component=` + strconv.Quote(typ) + `}`).Inc()
}

// RecordComponentInitFailed counts dapr_runtime_component_init_fail_total.
func RecordComponentInitFailed(appID, typ, name, reason string) {
	metrics.GetOrCreateCounter(`dapr_runtime_component_init_fail_total{app_id=` + strconv.Quote(appID) +
		`,component=` + strconv.Quote(typ) + `,componentName=` + strconv.Quote(name) + `,reason=` + strconv.Quote(reason) + `}`).Inc()
}

// metricsContentType is daprd's exposition content type.
const metricsContentType = "text/plain; version=0.0.4; charset=utf-8; escaping=underscores"

// EngineMetricser is implemented by stores that expose engine figures
// (the embedded engine). Values are written as gauges named
// statecar_<name>{store="<component>"}; names must be valid Prometheus
// metric name suffixes.
type EngineMetricser interface {
	EngineMetrics() map[string]float64
}

// metricsHandler writes every metric of the default set plus process and
// Go metrics, and the statecar_* engine figures, on any path. Every family
// has its # HELP and # TYPE lines, as daprd's Prometheus exporter writes
// them (metrics.ExposeMetadata, process-wide).
func (s *Runtime) metricsHandler(engines map[string]EngineMetricser) http.Handler {
	metrics.ExposeMetadata(true)
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", metricsContentType)
		metrics.WritePrometheus(w, true)
		writeEngineMetrics(w, engines)
	})
}

// writeEngineMetrics writes the engines' figures as gauges, one family per
// name (its samples together, one per store, after its metadata lines).
func writeEngineMetrics(w io.Writer, engines map[string]EngineMetricser) {
	type sample struct {
		name, store string
		v           float64
	}
	var all []sample
	for store, e := range engines {
		for k, v := range e.EngineMetrics() {
			name := "statecar_" + strings.Map(func(r rune) rune {
				if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' {
					return r
				}
				return '_'
			}, k)
			all = append(all, sample{name, store, v})
		}
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].name != all[j].name {
			return all[i].name < all[j].name
		}
		return all[i].store < all[j].store
	})
	for i, m := range all {
		if i == 0 || all[i-1].name != m.name {
			metrics.WriteMetadataIfNeeded(w, m.name, "gauge")
		}
		fmt.Fprintf(w, "%s{store=%s} %g\n", m.name, strconv.Quote(m.store), m.v)
	}
}
