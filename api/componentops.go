package api

import (
	"strconv"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// componentOps holds the dapr_component_<kind>_count and _latencies series
// of one component (daprd's component monitoring: labels app_id,
// component, namespace, operation, success). The zero value records
// nothing (metrics disabled). It is immutable after newComponentOps; the
// series are safe for concurrent use.
type componentOps struct {
	// count and lat are indexed [operation][success].
	count [][2]*metrics.Counter
	lat   [][2]*metrics.PrometheusHistogram
}

// newComponentOps creates the series of ops for component comp, so that
// they exist (at 0) from the start, like the state store series. prefix is
// e.g. "dapr_component_secret"; buckets are the latency buckets in ms.
func newComponentOps(prefix, appID, namespace, comp string, ops []string, buckets []float64) componentOps {
	m := componentOps{count: make([][2]*metrics.Counter, len(ops)), lat: make([][2]*metrics.PrometheusHistogram, len(ops))}
	for op, opName := range ops {
		for ok, succ := range [2]string{"false", "true"} {
			labels := `{app_id=` + strconv.Quote(appID) + `,component=` + strconv.Quote(comp) +
				`,namespace=` + strconv.Quote(namespace) + `,operation="` + opName + `",success="` + succ + `"}`
			m.count[op][ok] = metrics.GetOrCreateCounter(prefix + "_count" + labels)
			m.lat[op][ok] = metrics.GetOrCreatePrometheusHistogramExt(prefix+"_latencies"+labels, buckets)
		}
	}
	return m
}

// record counts one call of operation op that started at start. Its
// latency is observed in whole milliseconds, and only when above 0, as
// daprd records it (elapsed > 0).
func (m *componentOps) record(op int, start time.Time, ok bool) {
	if m.count == nil {
		return
	}
	s := 0
	if ok {
		s = 1
	}
	m.count[op][s].Inc()
	if ms := time.Since(start) / time.Millisecond; ms > 0 {
		m.lat[op][s].Update(float64(ms))
	}
}
