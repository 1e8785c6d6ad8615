package grpcserver

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	runtimev1pb "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Metric names, as daprd exports its OpenCensus views (runtime-http.md §5).
const (
	metricCompleted = "dapr_grpc_io_server_completed_rpcs"
	metricLatency   = "dapr_grpc_io_server_server_latency"
	metricRecvBytes = "dapr_grpc_io_server_received_bytes_per_rpc"
	metricSentBytes = "dapr_grpc_io_server_sent_bytes_per_rpc"
)

// latencyBucketsMs are daprd's default latency buckets in milliseconds.
var latencyBucketsMs = []float64{1, 2, 3, 4, 5, 6, 8, 10, 13, 16, 20, 25, 30, 40, 50, 65, 80, 100, 130, 160, 200, 250, 300, 400, 500, 650, 800, 1000, 2000, 5000, 10000, 20000, 50000, 100000}

// sizeBuckets are daprd's defaultSizeDistribution (bytes).
var sizeBuckets = []float64{1 << 10, 2 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20, 16 << 20, 64 << 20, 256 << 20, 1 << 30, 4 << 30}

// numCodes is the number of gRPC status codes (OK .. Unauthenticated).
const numCodes = int(codes.Unauthenticated) + 1

// rpcMetrics records the dapr_grpc_io_server_* series of one app id in
// the VictoriaMetrics default set.
//
// Series are created on first use (like daprd's OpenCensus views, which
// export a series only after its first sample) and cached in per-method
// slots, so the steady state of record is lock-free except for the
// histograms' own mutexes and allocation-free.
type rpcMetrics struct {
	appID   string
	buckets []float64 // latency bucket bounds (ms)
	// known holds one slot per unary method of the Dapr service; built in
	// newRPCMetrics and read-only afterwards.
	known map[string]*methodMetrics
	// other holds slots for methods outside the Dapr service (e.g. the
	// reflection service); string -> *methodMetrics, concurrent.
	other sync.Map
}

// methodMetrics are one method's series. The pointers are set at most once
// (CompareAndSwap from nil) by whichever RPC first needs them.
type methodMetrics struct {
	method    string
	recvBytes atomic.Pointer[metrics.PrometheusHistogram]
	sentBytes atomic.Pointer[metrics.PrometheusHistogram]
	byCode    [numCodes]atomic.Pointer[codeMetrics]
}

// codeMetrics are the series of one (method, status) pair.
type codeMetrics struct {
	completed *metrics.Counter
	latency   *metrics.PrometheusHistogram
}

func newRPCMetrics(appID string, latencyBuckets []float64) *rpcMetrics {
	if len(latencyBuckets) == 0 {
		latencyBuckets = latencyBucketsMs
	}
	m := &rpcMetrics{appID: appID, buckets: latencyBuckets, known: map[string]*methodMetrics{}}
	prefix := "/" + runtimev1pb.Dapr_ServiceDesc.ServiceName + "/"
	for _, md := range runtimev1pb.Dapr_ServiceDesc.Methods {
		name := prefix + md.MethodName
		m.known[name] = &methodMetrics{method: name}
	}
	return m
}

// record accounts one finished unary RPC. req and resp are the proto
// messages (resp is ignored when err != nil; its size is then 0, as daprd).
func (m *rpcMetrics) record(method string, req, resp any, err error, start time.Time) {
	ms := time.Since(start).Seconds() * 1000
	mm := m.known[method]
	if mm == nil {
		mm = m.slowMethod(method)
	}
	code := codes.OK
	if err != nil {
		code = status.Code(err)
	}
	cm := mm.code(m.appID, m.buckets, code)
	cm.completed.Inc()
	cm.latency.Update(ms)

	recv := mm.recvBytes.Load()
	if recv == nil {
		recv = mm.initBytes(m.appID)
	}
	recv.Update(float64(messageSize(req)))
	sent := 0
	if err == nil {
		sent = messageSize(resp)
	}
	mm.sentBytes.Load().Update(float64(sent))
}

func (m *rpcMetrics) slowMethod(method string) *methodMetrics {
	if v, ok := m.other.Load(method); ok {
		return v.(*methodMetrics)
	}
	v, _ := m.other.LoadOrStore(method, &methodMetrics{method: method})
	return v.(*methodMetrics)
}

// code returns the series for code, creating them on first use.
func (mm *methodMetrics) code(appID string, buckets []float64, code codes.Code) *codeMetrics {
	idx := int(code)
	if idx < 0 || idx >= numCodes {
		idx = int(codes.Unknown)
		code = codes.Unknown
	}
	if cm := mm.byCode[idx].Load(); cm != nil {
		return cm
	}
	labels := `{app_id="` + escapeLabel(appID) + `",grpc_server_method="` + escapeLabel(mm.method) +
		`",grpc_server_status="` + code.String() + `"}`
	cm := &codeMetrics{
		completed: metrics.GetOrCreateCounter(metricCompleted + labels),
		latency:   metrics.GetOrCreatePrometheusHistogramExt(metricLatency+labels, buckets),
	}
	if !mm.byCode[idx].CompareAndSwap(nil, cm) {
		return mm.byCode[idx].Load()
	}
	return cm
}

// initBytes creates both byte histograms and returns the received one.
func (mm *methodMetrics) initBytes(appID string) *metrics.PrometheusHistogram {
	labels := `{app_id="` + escapeLabel(appID) + `",grpc_server_method="` + escapeLabel(mm.method) + `"}`
	// The sent histogram is stored first: record loads it after seeing the
	// received one, so it is never nil there.
	mm.sentBytes.CompareAndSwap(nil, metrics.GetOrCreatePrometheusHistogramExt(metricSentBytes+labels, sizeBuckets))
	mm.recvBytes.CompareAndSwap(nil, metrics.GetOrCreatePrometheusHistogramExt(metricRecvBytes+labels, sizeBuckets))
	return mm.recvBytes.Load()
}

// messageSize is the serialized size of a proto message (what daprd's
// interceptor records), 0 for anything else.
func messageSize(v any) int {
	if msg, ok := v.(proto.Message); ok && msg != nil {
		return proto.Size(msg)
	}
	return 0
}

// escapeLabel escapes a Prometheus label value (backslash, quote, newline).
func escapeLabel(s string) string {
	if !strings.ContainsAny(s, "\\\"\n") {
		return s
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return r.Replace(s)
}
