package e2e

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	runtimev1pb "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/statecar/statecar/internal/testutil"
)

// bindingCall is one request an HTTP app got from an input binding.
type bindingCall struct {
	method, path string
	header       http.Header
	body         string
}

// TestInputBindingsCron runs bindings.cron on the binary with an HTTP app
// (other-building-blocks.md §5.2): the app is asked with OPTIONS which
// bindings it takes (2xx or 405: yes; 404: no), a direction of "input"
// skips the question, events are POSTed to the binding's name or its
// route metadata with the tick's metadata as headers, and they are listed
// and counted as daprd does.
func TestInputBindingsCron(t *testing.T) {
	calls := make(chan bindingCall, 100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		calls <- bindingCall{r.Method, r.URL.Path, r.Header.Clone(), string(b)}
		switch {
		case r.Method == http.MethodOptions && (r.URL.Path == "/unsub" || r.URL.Path == "/explicit"):
			w.WriteHeader(http.StatusNotFound)
		case r.Method == http.MethodOptions && r.URL.Path == "/custom":
			w.WriteHeader(http.StatusMethodNotAllowed)
		}
	}))
	t.Cleanup(srv.Close)
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	dir := t.TempDir()
	testutil.WriteComponent(t, dir, "tick", "bindings.cron", map[string]string{"schedule": "@every 1s"})
	testutil.WriteComponent(t, dir, "routed", "bindings.cron", map[string]string{"schedule": "@every 1s", "route": "/custom"})
	testutil.WriteComponent(t, dir, "unsub", "bindings.cron", map[string]string{"schedule": "@every 1s"})
	testutil.WriteComponent(t, dir, "explicit", "bindings.cron", map[string]string{"schedule": "@every 1s", "direction": "input"})
	testutil.WriteComponent(t, dir, "outonly", "bindings.cron", map[string]string{"schedule": "@every 1s", "direction": "output"})
	sc := testutil.Start(t, testutil.Options{AppID: "cronapp", ResourcesDir: dir, ExtraArgs: []string{"--app-port", strconv.Itoa(port)}})

	posts := map[string]int{}
	options := map[string]bool{}
	deadline := time.After(15 * time.Second)
	for posts["/tick"] < 2 || posts["/custom"] < 2 || posts["/explicit"] < 2 {
		select {
		case c := <-calls:
			if c.method == http.MethodOptions {
				options[c.path] = true
				continue
			}
			if c.method != http.MethodPost || c.header.Get("Content-Type") != "application/json" || c.body != "" ||
				c.header.Get("timeZone") == "" || !strings.HasSuffix(c.header.Get("readTimeUTC"), " +0000 UTC") {
				t.Fatalf("event %+v", c)
			}
			posts[c.path]++
		case <-deadline:
			t.Fatalf("events so far %v, OPTIONS %v", posts, options)
		}
	}
	if !options["/tick"] || !options["/custom"] || !options["/unsub"] || options["/explicit"] || options["/outonly"] {
		t.Errorf("OPTIONS asked for %v", options)
	}
	if posts["/unsub"] != 0 || posts["/outonly"] != 0 || posts["/routed"] != 0 {
		t.Errorf("events to bindings the app did not take: %v", posts)
	}
	r, err := rawDo(sc.Addr(), "GET", "/v1.0/metadata", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	md := string(r.Body)
	for _, want := range []string{
		`{"name":"tick","type":"bindings.cron","version":"v1","capabilities":["INPUT_BINDING"]}`,
		`{"name":"outonly","type":"bindings.cron","version":"v1"}`,
	} {
		if !strings.Contains(md, want) {
			t.Errorf("metadata lacks %s: %s", want, md)
		}
	}
	m := scrape(t, sc)
	if v := metricValue(m, `dapr_component_input_binding_count{app_id="cronapp",component="tick",namespace="",success="true"}`); v < 2 {
		t.Errorf("input binding count %v\n%s", v, grepLines(m, "input_binding"))
	}
	if code := sc.Stop(); code != 0 {
		t.Errorf("exit %d; output:\n%s", code, sc.Output())
	}
	// After the stop, no more events.
	for len(calls) > 0 {
		<-calls
	}
	select {
	case c := <-calls:
		t.Errorf("event after the stop: %+v", c)
	case <-time.After(1500 * time.Millisecond):
	}
}

// cronGRPCApp takes the "tick" binding and forwards each event's data to
// the output binding "files".
type cronGRPCApp struct {
	runtimev1pb.UnimplementedAppCallbackServer
	mu  sync.Mutex
	got []*runtimev1pb.BindingEventRequest
}

func (a *cronGRPCApp) ListInputBindings(context.Context, *emptypb.Empty) (*runtimev1pb.ListInputBindingsResponse, error) {
	return &runtimev1pb.ListInputBindingsResponse{Bindings: []string{"tick"}}, nil
}

func (a *cronGRPCApp) OnBindingEvent(_ context.Context, in *runtimev1pb.BindingEventRequest) (*runtimev1pb.BindingEventResponse, error) {
	a.mu.Lock()
	a.got = append(a.got, in)
	a.mu.Unlock()
	return &runtimev1pb.BindingEventResponse{Data: []byte(`{"seen":"` + in.GetName() + `"}`), To: []string{"files"}}, nil
}

// TestInputBindingsGRPCApp: a gRPC app says which bindings it takes with
// ListInputBindings, gets OnBindingEvent, and may forward the event to
// output bindings in its response (daprd's "to"): here bindings.localstorage
// writes one file per event.
func TestInputBindingsGRPCApp(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	app := &cronGRPCApp{}
	gs := grpc.NewServer()
	runtimev1pb.RegisterAppCallbackServer(gs, app)
	go func() { _ = gs.Serve(ln) }()
	t.Cleanup(gs.Stop)
	dir, files := t.TempDir(), t.TempDir()
	testutil.WriteComponent(t, dir, "tick", "bindings.cron", map[string]string{"schedule": "@every 1s"})
	testutil.WriteComponent(t, dir, "ignored", "bindings.cron", map[string]string{"schedule": "@every 1s"})
	testutil.WriteComponent(t, dir, "files", "bindings.localstorage", map[string]string{"rootPath": files})
	sc := testutil.Start(t, testutil.Options{AppID: "cronapp", ResourcesDir: dir,
		ExtraArgs: []string{"--app-port", strconv.Itoa(ln.Addr().(*net.TCPAddr).Port), "--app-protocol", "grpc"}})
	deadline := time.Now().Add(15 * time.Second)
	for {
		entries, _ := os.ReadDir(files)
		if len(entries) >= 2 {
			b, err := os.ReadFile(files + "/" + entries[0].Name())
			if err != nil || string(b) != `{"seen":"tick"}` {
				t.Fatalf("forwarded file %q: %v", b, err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d files written", len(entries))
		}
		time.Sleep(100 * time.Millisecond)
	}
	app.mu.Lock()
	for _, in := range app.got {
		if in.GetName() != "tick" || in.GetMetadata()["timeZone"] == "" {
			t.Errorf("event %v", in)
		}
	}
	app.mu.Unlock()
	if code := sc.Stop(); code != 0 {
		t.Errorf("exit %d; output:\n%s", code, sc.Output())
	}
}
