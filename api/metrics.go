package api

import (
	"strconv"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// Telemetry configures the process-wide error-code metric.
type Telemetry struct {
	AppID string
	// RecordErrorCodes enables dapr_error_code_total (Configuration
	// spec.metrics.recordErrorCodes).
	RecordErrorCodes bool
}

// telemetry is swapped atomically; read on every CountError.
var telemetry atomic.Pointer[Telemetry]

// SetTelemetry sets the process-wide telemetry settings. Safe to call
// concurrently with CountError.
func SetTelemetry(t Telemetry) { telemetry.Store(&t) }

// CountError increments dapr_error_code_total{app_id,category,error_code}
// when RecordErrorCodes is enabled. The State methods never call it: the
// transport calls it once for every error response it sends (so errors the
// transport itself produces, such as ERR_DIRECT_INVOKE, count too; use
// CountErrorCode for those).
func CountError(e *Error) {
	if e == nil {
		return
	}
	CountErrorCode(e.Category(), e.tag)
}

// CountGRPCError is CountError for a gRPC reply. daprd's gRPC metrics
// interceptor counts only errors that carry an error code; the errors its
// gRPC handlers return as they are (a SaveState JSON decode error, a
// GetBulkState store failure: status Unknown without details) are not
// counted.
func CountGRPCError(e *Error) {
	if e == nil || e.noGRPCEI {
		return
	}
	CountError(e)
}

// CountErrorCode is CountError for an error code produced outside api.
func CountErrorCode(category, code string) {
	t := telemetry.Load()
	if t == nil || !t.RecordErrorCodes {
		return
	}
	metrics.GetOrCreateCounter(`dapr_error_code_total{app_id=` + strconv.Quote(t.AppID) +
		`,category=` + strconv.Quote(category) + `,error_code=` + strconv.Quote(code) + `}`).Inc()
}

// daprd's default latency buckets (ms).
var defaultLatencyBuckets = []float64{1, 2, 3, 4, 5, 6, 8, 10, 13, 16, 20, 25, 30, 40, 50, 65, 80, 100, 130, 160, 200, 250, 300, 400, 500, 650, 800, 1000, 2000, 5000, 10000, 20000, 50000, 100000}

// Store operations (the "operation" label).
type op uint8

const (
	opGet op = iota
	opSet
	opDelete
	opBulkGet
	opBulkDelete
	opTransaction
	opQuery
	numOps
)

var opNames = [numOps]string{"get", "set", "delete", "bulk_get", "bulk_delete", "transaction", "query"}

// storeMetrics holds the pre-created series of one store, so that recording
// does not allocate. Indexed [op][success].
type storeMetrics struct {
	count [numOps][2]*metrics.Counter
	lat   [numOps][2]*metrics.PrometheusHistogram
}

func newStoreMetrics(appID, namespace, store string, buckets []float64) *storeMetrics {
	if buckets == nil {
		buckets = defaultLatencyBuckets
	}
	m := &storeMetrics{}
	for o := op(0); o < numOps; o++ {
		for s, succ := range [2]string{"false", "true"} {
			labels := `{app_id=` + strconv.Quote(appID) + `,component=` + strconv.Quote(store) +
				`,namespace=` + strconv.Quote(namespace) + `,operation="` + opNames[o] + `",success="` + succ + `"}`
			m.count[o][s] = metrics.GetOrCreateCounter("dapr_component_state_count" + labels)
			m.lat[o][s] = metrics.GetOrCreatePrometheusHistogramExt("dapr_component_state_latencies"+labels, buckets)
		}
	}
	return m
}

// record records one store call that started at start.
func (e *storeEntry) record(o op, start time.Time, ok bool) {
	if e.m == nil {
		return
	}
	s := 0
	if ok {
		s = 1
	}
	e.m.count[o][s].Inc()
	if ms := time.Since(start) / time.Millisecond; ms > 0 {
		e.m.lat[o][s].Update(float64(ms))
	}
}
