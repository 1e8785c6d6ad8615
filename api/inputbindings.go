package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/statecar/statecar/component/binding"
)

// InputBindingEntry is one loaded input binding.
type InputBindingEntry struct {
	Name    string
	Binding binding.Input
	// Route is the app path of its events: the component's "route"
	// metadata, else the binding's name.
	Route string
	// Explicit: the component's direction metadata names "input", so
	// daprd reads it without asking the app first.
	Explicit bool
}

// BindingAppResponse is what a gRPC app may answer a binding event with
// (daprd honours it for gRPC apps only): its data is sent to the output
// bindings To with operation "create", in parallel or in order.
type BindingAppResponse struct {
	Body     []byte
	To       []string
	Parallel bool
	// StateStore names a store the app asked to save states into (not
	// implemented: logged and ignored).
	StateStore string
}

// BindingApp is the application as input bindings reach it.
type BindingApp interface {
	// WaitReady returns once the app accepts connections or ctx is done.
	WaitReady(ctx context.Context) error
	// InputBindingSubscribed asks the app whether it takes the events of
	// binding name (HTTP: OPTIONS {route} answers 2xx or 405; gRPC: the
	// name is in ListInputBindings).
	InputBindingSubscribed(ctx context.Context, name, route string) (bool, error)
	// DeliverBinding sends one event to the app.
	DeliverBinding(ctx context.Context, name, route string, data []byte, meta map[string]string) (*BindingAppResponse, error)
}

// InputBindingsConfig configures NewInputBindings.
type InputBindingsConfig struct {
	AppID, Namespace string
	Bindings         []InputBindingEntry
	// App is the app channel; nil (no --app-port): nothing is read, as in
	// daprd.
	App BindingApp
	// Outputs receives the events a gRPC app forwards (its "to" list).
	Outputs        *Bindings
	LatencyBuckets []float64
	DisableMetrics bool
	Logger         *slog.Logger
}

// InputBindings reads the input bindings the app subscribed to and sends
// their events to the app (daprd's processor/binding: one attempt per
// event, no resiliency policy; what a failed event means is the binding's
// rule). It is safe for concurrent use.
type InputBindings struct {
	cfg InputBindingsConfig
	log *slog.Logger

	mu      sync.Mutex
	cancel  context.CancelFunc
	started chan struct{}

	seriesMu sync.Mutex
	series   map[[2]string]*ingressSeries // [binding, success]

	// drain runs the shutdown; drain.ctx bounds the deliveries and
	// forwards (not the binding's context, which is cancelled first).
	drain drain
}

// NewInputBindings builds the runner; Start begins reading.
func NewInputBindings(cfg InputBindingsConfig) *InputBindings {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.LatencyBuckets == nil {
		cfg.LatencyBuckets = defaultLatencyBuckets
	}
	ib := &InputBindings{cfg: cfg, log: cfg.Logger, started: make(chan struct{}), series: map[[2]string]*ingressSeries{}}
	ib.drain.init()
	return ib
}

// Started is closed once every subscribed binding reads (or was given up).
func (ib *InputBindings) Started() <-chan struct{} { return ib.started }

// Start waits (in the background) for the app, asks it which bindings it
// takes and starts reading those.
func (ib *InputBindings) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	ib.mu.Lock()
	ib.cancel = cancel
	ib.mu.Unlock()
	if len(ib.cfg.Bindings) == 0 || ib.cfg.App == nil {
		if len(ib.cfg.Bindings) > 0 {
			ib.log.Warn("app channel not initialized, make sure -app-port is specified if input bindings are required")
		}
		close(ib.started)
		return
	}
	go func() {
		defer close(ib.started)
		if ib.cfg.App.WaitReady(ctx) != nil {
			return
		}
		for _, e := range ib.cfg.Bindings {
			ib.startOne(ctx, e)
		}
	}()
}

func (ib *InputBindings) startOne(ctx context.Context, e InputBindingEntry) {
	if !e.Explicit {
		sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		ok, err := ib.cfg.App.InputBindingSubscribed(sctx, e.Name, e.Route)
		cancel()
		if err != nil {
			ib.log.Error(fmt.Sprintf("error reading from input binding %s: %s", e.Name, err))
			return
		}
		if !ok {
			ib.log.Info(fmt.Sprintf("app has not subscribed to binding %s.", e.Name))
			return
		}
	}
	err := e.Binding.Read(ctx, func(hctx context.Context, ev *binding.ReadResponse) ([]byte, error) {
		return ib.handle(hctx, e, ev)
	})
	if err != nil {
		ib.log.Error(fmt.Sprintf("error reading from input binding %s: %s", e.Name, err))
	}
}

func (ib *InputBindings) handle(ctx context.Context, e InputBindingEntry, ev *binding.ReadResponse) ([]byte, error) {
	if !ib.drain.enter() {
		return nil, fmt.Errorf("input binding is closed")
	}
	defer ib.drain.leave()
	if ev == nil {
		return nil, nil
	}
	start := time.Now()
	resp, err := ib.cfg.App.DeliverBinding(ib.drain.ctx, e.Name, e.Route, ev.Data, ev.Metadata)
	ib.record(e.Name, err == nil, time.Since(start))
	if err != nil {
		ib.log.Debug(fmt.Sprintf("error from app consumer for binding [%s]: %s", e.Name, err))
		return nil, err
	}
	if resp == nil {
		return nil, nil
	}
	if resp.StateStore != "" {
		ib.log.Warn(fmt.Sprintf("binding %s: the app's response asks to save state into %s, which statecar does not implement; ignored", e.Name, resp.StateStore))
	}
	if len(resp.To) > 0 {
		if err := ib.forward(ib.drain.ctx, resp); err != nil {
			ib.log.Error(fmt.Sprintf("error executing app response: %s", err))
		}
	}
	return resp.Body, nil
}

// forward is daprd's onAppResponse for "to": the data (re-encoded as JSON,
// null when it is not JSON) goes to each output binding with "create".
func (ib *InputBindings) forward(ctx context.Context, resp *BindingAppResponse) error {
	var v any
	d := json.NewDecoder(bytes.NewReader(resp.Body))
	d.UseNumber()
	if d.Decode(&v) != nil {
		v = nil
	}
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if resp.Parallel {
		var wg sync.WaitGroup
		for _, name := range resp.To {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := ib.cfg.Outputs.invoke(ctx, name, binding.OpCreate, data, nil); err != nil {
					ib.log.Error(err.Error())
				}
			}()
		}
		wg.Wait()
		return nil
	}
	for _, name := range resp.To {
		// invoke, not Invoke: daprd records no output binding metric here.
		if _, err := ib.cfg.Outputs.invoke(ctx, name, binding.OpCreate, data, nil); err != nil {
			return err
		}
	}
	return nil
}

// record is daprd's InputBindingEvent: dapr_component_input_binding_count
// and _latencies by binding and success.
func (ib *InputBindings) record(name string, ok bool, elapsed time.Duration) {
	if ib.cfg.DisableMetrics {
		return
	}
	k := [2]string{name, strconv.FormatBool(ok)}
	ib.seriesMu.Lock()
	s := ib.series[k]
	if s == nil {
		labels := `{app_id=` + strconv.Quote(ib.cfg.AppID) + `,component=` + strconv.Quote(name) +
			`,namespace=` + strconv.Quote(ib.cfg.Namespace) + `,success="` + k[1] + `"}`
		s = &ingressSeries{count: metrics.GetOrCreateCounter("dapr_component_input_binding_count" + labels),
			lat: metrics.GetOrCreatePrometheusHistogramExt("dapr_component_input_binding_latencies"+labels, ib.cfg.LatencyBuckets)}
		ib.series[k] = s
	}
	ib.seriesMu.Unlock()
	s.count.Inc()
	if ms := elapsed / time.Millisecond; ms > 0 {
		s.lat.Update(float64(ms))
	}
}

// Stop stops reading: no new event is taken, and Stop waits until the
// events in flight are delivered or ctx ends. The bindings are closed by
// their owner afterwards.
func (ib *InputBindings) Stop(ctx context.Context) {
	if ib == nil {
		return
	}
	if !ib.drain.stop() {
		return
	}
	ib.mu.Lock()
	cancel := ib.cancel
	ib.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	ib.drain.wait(ctx)
}

// Close closes every input binding.
func (ib *InputBindings) Close() error {
	if ib == nil {
		return nil
	}
	var first error
	for _, e := range ib.cfg.Bindings {
		if err := e.Binding.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
