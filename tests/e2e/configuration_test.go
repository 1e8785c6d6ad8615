package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	commonv1pb "github.com/dapr/dapr/pkg/proto/common/v1"
	runtimev1pb "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/statecar/statecar/internal/testsrv"
	"github.com/statecar/statecar/internal/testutil"
)

// configBackend is one configuration store under test: how to start its
// server and how to write an item the way an operator would (the store's
// own layout; statecar's Configuration API is read-only, as daprd's).
type configBackend struct {
	typ   string
	setup func(t *testing.T) (meta map[string]string, set func(key, value, version string))
	// unknownUnsubscribe is the store's error for an unknown ID.
	unknownUnsubscribe string
}

func configBackends() []configBackend {
	return []configBackend{
		{
			typ: "configuration.redis",
			setup: func(t *testing.T) (map[string]string, func(k, v, ver string)) {
				r, c := startRedisWithClient(t)
				return map[string]string{"redisHost": r.Addr}, func(k, v, ver string) {
					if err := c.Set(context.Background(), k, v+"||"+ver, 0).Err(); err != nil {
						t.Fatal(err)
					}
				}
			},
			unknownUnsubscribe: "subscription with id nope does not exist",
		},
		{
			typ: "configuration.postgresql",
			setup: func(t *testing.T) (map[string]string, func(k, v, ver string)) {
				pg, err := testsrv.StartPostgres()
				if err != nil {
					t.Skip(serverMissing(t, err))
				}
				t.Cleanup(pg.Close)
				ctx := context.Background()
				conn, err := pgx.Connect(ctx, pg.DSN)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = conn.Close(ctx) })
				// The table and trigger of Dapr's configuration.postgresql docs.
				for _, q := range []string{
					`CREATE TABLE config (KEY VARCHAR NOT NULL, VALUE VARCHAR NOT NULL, VERSION VARCHAR NOT NULL, METADATA JSON)`,
					`CREATE OR REPLACE FUNCTION notify_event() RETURNS TRIGGER AS $$
					DECLARE data json; notification json;
					BEGIN
						IF (TG_OP = 'DELETE') THEN data = row_to_json(OLD); ELSE data = row_to_json(NEW); END IF;
						notification = json_build_object('table', TG_TABLE_NAME, 'action', TG_OP, 'data', data);
						PERFORM pg_notify('config', notification::text);
						RETURN NULL;
					END; $$ LANGUAGE plpgsql`,
					`CREATE TRIGGER config_trigger AFTER INSERT OR UPDATE OR DELETE ON config FOR EACH ROW EXECUTE PROCEDURE notify_event()`,
				} {
					if _, err := conn.Exec(ctx, q); err != nil {
						t.Fatal(err)
					}
				}
				var mu sync.Mutex
				return map[string]string{"connectionString": pg.DSN, "table": "config", "notifyChannel": "config"}, func(k, v, ver string) {
					mu.Lock()
					defer mu.Unlock()
					if _, err := conn.Exec(ctx, `INSERT INTO config (KEY, VALUE, VERSION, METADATA) VALUES ($1, $2, $3, '{}')`, k, v, ver); err != nil {
						t.Fatal(err)
					}
				}
			},
			unknownUnsubscribe: "unable to find subscription with ID : nope",
		},
	}
}

// configApp is the application side: it records the update deliveries
// statecar POSTs to /configuration/{store}/{key}.
type configApp struct {
	port int
	got  chan delivery
}

type delivery struct {
	path, contentType, token string
	body                     []byte
}

func startConfigApp(t *testing.T) *configApp {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := &configApp{port: ln.Addr().(*net.TCPAddr).Port, got: make(chan delivery, 64)}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		a.got <- delivery{path: r.Method + " " + r.URL.Path, contentType: r.Header.Get("Content-Type"), token: r.Header.Get("dapr-api-token"), body: b}
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return a
}

func (a *configApp) next(t *testing.T) delivery {
	t.Helper()
	select {
	case d := <-a.got:
		return d
	case <-time.After(10 * time.Second):
		t.Fatal("no configuration update reached the app within 10 s")
	}
	return delivery{}
}

// quiet asserts that no delivery arrives for a while (after an
// unsubscribe); a late one fails the test.
func (a *configApp) quiet(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case got := <-a.got:
		t.Errorf("unexpected delivery after unsubscribe: %s %s", got.path, got.body)
	case <-time.After(d):
	}
}

var subIDRe = regexp.MustCompile(`^\{"id":"([0-9a-f-]{36})"\}\n$`)

// TestConfigurationAPI runs the Configuration API (other-building-blocks.md
// §1) on the binary over configuration.redis and configuration.postgresql:
// get (v1.0 and v1.0-alpha1), subscribe with delivery to the app over the
// app channel, unsubscribe, daprd's errors, metadata and metrics, and the
// gRPC RPCs (GetConfiguration, the SubscribeConfiguration stream,
// UnsubscribeConfiguration).
func TestConfigurationAPI(t *testing.T) {
	for _, b := range configBackends() {
		t.Run(b.typ, func(t *testing.T) {
			meta, set := b.setup(t)
			set("k1", "v1", "1")
			set("k2", "<b>", "7")
			app := startConfigApp(t)
			dir := t.TempDir()
			testutil.WriteComponent(t, dir, "conf", b.typ, meta)
			conf := testutil.WriteConfiguration(t, t.TempDir(), "c", "metrics:\n  recordErrorCodes: true")
			sc := testutil.Start(t, testutil.Options{AppID: "confapp", ResourcesDir: dir, ConfigFile: conf,
				ExtraArgs: []string{"--app-port", strconv.Itoa(app.port)}, Env: []string{"APP_API_TOKEN=apptok"}})
			tg := target{addr: sc.Addr(), sc: sc}
			ct := "Content-Type: application/json"
			runSteps(t, tg, nil, []step{
				req("GET", "/v1.0/configuration/conf?key=k1&key=k2", "", 200,
					"{\"k1\":{\"value\":\"v1\",\"version\":\"1\"},\"k2\":{\"value\":\"\\u003cb\\u003e\",\"version\":\"7\"}}\n", ct),
				req("GET", "/v1.0-alpha1/configuration/conf?key=k1", "", 200, "{\"k1\":{\"value\":\"v1\",\"version\":\"1\"}}\n", ct),
				req("GET", "/v1.0/configuration/conf?key=missing", "", 204, ""),
				req("GET", "/v1.0/configuration/conf?key=k1", "{ignored", 200, "{\"k1\":{\"value\":\"v1\",\"version\":\"1\"}}\n"),
				req("GET", "/v1.0/configuration/nope?key=k1", "", 400,
					`{"errorCode":"ERR_CONFIGURATION_STORE_NOT_FOUND","message":"configuration store nope not found"}`, ct),
				req("GET", "/v1.0/configuration/nope/subscribe", "", 400,
					`{"errorCode":"ERR_CONFIGURATION_STORE_NOT_FOUND","message":"configuration store nope not found"}`),
				req("GET", "/v1.0/configuration/conf/nope/unsubscribe", "", 500,
					"{\"message\":\"failed to unsubscribe to configuration request nope: "+b.unknownUnsubscribe+"\"}\n", ct),
				req("POST", "/v1.0/configuration/conf", "", 404,
					`{"errorCode":"ERR_DIRECT_INVOKE","message":"failed getting app id either from the URL path or the header dapr-app-id"}`),
				req("GET", "/v1.0/configuration/conf/other", "", 404,
					`{"errorCode":"ERR_DIRECT_INVOKE","message":"failed getting app id either from the URL path or the header dapr-app-id"}`),
			})
			all, err := rawDo(sc.Addr(), "GET", "/v1.0/configuration/conf", nil, "")
			if err != nil {
				t.Fatal(err)
			}
			var allItems map[string]map[string]any
			if all.Status != 200 || json.Unmarshal(all.Body, &allItems) != nil || len(allItems) != 2 || allItems["k2"]["value"] != "<b>" {
				t.Errorf("get without keys: %d %s", all.Status, all.Body)
			}

			// Subscribe over HTTP: every update of k1 is POSTed to the app.
			r, err := rawDo(sc.Addr(), "GET", "/v1.0/configuration/conf/subscribe?key=k1", nil, "")
			if err != nil {
				t.Fatal(err)
			}
			m := subIDRe.FindSubmatch(r.Body)
			if r.Status != 200 || m == nil {
				t.Fatalf("subscribe: %d %q", r.Status, r.Body)
			}
			id := string(m[1])
			set("k1", "v2", "2")
			d := app.next(t)
			wantBody := `{"id":"` + id + `","items":{"k1":{"value":"v2","version":"2"}}}` + "\n"
			if d.path != "POST /configuration/conf/k1" || d.contentType != "application/json" || d.token != "apptok" || string(d.body) != wantBody {
				t.Errorf("delivery: %s ct=%q token=%q body=%q, want POST /configuration/conf/k1 %q", d.path, d.contentType, d.token, d.body, wantBody)
			}
			runSteps(t, tg, nil, []step{
				req("GET", "/v1.0/configuration/conf/"+id+"/unsubscribe", "", 200, "{\"ok\":true}\n", ct),
			})
			set("k1", "v3", "3")
			app.quiet(t, 500*time.Millisecond)

			grpcConfiguration(t, sc, set)

			md, err := rawDo(sc.Addr(), "GET", "/v1.0/metadata", nil, "")
			if err != nil {
				t.Fatal(err)
			}
			if want := `{"name":"conf","type":"` + b.typ + `","version":"v1"}`; !strings.Contains(string(md.Body), want) {
				t.Errorf("metadata lacks %s:\n%s", want, md.Body)
			}
			metrics := scrape(t, sc)
			for _, want := range []string{
				`dapr_component_configuration_count{app_id="confapp",component="conf",namespace="",operation="get",success="true"} 6`,
				`dapr_component_configuration_count{app_id="confapp",component="conf",namespace="",operation="subscribe",success="true"} 2`,
				`dapr_component_configuration_count{app_id="confapp",component="conf",namespace="",operation="unsubscribe",success="false"} 1`,
				`dapr_error_code_total{app_id="confapp",category="configuration",error_code="ERR_CONFIGURATION_STORE_NOT_FOUND"} 3`,
				`dapr_error_code_total{app_id="confapp",category="configuration",error_code="ERR_CONFIGURATION_UNSUBSCRIBE"} 1`,
			} {
				if !strings.Contains(metrics, want) {
					t.Errorf("metrics lack %s:\n%s", want, grepLines(metrics, "configuration"))
				}
			}
			if code := sc.Stop(); code != 0 {
				t.Errorf("exit code %d after a gRPC subscription; output:\n%s", code, sc.Output())
			}
		})
	}
}

// grpcConfiguration runs the gRPC side on a running sidecar whose store
// holds k1 and k2: GetConfiguration, then a SubscribeConfiguration stream
// (its ID first, then the changes of k2), ended by UnsubscribeConfiguration.
func grpcConfiguration(t *testing.T, sc *testutil.Sidecar, set func(k, v, ver string)) {
	t.Helper()
	conn, err := grpc.NewClient(sc.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := runtimev1pb.NewDaprClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got, err := c.GetConfiguration(ctx, &runtimev1pb.GetConfigurationRequest{StoreName: "conf", Keys: []string{"k2", "missing"}})
	if err != nil || len(got.GetItems()) != 1 || got.GetItems()["k2"].GetValue() != "<b>" || got.GetItems()["k2"].GetVersion() != "7" {
		t.Errorf("GetConfiguration: %v %v", got, err)
	}
	_, err = c.GetConfigurationAlpha1(ctx, &runtimev1pb.GetConfigurationRequest{StoreName: "nope"})
	if st, _ := status.FromError(err); st.Code() != codes.InvalidArgument || st.Message() != "configuration store nope not found" {
		t.Errorf("GetConfiguration of an unknown store: %v", err)
	}

	stream, err := c.SubscribeConfiguration(ctx, &runtimev1pb.SubscribeConfigurationRequest{StoreName: "conf", Keys: []string{"k2"}})
	if err != nil {
		t.Fatal(err)
	}
	first, err := stream.Recv()
	if err != nil || len(first.GetId()) != 36 || len(first.GetItems()) != 0 {
		t.Fatalf("first message: %v %v", first, err)
	}
	set("k2", "new", "8")
	ev, err := stream.Recv()
	if err != nil || ev.GetId() != first.GetId() || ev.GetItems()["k2"].GetValue() != "new" || ev.GetItems()["k2"].GetVersion() != "8" {
		t.Fatalf("update message: %v %v", ev, err)
	}
	un, err := c.UnsubscribeConfiguration(ctx, &runtimev1pb.UnsubscribeConfigurationRequest{StoreName: "conf", Id: "nope"})
	if err != nil || un.GetOk() || un.GetMessage() != "failed to unsubscribe to configuration request nope: subscription does not exist" {
		t.Errorf("UnsubscribeConfiguration of an unknown id: %v %v", un, err)
	}
	un, err = c.UnsubscribeConfiguration(ctx, &runtimev1pb.UnsubscribeConfigurationRequest{StoreName: "conf", Id: first.GetId()})
	if err != nil || !un.GetOk() {
		t.Errorf("UnsubscribeConfiguration: %v %v", un, err)
	}
	if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
		t.Errorf("the stream goes on after UnsubscribeConfiguration: %v", err)
	}
}

// TestConfigurationAPIAbsent: without a configuration store every route
// answers 500 ERR_CONFIGURATION_STORE_NOT_CONFIGURED (gRPC
// FailedPrecondition); with a store but no --app-port, an HTTP subscribe is
// 500 ERR_APP_CHANNEL_NIL.
func TestConfigurationAPIAbsent(t *testing.T) {
	sc := testutil.Start(t, testutil.Options{})
	notConfigured := `{"errorCode":"ERR_CONFIGURATION_STORE_NOT_CONFIGURED","message":"configuration stores not configured"}`
	runSteps(t, target{addr: sc.Addr(), sc: sc}, nil, []step{
		req("GET", "/v1.0/configuration/c?key=a", "", 500, notConfigured),
		req("GET", "/v1.0-alpha1/configuration/c/subscribe", "", 500, notConfigured),
		req("GET", "/v1.0/configuration/c/id/unsubscribe", "", 500, notConfigured),
	})
	conn, err := grpc.NewClient(sc.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, err = runtimev1pb.NewDaprClient(conn).GetConfiguration(context.Background(), &runtimev1pb.GetConfigurationRequest{StoreName: "c"})
	if st, _ := status.FromError(err); st.Code() != codes.FailedPrecondition || st.Message() != "configuration stores not configured" {
		t.Errorf("GetConfiguration without stores: %v", err)
	}

	b := configBackends()[0]
	meta, _ := b.setup(t)
	dir := t.TempDir()
	testutil.WriteComponent(t, dir, "conf", b.typ, meta)
	sc = testutil.Start(t, testutil.Options{ResourcesDir: dir})
	runSteps(t, target{addr: sc.Addr(), sc: sc}, nil, []step{
		req("GET", "/v1.0/configuration/conf/subscribe?key=a", "", 500,
			"{\"errorCode\":\"ERR_APP_CHANNEL_NIL\",\"message\":\"app channel is not initialized. cannot subscribe to configuration updates\"}\n"),
		req("GET", "/v1.0/configuration/conf?key=a", "", 204, ""),
	})
}

// grpcApp is an app that speaks gRPC: it records every AppCallback.OnInvoke.
type grpcApp struct {
	runtimev1pb.UnimplementedAppCallbackServer
	got chan *grpcInvoke
}

type grpcInvoke struct {
	method, contentType, verb, token string
	data                             []byte
}

func (a *grpcApp) OnInvoke(ctx context.Context, in *commonv1pb.InvokeRequest) (*commonv1pb.InvokeResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	var tok string
	if v := md.Get("dapr-api-token"); len(v) > 0 {
		tok = v[0]
	}
	a.got <- &grpcInvoke{method: in.GetMethod(), contentType: in.GetContentType(), verb: in.GetHttpExtension().GetVerb().String(), token: tok, data: in.GetData().GetValue()}
	return &commonv1pb.InvokeResponse{}, nil
}

// TestConfigurationDeliveryGRPCApp: with --app-protocol grpc, an HTTP
// subscription's updates reach the app as AppCallback.OnInvoke calls
// (method /configuration/{store}/{key}, verb POST, the event as JSON data,
// dapr-api-token metadata), as daprd's gRPC app channel sends them; after
// unsubscribe none arrive.
func TestConfigurationDeliveryGRPCApp(t *testing.T) {
	b := configBackends()[0] // configuration.redis
	meta, set := b.setup(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	app := &grpcApp{got: make(chan *grpcInvoke, 16)}
	gs := grpc.NewServer()
	runtimev1pb.RegisterAppCallbackServer(gs, app)
	go func() { _ = gs.Serve(ln) }()
	t.Cleanup(gs.Stop)

	dir := t.TempDir()
	testutil.WriteComponent(t, dir, "conf", b.typ, meta)
	sc := testutil.Start(t, testutil.Options{AppID: "grpcapp", ResourcesDir: dir,
		ExtraArgs: []string{"--app-port", strconv.Itoa(ln.Addr().(*net.TCPAddr).Port), "--app-protocol", "grpc"},
		Env:       []string{"APP_API_TOKEN=apptok"}})
	r, err := rawDo(sc.Addr(), "GET", "/v1.0/configuration/conf/subscribe?key=k1", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	m := subIDRe.FindSubmatch(r.Body)
	if r.Status != 200 || m == nil {
		t.Fatalf("subscribe: %d %q", r.Status, r.Body)
	}
	id := string(m[1])
	set("k1", "v9", "9")
	select {
	case got := <-app.got:
		wantData := `{"id":"` + id + `","items":{"k1":{"value":"v9","version":"9"}}}` + "\n"
		if got.method != "/configuration/conf/k1" || got.verb != "POST" || got.contentType != "application/json" || got.token != "apptok" || string(got.data) != wantData {
			t.Errorf("OnInvoke %+v (data %q), want /configuration/conf/k1 POST application/json apptok %q", got, got.data, wantData)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no OnInvoke within 10 s")
	}
	if r, err := rawDo(sc.Addr(), "GET", "/v1.0/configuration/conf/"+id+"/unsubscribe", nil, ""); err != nil || r.Status != 200 {
		t.Fatalf("unsubscribe: %v %v", r, err)
	}
	set("k1", "v10", "10")
	select {
	case got := <-app.got:
		t.Errorf("OnInvoke after unsubscribe: %+v", got)
	case <-time.After(500 * time.Millisecond):
	}
	if code := sc.Stop(); code != 0 {
		t.Errorf("exit code %d; output:\n%s", code, sc.Output())
	}
}
