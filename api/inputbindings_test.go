package api

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/statecar/statecar/component/binding"
)

// manualInput is an input binding whose events the test fires.
type manualInput struct {
	mu     sync.Mutex
	h      binding.InputHandler
	ctx    context.Context
	reads  int
	closed bool
}

func (m *manualInput) Read(ctx context.Context, h binding.InputHandler) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.h, m.ctx = h, ctx
	m.reads++
	return nil
}

func (m *manualInput) Close() error { m.mu.Lock(); m.closed = true; m.mu.Unlock(); return nil }

func (m *manualInput) fire(t *testing.T, data string, meta map[string]string) ([]byte, error) {
	t.Helper()
	m.mu.Lock()
	h, ctx := m.h, m.ctx
	m.mu.Unlock()
	if h == nil {
		t.Fatal("the binding is not being read")
	}
	return h(ctx, &binding.ReadResponse{Data: []byte(data), Metadata: meta})
}

type delivered struct {
	name, route, data string
	meta              map[string]string
}

type fakeBindingApp struct {
	subscribed map[string]bool
	asked      []string
	mu         sync.Mutex
	got        []delivered
	answer     func(name string) (*BindingAppResponse, error)
	block      chan struct{}
}

func (a *fakeBindingApp) WaitReady(context.Context) error { return nil }
func (a *fakeBindingApp) InputBindingSubscribed(_ context.Context, name, route string) (bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.asked = append(a.asked, name+"@"+route)
	if name == "broken" {
		return false, errors.New("app unreachable")
	}
	return a.subscribed[name], nil
}
func (a *fakeBindingApp) DeliverBinding(_ context.Context, name, route string, data []byte, meta map[string]string) (*BindingAppResponse, error) {
	if a.block != nil {
		<-a.block
	}
	a.mu.Lock()
	a.got = append(a.got, delivered{name, route, string(data), meta})
	a.mu.Unlock()
	if a.answer != nil {
		return a.answer(name)
	}
	return &BindingAppResponse{Body: []byte("ok")}, nil
}

// recOutput is an output binding that records its calls.
type recOutput struct {
	mu  sync.Mutex
	got []string
}

func (o *recOutput) Operations() []string { return []string{binding.OpCreate} }
func (o *recOutput) Invoke(ctx context.Context, r *binding.InvokeRequest) (*binding.InvokeResponse, error) {
	if err := ctx.Err(); err != nil {
		return nil, err // as a binding doing I/O would fail
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.got = append(o.got, r.Operation+":"+string(r.Data))
	return nil, nil
}
func (o *recOutput) Close() error { return nil }

func startInputs(t *testing.T, app BindingApp, outputs *Bindings, entries ...InputBindingEntry) *InputBindings {
	t.Helper()
	ib := NewInputBindings(InputBindingsConfig{AppID: "myapp", Bindings: entries, App: app, Outputs: outputs, DisableMetrics: true})
	ib.Start()
	select {
	case <-ib.Started():
	case <-time.After(5 * time.Second):
		t.Fatal("not started")
	}
	return ib
}

func TestInputBindingsSubscriptionAndDelivery(t *testing.T) {
	sub, notSub, explicit, broken := &manualInput{}, &manualInput{}, &manualInput{}, &manualInput{}
	app := &fakeBindingApp{subscribed: map[string]bool{"sub": true}}
	ib := startInputs(t, app, nil,
		InputBindingEntry{Name: "sub", Binding: sub, Route: "/custom"},
		InputBindingEntry{Name: "notsub", Binding: notSub, Route: "notsub"},
		InputBindingEntry{Name: "explicit", Binding: explicit, Route: "explicit", Explicit: true},
		InputBindingEntry{Name: "broken", Binding: broken, Route: "broken"},
	)
	// The explicit one is not asked about; the others are, by route.
	if len(app.asked) != 3 || app.asked[0] != "sub@/custom" || app.asked[1] != "notsub@notsub" {
		t.Fatalf("asked %v", app.asked)
	}
	if sub.reads != 1 || notSub.reads != 0 || explicit.reads != 1 || broken.reads != 0 {
		t.Fatalf("reads: sub %d, notsub %d, explicit %d, broken %d", sub.reads, notSub.reads, explicit.reads, broken.reads)
	}
	body, err := sub.fire(t, `{"a":1}`, map[string]string{"k": "v"})
	if err != nil || string(body) != "ok" {
		t.Fatalf("fire: %q %v", body, err)
	}
	if len(app.got) != 1 || app.got[0].name != "sub" || app.got[0].route != "/custom" || app.got[0].data != `{"a":1}` || app.got[0].meta["k"] != "v" {
		t.Fatalf("delivered %+v", app.got)
	}
	app.answer = func(string) (*BindingAppResponse, error) { return nil, errors.New("app said 500") }
	if _, err := explicit.fire(t, "x", nil); err == nil || err.Error() != "app said 500" {
		t.Fatalf("failed delivery: %v", err)
	}
	ib.Stop(context.Background())
	if _, err := sub.fire(t, "late", nil); err == nil || err.Error() != "input binding is closed" {
		t.Fatalf("after Stop: %v", err)
	}
	if err := ib.Close(); err != nil || !sub.closed || !notSub.closed {
		t.Fatalf("Close: %v", err)
	}
}

func TestInputBindingsForwardToOutputs(t *testing.T) {
	out1, out2 := &recOutput{}, &recOutput{}
	outputs := NewBindings(BindingsConfig{AppID: "myapp", Bindings: []OutputBinding{{Name: "o1", Binding: out1}, {Name: "o2", Binding: out2}}, DisableMetrics: true})
	in := &manualInput{}
	app := &fakeBindingApp{}
	parallel := false
	app.answer = func(string) (*BindingAppResponse, error) {
		return &BindingAppResponse{Body: []byte(`{"n":12345678901234567890}`), To: []string{"o1", "missing", "o2"}, Parallel: parallel, StateStore: "ignored"}, nil
	}
	startInputs(t, app, outputs, InputBindingEntry{Name: "in", Binding: in, Route: "in", Explicit: true})
	if _, err := in.fire(t, "x", nil); err != nil {
		t.Fatal(err)
	}
	// In order, stopping at the unknown binding (daprd's sequential send).
	if len(out1.got) != 1 || out1.got[0] != `create:{"n":12345678901234567890}` || len(out2.got) != 0 {
		t.Fatalf("sequential: o1 %v, o2 %v", out1.got, out2.got)
	}
	parallel = true
	if _, err := in.fire(t, "x", nil); err != nil {
		t.Fatal(err)
	}
	if len(out1.got) != 2 || len(out2.got) != 1 {
		t.Fatalf("parallel: o1 %v, o2 %v", out1.got, out2.got)
	}
	// Data that is not JSON is forwarded as null.
	app.answer = func(string) (*BindingAppResponse, error) {
		return &BindingAppResponse{Body: []byte("plain"), To: []string{"o2"}}, nil
	}
	if _, err := in.fire(t, "x", nil); err != nil {
		t.Fatal(err)
	}
	if out2.got[1] != "create:null" {
		t.Fatalf("not JSON: %v", out2.got)
	}
}

func TestInputBindingsStopWaits(t *testing.T) {
	in := &manualInput{}
	app := &fakeBindingApp{block: make(chan struct{})}
	ib := startInputs(t, app, nil, InputBindingEntry{Name: "in", Binding: in, Route: "in", Explicit: true})
	done := make(chan struct{})
	go func() { _, _ = in.fire(t, "x", nil); close(done) }()
	time.Sleep(50 * time.Millisecond)
	stopped := make(chan struct{})
	go func() { ib.Stop(context.Background()); close(stopped) }()
	select {
	case <-stopped:
		t.Fatal("Stop returned during a delivery")
	case <-time.After(100 * time.Millisecond):
	}
	close(app.block)
	<-done
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("Stop did not return")
	}
}

func TestInputBindingsWithoutApp(t *testing.T) {
	in := &manualInput{}
	startInputs(t, nil, nil, InputBindingEntry{Name: "in", Binding: in, Route: "in", Explicit: true})
	if in.reads != 0 {
		t.Fatal("read without an app channel")
	}
}

// TestInputBindingsForwardDuringStop: a gRPC app's "to" of an event in
// flight when Stop is called is still forwarded.
func TestInputBindingsForwardDuringStop(t *testing.T) {
	out := &recOutput{}
	outputs := NewBindings(BindingsConfig{AppID: "myapp", Bindings: []OutputBinding{{Name: "o", Binding: out}}, DisableMetrics: true})
	in := &manualInput{}
	app := &fakeBindingApp{block: make(chan struct{})}
	app.answer = func(string) (*BindingAppResponse, error) {
		return &BindingAppResponse{Body: []byte(`1`), To: []string{"o"}}, nil
	}
	ib := startInputs(t, app, outputs, InputBindingEntry{Name: "in", Binding: in, Route: "in", Explicit: true})
	fired := make(chan error, 1)
	go func() { _, err := in.fire(t, "x", nil); fired <- err }()
	time.Sleep(50 * time.Millisecond)
	stopped := make(chan struct{})
	go func() { ib.Stop(context.Background()); close(stopped) }()
	time.Sleep(50 * time.Millisecond)
	close(app.block)
	if err := <-fired; err != nil {
		t.Fatal(err)
	}
	<-stopped
	if len(out.got) != 1 || out.got[0] != "create:1" {
		t.Fatalf("forwarded %v", out.got)
	}
}
