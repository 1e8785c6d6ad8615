package api

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"google.golang.org/grpc/codes"

	"github.com/statecar/statecar/component/binding"
)

// CodeInvokeOutputBinding is the error code of a failed output binding
// call (category "binding" in dapr_error_code_total).
const CodeInvokeOutputBinding = "ERR_INVOKE_OUTPUT_BINDING"

// CodeMalformedRequestData: the HTTP data field could not be serialised.
const CodeMalformedRequestData = "ERR_MALFORMED_REQUEST_DATA"

// OutputBinding is one loaded output binding as the Bindings API serves it.
type OutputBinding struct {
	Name    string
	Binding binding.Output
}

// BindingsConfig configures NewBindings.
type BindingsConfig struct {
	AppID, Namespace string
	Bindings         []OutputBinding
	// LatencyBuckets are the dapr_component_output_binding_latencies
	// buckets in ms (nil: daprd's defaults).
	LatencyBuckets []float64
	// DisableMetrics turns off dapr_component_output_binding_* recording.
	DisableMetrics bool
}

// Bindings serves the output side of the Bindings API
// (other-building-blocks.md §5.1). It is immutable after NewBindings and
// safe for concurrent use; a nil *Bindings answers as daprd without
// bindings ("couldn't find output binding").
type Bindings struct {
	cfg      BindingsConfig
	bindings map[string]binding.Output
}

// NewBindings builds the Bindings API.
func NewBindings(cfg BindingsConfig) *Bindings {
	if cfg.LatencyBuckets == nil {
		cfg.LatencyBuckets = defaultLatencyBuckets
	}
	b := &Bindings{cfg: cfg, bindings: make(map[string]binding.Output, len(cfg.Bindings))}
	for _, ob := range cfg.Bindings {
		b.bindings[ob.Name] = ob.Binding
	}
	return b
}

// Invoke runs operation op of binding name with data and meta, daprd's
// SendToOutputBinding: the operation must be given and supported. The
// response (nil: nothing) carries the binding's metadata even when err is
// set, as daprd passes it on.
func (b *Bindings) Invoke(ctx context.Context, name, op string, data []byte, meta map[string]string) (*binding.InvokeResponse, *Error) {
	start := time.Now()
	resp, err := b.invoke(ctx, name, op, data, meta)
	b.record(name, op, start, err == nil)
	if err != nil {
		return resp, bindingErr(name, err)
	}
	return resp, nil
}

func (b *Bindings) invoke(ctx context.Context, name, op string, data []byte, meta map[string]string) (*binding.InvokeResponse, error) {
	if op == "" {
		return nil, fmt.Errorf("operation field is missing from request")
	}
	var ob binding.Output
	if b != nil {
		ob = b.bindings[name]
	}
	if ob == nil {
		return nil, fmt.Errorf("couldn't find output binding %s", name)
	}
	ops := ob.Operations()
	if !slices.Contains(ops, op) {
		return nil, fmt.Errorf("binding %s does not support operation %s. supported operations:%s", name, op, strings.Join(ops, " "))
	}
	if meta == nil {
		meta = map[string]string{}
	}
	return ob.Invoke(ctx, &binding.InvokeRequest{Data: data, Metadata: meta, Operation: op})
}

func bindingErr(name string, err error) *Error {
	e := basic(http.StatusInternalServerError, codes.Internal, CodeInvokeOutputBinding, fmt.Sprintf("error invoking output binding %s: %s", name, err))
	e.category = "binding"
	return e
}

// NewMalformedRequestData returns daprd's 500 ERR_MALFORMED_REQUEST_DATA.
func NewMalformedRequestData(err error) *Error {
	return basic(http.StatusInternalServerError, codes.Internal, CodeMalformedRequestData, "can't serialize request data field: "+err.Error())
}

// record counts one call in dapr_component_output_binding_count and
// _latencies (daprd's OutputBindingEvent: every call, known binding or
// not, by the requested name and operation; latency in whole ms when above
// 0). The operation is free text, so the series are looked up per call.
func (b *Bindings) record(name, op string, start time.Time, ok bool) {
	if b == nil || b.cfg.DisableMetrics {
		return
	}
	labels := `{app_id=` + strconv.Quote(b.cfg.AppID) + `,component=` + strconv.Quote(name) +
		`,namespace=` + strconv.Quote(b.cfg.Namespace) + `,operation=` + strconv.Quote(op) + `,success="` + strconv.FormatBool(ok) + `"}`
	metrics.GetOrCreateCounter("dapr_component_output_binding_count" + labels).Inc()
	if ms := time.Since(start) / time.Millisecond; ms > 0 {
		metrics.GetOrCreatePrometheusHistogramExt("dapr_component_output_binding_latencies"+labels, b.cfg.LatencyBuckets).Update(float64(ms))
	}
}

// Close closes every binding.
func (b *Bindings) Close() error {
	if b == nil {
		return nil
	}
	var first error
	for _, ob := range b.bindings {
		if err := ob.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
