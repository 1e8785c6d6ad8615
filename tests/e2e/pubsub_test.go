package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	runtimev1pb "github.com/dapr/dapr/pkg/proto/runtime/v1"
	goredis "github.com/redis/go-redis/v9"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/statecar/statecar/internal/testsrv"
	"github.com/statecar/statecar/internal/testutil"
)

// topicDelivery is one event an HTTP app received.
type topicDelivery struct {
	path   string
	header http.Header
	body   []byte
	ce     map[string]any
}

// subApp is an HTTP app that declares subscriptions on /dapr/subscribe and
// answers each delivery with answer(path, envelope).
type subApp struct {
	srv    *httptest.Server
	port   int
	subs   string
	got    chan topicDelivery
	mu     sync.Mutex
	answer func(path string, ce map[string]any) (int, string)
}

func startSubApp(t *testing.T, subs string) *subApp {
	t.Helper()
	a := &subApp{subs: subs, got: make(chan topicDelivery, 100)}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == "/dapr/subscribe" {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, a.subs)
			return
		}
		b, _ := io.ReadAll(r.Body)
		var ce map[string]any
		_ = json.Unmarshal(b, &ce)
		a.mu.Lock()
		answer := a.answer
		a.mu.Unlock()
		// Recorded on arrival, before the answer (which may hang).
		a.got <- topicDelivery{path: r.URL.Path, header: r.Header.Clone(), body: b, ce: ce}
		code, body := 200, ""
		if answer != nil {
			code, body = answer(r.URL.Path, ce)
		}
		w.WriteHeader(code)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(a.srv.Close)
	a.port = a.srv.Listener.Addr().(*net.TCPAddr).Port
	return a
}

func (a *subApp) next(t *testing.T) topicDelivery {
	t.Helper()
	select {
	case d := <-a.got:
		return d
	case <-time.After(10 * time.Second):
		t.Fatal("no delivery within 10 s")
		return topicDelivery{}
	}
}

func (a *subApp) none(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case got := <-a.got:
		t.Fatalf("unexpected delivery to %s: %s", got.path, got.body)
	case <-time.After(d):
	}
}

// waitSubscribed polls /v1.0/metadata until n subscriptions are listed
// (the programmatic ones appear once the app answered /dapr/subscribe).
func waitSubscribed(t *testing.T, sc *testutil.Sidecar, n int) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r, err := rawDo(sc.Addr(), "GET", "/v1.0/metadata", nil, "")
		if err == nil && strings.Count(string(r.Body), `"pubsubname":`) == n {
			return string(r.Body)
		}
		if time.Now().After(deadline) {
			t.Fatalf("metadata never listed %d subscriptions: %v %s", n, err, r.Body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type brokerProfile struct {
	typ   string
	setup func(t *testing.T) map[string]string
}

func brokerProfiles() []brokerProfile {
	return []brokerProfile{
		{"pubsub.in-memory", func(*testing.T) map[string]string { return nil }},
		{"pubsub.redis", func(t *testing.T) map[string]string {
			r, _ := startRedisWithClient(t)
			return map[string]string{"redisHost": r.Addr}
		}},
	}
}

const declarativeSubs = `apiVersion: dapr.io/v2alpha1
kind: Subscription
metadata:
  name: routed
spec:
  pubsubname: ps
  topic: routed
  routes:
    rules:
      - match: event.type == "special"
        path: /special
      - match: event.data.size > 10
        path: /big
    default: /routed
  deadLetterTopic: poison
---
apiVersion: dapr.io/v1alpha1
kind: Subscription
metadata:
  name: other-app
spec:
  pubsubname: ps
  topic: notmine
  route: /notmine
scopes:
  - someoneelse
`

// TestPubSubAPI runs the Pub/sub API (other-building-blocks.md §4) on the
// binary over pubsub.in-memory and pubsub.redis: publishing over HTTP and
// gRPC with daprd's envelope and errors, programmatic and declarative
// subscriptions delivered to an HTTP app with routing rules, DROP and 404
// answers to a dead-letter topic, raw payloads, /v1.0/metadata, metrics.
func TestPubSubAPI(t *testing.T) {
	for _, bp := range brokerProfiles() {
		t.Run(bp.typ, func(t *testing.T) { testPubSubAPI(t, bp) })
	}
}

func testPubSubAPI(t *testing.T, bp brokerProfile) {
	meta := bp.setup(t)
	if meta == nil {
		meta = map[string]string{}
	}
	meta["publishingScopes"] = "psapp=orders,a/b,routed,raw,poison,bulk,grpc,text;other=x"
	app := startSubApp(t, `[
		{"pubsubname":"ps","topic":"orders","route":"/orders"},
		{"pubsubname":"ps","topic":"a/b","route":"/slashed"},
		{"pubsubname":"ps","topic":"raw","route":"/raw","metadata":{"rawPayload":"true"}},
		{"pubsubname":"ps","topic":"poison","route":"/poison"},
		{"pubsubname":"ps","topic":"bulk","route":"/bulk"},
		{"pubsubname":"ps","topic":"grpc","route":"/grpc"},
		{"pubsubname":"ps","topic":"text","route":"/text","deadLetterTopic":"poison"}]`)
	app.answer = func(path string, ce map[string]any) (int, string) {
		if path == "/poison" {
			return 200, ""
		}
		switch ce["data"] {
		case "drop me":
			return 200, `{"status":"DROP"}`
		case "not here":
			return 404, "nope"
		}
		return 200, `{"status":"SUCCESS"}`
	}
	dir := t.TempDir()
	testutil.WriteComponent(t, dir, "ps", bp.typ, meta)
	testutil.WriteFile(t, dir, "subs.yaml", declarativeSubs)
	conf := testutil.WriteConfiguration(t, t.TempDir(), "c", "metrics:\n  recordErrorCodes: true")
	sc := testutil.Start(t, testutil.Options{AppID: "psapp", ResourcesDir: dir, ConfigFile: conf,
		ExtraArgs: []string{"--app-port", strconv.Itoa(app.port)}})
	md := waitSubscribed(t, sc, 8)

	// /v1.0/metadata: the declarative one (not the one scoped to another
	// app: daprd does not load it), then the app's.
	for _, want := range []string{
		`{"name":"ps","type":"` + bp.typ + `","version":"v1"`,
		`"subscriptions":[{"pubsubname":"ps","topic":"routed","rules":[{"match":"event.type == \"special\"","path":"/special"},{"match":"event.data.size \u003e 10","path":"/big"},{"path":"/routed"}],"deadLetterTopic":"poison","type":"DECLARATIVE"},`,
		`{"pubsubname":"ps","topic":"raw","metadata":{"rawPayload":"true"},"rules":[{"path":"/raw"}],"deadLetterTopic":"","type":"PROGRAMMATIC"}`,
	} {
		if !strings.Contains(md, want) {
			t.Errorf("metadata lacks %s:\n%s", want, md)
		}
	}
	if bp.typ == "pubsub.in-memory" && !strings.Contains(md, `"type":"pubsub.in-memory","version":"v1","capabilities":["SUBSCRIBE_WILDCARDS"]}`) {
		t.Errorf("in-memory capabilities: %s", md)
	}

	tg := target{addr: sc.Addr(), sc: sc}
	ct := "Content-Type: application/json"
	rich := func(code, msg, resource, reason, meta string) string {
		res := ""
		if resource != "" {
			res = `{"@type":"type.googleapis.com/google.rpc.ResourceInfo","description":"` + msg + `","owner":"","resource_name":"` + resource + `","resource_type":"pubsub"},`
		}
		return `{"errorCode":"` + code + `","message":"` + msg + `","details":[` + res + `{"@type":"type.googleapis.com/google.rpc.ErrorInfo","domain":"dapr.io","metadata":` + meta + `,"reason":"` + reason + `"}]}`
	}
	direct := `{"errorCode":"ERR_DIRECT_INVOKE","message":"failed getting app id either from the URL path or the header dapr-app-id"}`
	runSteps(t, tg, nil, []step{
		req("POST", "/v1.0/publish/ps/orders", `{"n":12345678901234567890}`, 204, "", "!Content-Type").h(ct),
		req("PUT", "/v1.0/publish/ps/a/b", `hello`, 204, "").h("Content-Type: text/plain"),
		req("POST", "/v1.0/publish/nope/orders?metadata.k=v", `x`, 404,
			rich("ERR_PUBSUB_NOT_FOUND", "pubsub nope is not found", "", "DAPR_PUBSUB_NOT_FOUND", `{"k":"v"}`), ct),
		req("POST", "/v1.0/publish/ps", `x`, 404, direct, ct).note("no topic: no route"),
		req("POST", "/v1.0/publish/ps/", `x`, 404, direct, ct).note("the cleaned path has no topic"),
		req("GET", "/v1.0/publish/ps/orders", ``, 404, direct, ct),
		req("POST", "/v1.0/publish/ps/orders?metadata.rawPayload=maybe", `x`, 400,
			rich("ERR_PUBSUB_REQUEST_METADATA", "failed deserializing metadata. Error: rawPayload value must be a valid boolean: actual is 'maybe'", "ps",
				"DAPR_PUBSUB_METADATA_DESERIALIZATION", `{"rawPayload":"maybe"}`), ct),
		req("POST", "/v1.0/publish/ps/secret", `x`, 403,
			rich("ERR_PUBSUB_FORBIDDEN", "topic secret is not allowed for app id psapp", "ps", "DAPR_PUBSUB_FORBIDDEN",
				`{"error":"topic secret is not allowed for app id psapp","topic":"secret"}`), ct),
		req("POST", "/v1.0/publish/ps/routed", `{"size":1}`, 204, "").h(ct),
		req("POST", "/v1.0/publish/ps/routed?metadata.cloudevent.type=special&metadata.cloudevent.id=my-id", `{"size":1}`, 204, "").h(ct),
		req("POST", "/v1.0/publish/ps/routed", `{"size":11}`, 204, "").h(ct),
		req("POST", "/v1.0/publish/ps/routed", `oops`, 204, "").h("Content-Type: text/plain").
			note("event.data.size fails on a string: to the dead-letter topic without delivery"),
		req("POST", "/v1.0/publish/ps/text", `drop me`, 204, "").h("Content-Type: text/plain"),
		req("POST", "/v1.0/publish/ps/text", `not here`, 204, "").h("Content-Type: text/plain"),
		req("POST", "/v1.0/publish/ps/text", `fine`, 204, "").h("Content-Type: text/plain"),
		req("POST", "/v1.0/publish/ps/raw?metadata.rawPayload=true", "\x00raw\xff", 204, ""),
		req("POST", "/v1.0/publish/ps/orders", `{"specversion":"1.0","id":"ce-1","type":"my.type","source":"me","data":"x"}`, 204, "").
			h("Content-Type: application/cloudevents+json"),
		// Bulk publish: daprd's errors, then success.
		req("POST", "/v1.0-alpha1/publish/bulk/ps/bulk", `{`, 400,
			rich("ERR_PUBSUB_EVENTS_SER", "error when unmarshaling the request for topic bulk pubsub ps: unexpected EOF", "ps",
				"DAPR_PUBSUB_UNMARSHAL_EVENTS", `{"appID":"psapp"}`), ct),
		req("POST", "/v1.0-alpha1/publish/bulk/ps/bulk", `[{"entryId":"1","event":"x","contentType":"text/plain"},{"entryId":"1","event":"y","contentType":"text/plain"}]`, 400,
			rich("ERR_PUBSUB_EVENTS_SER", "error marshaling events to bytes for topic bulk pubsub ps. error: entryId is duplicated or not present for entry", "ps",
				"DAPR_PUBSUB_MARSHAL_EVENTS", `{"appID":"psapp","error":"entryId is duplicated or not present for entry"}`), ct),
		req("POST", "/v1.0-alpha1/publish/bulk/ps/bulk", `[{"entryId":"1","event":5,"contentType":"text/plain"}]`, 400,
			rich("ERR_PUBSUB_EVENTS_SER", "error when marshalling cloud event envelope for topic bulk pubsub ps: error: mismatch between contentType and event", "ps",
				"DAPR_PUBSUB_MARSHAL_ENVELOPE", `{"appID":"psapp","error":"error: mismatch between contentType and event"}`), ct),
		req("POST", "/v1.0-alpha1/publish/bulk/ps/secret", `[{"entryId":"1","event":"x","contentType":"text/plain"}]`, 403,
			rich("ERR_PUBSUB_FORBIDDEN", "topic secret is not allowed for app id psapp", "ps", "DAPR_PUBSUB_FORBIDDEN",
				`{"error":"topic secret is not allowed for app id psapp","topic":"secret"}`), ct),
		req("POST", "/v1.0-alpha1/publish/bulk/ps/bulk", `[{"entryId":"1","event":{"a":1},"contentType":"application/json"},{"entryId":"2","event":"AAE=","contentType":"application/octet-stream"}]`, 204, ""),
		req("PUT", "/v1.0/publish/bulk/ps/bulk", `[{"entryId":"3","event":"v1 route","contentType":"text/plain","metadata":{"cloudevent.id":"bulk-3"}}]`, 204, ""),
		req("POST", "/v1.0/publish/bulk/text", `plain`, 404,
			rich("ERR_PUBSUB_NOT_FOUND", "pubsub bulk is not found", "", "DAPR_PUBSUB_NOT_FOUND", `{}`), ct).
			note("pubsub \"bulk\", topic \"text\": not the bulk route (chi backtracks)"),
	})

	got := map[string][]topicDelivery{}
	for i := range 16 {
		select {
		case d := <-app.got:
			got[d.path] = append(got[d.path], d)
		case <-time.After(10 * time.Second):
			n := map[string]int{}
			for k, v := range got {
				n[k] = len(v)
			}
			t.Fatalf("%d deliveries of 16: %v", i, n)
		}
	}
	app.none(t, 300*time.Millisecond)
	one := func(path string) topicDelivery {
		t.Helper()
		if len(got[path]) == 0 {
			t.Fatalf("nothing delivered to %s (got %v)", path, keys(got))
		}
		return got[path][0]
	}

	o := one("/orders")
	if !strings.Contains(string(o.body), `"data":{"n":12345678901234567890}`) || o.ce["source"] != "psapp" || o.ce["type"] != "com.dapr.event.sent" ||
		o.ce["datacontenttype"] != "application/json" || o.ce["pubsubname"] != "ps" || o.ce["topic"] != "orders" || o.ce["specversion"] != "1.0" {
		t.Errorf("orders envelope: %s", o.body)
	}
	if o.header.Get("Content-Type") != "application/cloudevents+json" || o.header.Get("pubsubname") != "ps" {
		t.Errorf("orders headers: %v", o.header)
	}
	if ce := got["/orders"][1].ce; ce["id"] != "ce-1" || ce["type"] != "my.type" || ce["source"] != "me" || ce["topic"] != "orders" {
		t.Errorf("a published CloudEvent: %v", ce)
	}
	if s := one("/slashed"); s.ce["topic"] != "a/b" || s.ce["data"] != "hello" || s.ce["datacontenttype"] != "text/plain" {
		t.Errorf("topic with a slash: %s", s.body)
	}
	if r := one("/routed"); r.ce["data"].(map[string]any)["size"] != 1.0 {
		t.Errorf("default route: %s", r.body)
	}
	if s := one("/special"); s.ce["id"] != "my-id" || s.ce["type"] != "special" {
		t.Errorf("rule 1: %s", s.body)
	}
	if b := one("/big"); b.ce["data"].(map[string]any)["size"] != 11.0 {
		t.Errorf("rule 2: %s", b.body)
	}
	// DROP, 404 and the failed rule went to the dead-letter topic
	// "poison", the envelope unchanged.
	var dead []string
	for _, d := range got["/poison"] {
		dead = append(dead, d.ce["data"].(string)+"@"+d.ce["topic"].(string))
	}
	if len(dead) != 3 || !slices.Contains(dead, "drop me@text") || !slices.Contains(dead, "not here@text") || !slices.Contains(dead, "oops@routed") {
		t.Errorf("dead letters: %v", dead)
	}
	if len(got["/routed"]) != 1 || len(got["/text"]) != 3 {
		t.Errorf("%d deliveries to /routed, want 1; %d to /text, want 3", len(got["/routed"]), len(got["/text"]))
	}
	raw := one("/raw")
	if b, _ := base64.StdEncoding.DecodeString(raw.ce["data_base64"].(string)); string(b) != "\x00raw\xff" || raw.header.Get("rawpayload") != "true" {
		t.Errorf("raw payload: %s %v", raw.body, raw.header)
	}
	var bulk []string
	for _, d := range got["/bulk"] {
		bulk = append(bulk, d.ce["id"].(string)+"="+d.ce["datacontenttype"].(string))
	}
	if len(bulk) != 3 || !slices.Contains(bulk, "bulk-3=text/plain") {
		t.Errorf("bulk deliveries: %v", bulk)
	}

	// gRPC: PublishEvent and BulkPublishEventAlpha1, daprd's errors.
	conn, err := grpc.NewClient(sc.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cl := runtimev1pb.NewDaprClient(conn)
	ctx := context.Background()
	if _, err := cl.PublishEvent(ctx, &runtimev1pb.PublishEventRequest{PubsubName: "ps", Topic: "grpc", Data: []byte(`{"via":"grpc"}`), DataContentType: "application/json"}); err != nil {
		t.Fatal(err)
	}
	if d := app.next(t); d.path != "/grpc" || d.ce["data"].(map[string]any)["via"] != "grpc" {
		t.Errorf("gRPC publish: %s %s", d.path, d.body)
	}
	_, err = cl.PublishEvent(ctx, &runtimev1pb.PublishEventRequest{PubsubName: "nope", Topic: "t"})
	if st := status.Convert(err); st.Code() != codes.InvalidArgument || st.Message() != "pubsub nope is not found" {
		t.Errorf("gRPC not found: %v", err)
	}
	_, err = cl.PublishEvent(ctx, &runtimev1pb.PublishEventRequest{PubsubName: "ps", Topic: ""})
	if st := status.Convert(err); st.Code() != codes.InvalidArgument || st.Message() != "topic is empty in pubsub ps" {
		t.Errorf("gRPC empty topic: %v", err)
	}
	_, err = cl.PublishEvent(ctx, &runtimev1pb.PublishEventRequest{PubsubName: "ps", Topic: "secret"})
	if st := status.Convert(err); st.Code() != codes.PermissionDenied {
		t.Errorf("gRPC forbidden: %v", err)
	}
	// The alpha name is deprecated but still what older SDKs call.
	//lint:ignore SA1019 tested on purpose
	res, err := cl.BulkPublishEventAlpha1(ctx, &runtimev1pb.BulkPublishRequest{PubsubName: "ps", Topic: "grpc", Entries: []*runtimev1pb.BulkPublishRequestEntry{
		{EntryId: "a", Event: []byte("one"), ContentType: "text/plain"}, {EntryId: "b", Event: []byte("two"), ContentType: "text/plain"}}})
	if err != nil || len(res.GetFailedEntries()) != 0 {
		t.Fatalf("gRPC bulk: %v %v", res, err)
	}
	var texts []string
	for range 2 {
		texts = append(texts, app.next(t).ce["data"].(string))
	}
	if !slices.Contains(texts, "one") || !slices.Contains(texts, "two") {
		t.Errorf("gRPC bulk deliveries: %v", texts)
	}
	_, err = cl.BulkPublishEvent(ctx, &runtimev1pb.BulkPublishRequest{PubsubName: "ps", Topic: "grpc", Entries: []*runtimev1pb.BulkPublishRequestEntry{{Event: []byte("x"), ContentType: "text/plain"}}})
	if st := status.Convert(err); st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), "entryId is duplicated or not present") {
		t.Errorf("gRPC bulk without entryId: %v", err)
	}
	gmd, err := cl.GetMetadata(ctx, &runtimev1pb.GetMetadataRequest{})
	if err != nil || len(gmd.GetSubscriptions()) != 8 || gmd.GetSubscriptions()[0].GetType() != runtimev1pb.PubsubSubscriptionType_DECLARATIVE ||
		len(gmd.GetSubscriptions()[0].GetRules().GetRules()) != 3 {
		t.Errorf("gRPC metadata subscriptions: %v %v", gmd.GetSubscriptions(), err)
	}

	m := scrape(t, sc)
	labels := func(extra string) string {
		return `{app_id="psapp",component="ps",namespace="",` + extra + `}`
	}
	for series, want := range map[string]float64{
		"dapr_component_pubsub_egress_count" + labels(`success="true",topic="orders"`):                        2,
		"dapr_component_pubsub_egress_count" + labels(`success="false",topic="secret"`):                       2,
		"dapr_component_pubsub_egress_count" + labels(`success="true",topic="routed"`):                        4,
		"dapr_component_pubsub_egress_count" + labels(`success="true",topic="text"`):                          3,
		"dapr_component_pubsub_egress_bulk_count" + labels(`success="true",topic="bulk"`):                     2,
		"dapr_component_pubsub_egress_bulk_count" + labels(`success="false",topic="secret"`):                  1,
		"dapr_component_pubsub_ingress_count" + labels(`process_status="success",status="",topic="orders"`):   2,
		"dapr_component_pubsub_ingress_count" + labels(`process_status="drop",status="success",topic="text"`): 1,
		"dapr_component_pubsub_ingress_count" + labels(`process_status="drop",status="",topic="text"`):        1,
		"dapr_component_pubsub_ingress_count" + labels(`process_status="success",status="",topic="text"`):     1,
		"dapr_component_pubsub_ingress_count" + labels(`process_status="drop",status="",topic="routed"`):      1,
		"dapr_component_pubsub_ingress_count" + labels(`process_status="success",status="",topic="routed"`):   3,
		"dapr_component_pubsub_ingress_count" + labels(`process_status="success",status="",topic="poison"`):   3,
		// HTTP and gRPC errors both count.
		`dapr_error_code_total{app_id="psapp",category="pubsub",error_code="ERR_PUBSUB_NOT_FOUND"}`:        3,
		`dapr_error_code_total{app_id="psapp",category="pubsub",error_code="ERR_PUBSUB_FORBIDDEN"}`:        3,
		`dapr_error_code_total{app_id="psapp",category="pubsub",error_code="ERR_PUBSUB_EVENTS_SER"}`:       4,
		`dapr_error_code_total{app_id="psapp",category="pubsub",error_code="ERR_TOPIC_NAME_EMPTY"}`:        1,
		`dapr_error_code_total{app_id="psapp",category="pubsub",error_code="ERR_PUBSUB_REQUEST_METADATA"}`: 1,
	} {
		if got := metricValue(m, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	if code := sc.Stop(); code != 0 {
		t.Errorf("exit code %d; output:\n%s", code, sc.Output())
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestPubSubRedisLayout: pubsub.redis writes daprd's stream layout (fields
// data and metadata, the consumer group named after the app), reads
// messages another daprd published in it, and keeps what was published
// while statecar was down (the consumer group remembers its position).
func TestPubSubRedisLayout(t *testing.T) {
	r, rc := startRedisWithClient(t)
	ctx := context.Background()
	app := startSubApp(t, `[{"pubsubname":"ps","topic":"orders","route":"/orders"}]`)
	dir := t.TempDir()
	testutil.WriteComponent(t, dir, "ps", "pubsub.redis", map[string]string{"redisHost": r.Addr})
	sc := testutil.Start(t, testutil.Options{AppID: "layoutapp", ResourcesDir: dir, ExtraArgs: []string{"--app-port", strconv.Itoa(app.port)}})
	waitSubscribed(t, sc, 1)

	runSteps(t, target{addr: sc.Addr(), sc: sc}, nil, []step{
		req("POST", "/v1.0/publish/ps/orders?metadata.k=v", `{"a":1}`, 204, "").h("Content-Type: application/json"),
	})
	if d := app.next(t); d.ce["data"].(map[string]any)["a"] != 1.0 {
		t.Fatalf("delivery %s", d.body)
	}
	msgs, err := rc.XRange(ctx, "orders", "-", "+").Result()
	if err != nil || len(msgs) != 1 {
		t.Fatalf("XRANGE: %v %v", msgs, err)
	}
	var ce map[string]any
	if err := json.Unmarshal([]byte(msgs[0].Values["data"].(string)), &ce); err != nil || ce["source"] != "layoutapp" || ce["topic"] != "orders" {
		t.Fatalf("data field: %v %v", msgs[0].Values, err)
	}
	if msgs[0].Values["metadata"] != `{"k":"v"}` || len(msgs[0].Values) != 2 {
		t.Fatalf("fields %v", msgs[0].Values)
	}
	// The consumer group is the app ID; the delivered message is
	// acknowledged (just after the app answered).
	deadline := time.Now().Add(10 * time.Second)
	for {
		groups, err := rc.XInfoGroups(ctx, "orders").Result()
		if err == nil && len(groups) == 1 && groups[0].Name == "layoutapp" && groups[0].Pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("groups %+v %v", groups, err)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// A message in daprd's layout, as another daprd app publishes it.
	env := `{"data":"from daprd","datacontenttype":"text/plain","id":"d-1","pubsubname":"ps","source":"daprapp","specversion":"1.0","time":"2026-01-01T00:00:00Z","topic":"orders","traceid":"","traceparent":"","tracestate":"","type":"com.dapr.event.sent"}`
	if err := rc.XAdd(ctx, &goredis.XAddArgs{Stream: "orders", Values: map[string]any{"data": env}}).Err(); err != nil {
		t.Fatal(err)
	}
	if d := app.next(t); d.ce["id"] != "d-1" || d.ce["source"] != "daprapp" || string(d.body) != env {
		t.Fatalf("daprd's message: %s", d.body)
	}

	// Published while statecar is down: delivered after the restart.
	if code := sc.Stop(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if err := rc.XAdd(ctx, &goredis.XAddArgs{Stream: "orders", Values: map[string]any{"data": strings.Replace(env, "d-1", "d-2", 1)}}).Err(); err != nil {
		t.Fatal(err)
	}
	sc.Restart()
	if d := app.next(t); d.ce["id"] != "d-2" {
		t.Fatalf("after restart: %s", d.body)
	}
	app.none(t, 300*time.Millisecond)
	if code := sc.Stop(); code != 0 {
		t.Errorf("exit %d; output:\n%s", code, sc.Output())
	}
}

// topicGRPCApp is a gRPC app with subscriptions.
type topicGRPCApp struct {
	runtimev1pb.UnimplementedAppCallbackServer
	got chan *runtimev1pb.TopicEventRequest
}

func (a *topicGRPCApp) ListTopicSubscriptions(context.Context, *emptypb.Empty) (*runtimev1pb.ListTopicSubscriptionsResponse, error) {
	return &runtimev1pb.ListTopicSubscriptionsResponse{Subscriptions: []*runtimev1pb.TopicSubscription{
		{PubsubName: "ps", Topic: "orders", Routes: &runtimev1pb.TopicRoutes{
			Rules: []*runtimev1pb.TopicRule{{Match: `event.data.vip == true`, Path: "vip"}}, Default: "orders"}},
	}}, nil
}

func (a *topicGRPCApp) OnTopicEvent(_ context.Context, in *runtimev1pb.TopicEventRequest) (*runtimev1pb.TopicEventResponse, error) {
	a.got <- in
	return &runtimev1pb.TopicEventResponse{Status: runtimev1pb.TopicEventResponse_SUCCESS}, nil
}

// TestPubSubGRPCApp: with --app-protocol grpc the subscriptions come from
// ListTopicSubscriptions and events reach OnTopicEvent with the envelope's
// fields, the matched path and the data as published.
func TestPubSubGRPCApp(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	app := &topicGRPCApp{got: make(chan *runtimev1pb.TopicEventRequest, 16)}
	gs := grpc.NewServer()
	runtimev1pb.RegisterAppCallbackServer(gs, app)
	go func() { _ = gs.Serve(ln) }()
	t.Cleanup(gs.Stop)
	dir := t.TempDir()
	testutil.WriteComponent(t, dir, "ps", "pubsub.in-memory", nil)
	sc := testutil.Start(t, testutil.Options{AppID: "grpcsub", ResourcesDir: dir,
		ExtraArgs: []string{"--app-port", strconv.Itoa(ln.Addr().(*net.TCPAddr).Port), "--app-protocol", "grpc"}})
	waitSubscribed(t, sc, 1)
	for _, body := range []string{`{"vip":true,"n":12345678901234567890}`, `{"vip":false}`} {
		runSteps(t, target{addr: sc.Addr(), sc: sc}, nil, []step{
			req("POST", "/v1.0/publish/ps/orders", body, 204, "").h("Content-Type: application/json"),
		})
	}
	for i, want := range []struct{ path, data string }{{"vip", `{"n":12345678901234567890,"vip":true}`}, {"orders", `{"vip":false}`}} {
		select {
		case in := <-app.got:
			if in.GetPath() != want.path || string(in.GetData()) != want.data || in.GetTopic() != "orders" || in.GetPubsubName() != "ps" ||
				in.GetSource() != "grpcsub" || in.GetDataContentType() != "application/json" || in.GetSpecVersion() != "1.0" ||
				in.GetType() != "com.dapr.event.sent" || in.GetId() == "" || in.GetExtensions().AsMap()["topic"] != "orders" {
				t.Errorf("event %d: %v (data %s)", i, in, in.GetData())
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("event %d not delivered", i)
		}
	}
	if code := sc.Stop(); code != 0 {
		t.Errorf("exit %d; output:\n%s", code, sc.Output())
	}
}

// TestPubSubAbsent: without pub/sub components every publish is daprd's
// 404 ERR_PUBSUB_NOT_FOUND, and an app port with no brokers is never asked
// for subscriptions.
func TestPubSubAbsent(t *testing.T) {
	asked := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case asked <- struct{}{}:
		default:
		}
	}))
	defer srv.Close()
	sc := testutil.Start(t, testutil.Options{AppID: "nops", ExtraArgs: []string{"--app-port", strconv.Itoa(srv.Listener.Addr().(*net.TCPAddr).Port)}})
	runSteps(t, target{addr: sc.Addr(), sc: sc}, nil, []step{
		req("POST", "/v1.0/publish/pubsub/orders", `x`, 404,
			`{"errorCode":"ERR_PUBSUB_NOT_FOUND","message":"pubsub pubsub is not found","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","domain":"dapr.io","metadata":{},"reason":"DAPR_PUBSUB_NOT_FOUND"}]}`,
			"Content-Type: application/json"),
		req("POST", "/v1.0-alpha1/publish/bulk/pubsub/orders", `[]`, 404,
			`{"errorCode":"ERR_PUBSUB_NOT_FOUND","message":"pubsub pubsub is not found","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","domain":"dapr.io","metadata":{},"reason":"DAPR_PUBSUB_NOT_FOUND"}]}`,
			"Content-Type: application/json"),
	})
	select {
	case <-asked:
		t.Error("the app was called without any pub/sub component")
	case <-time.After(300 * time.Millisecond):
	}
	if code := sc.Stop(); code != 0 {
		t.Errorf("exit %d", code)
	}
}

// TestPubSubRedisRestart: while redis-server is down a publish fails with
// daprd's 500 ERR_PUBSUB_PUBLISH_MESSAGE and the sidecar stays up; after
// the server is back (its AOF kept the stream and the consumer group),
// publishes succeed again and the subscription delivers without a restart
// of statecar.
func TestPubSubRedisRestart(t *testing.T) {
	r, err := testsrv.StartRedis(testsrv.RedisOptions{AppendOnly: true})
	if err != nil {
		t.Skip(serverMissing(t, err))
	}
	t.Cleanup(r.Close)
	app := startSubApp(t, `[{"pubsubname":"ps","topic":"orders","route":"/orders"}]`)
	dir := t.TempDir()
	testutil.WriteComponent(t, dir, "ps", "pubsub.redis", map[string]string{"redisHost": r.Addr, "redisMaxRetries": "0"})
	sc := testutil.Start(t, testutil.Options{AppID: "restartapp", ResourcesDir: dir, ExtraArgs: []string{"--app-port", strconv.Itoa(app.port)}})
	waitSubscribed(t, sc, 1)
	publish := func(body string) *rawResponse {
		t.Helper()
		resp, err := rawDo(sc.Addr(), "POST", "/v1.0/publish/ps/orders", []string{"Content-Type: text/plain"}, body)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	if resp := publish("before"); resp.Status != 204 {
		t.Fatalf("publish: %d %s", resp.Status, resp.Body)
	}
	if d := app.next(t); d.ce["data"] != "before" {
		t.Fatalf("delivery %s", d.body)
	}
	r.Kill()
	resp := publish("while down")
	if resp.Status != 500 || !strings.Contains(string(resp.Body), `"errorCode":"ERR_PUBSUB_PUBLISH_MESSAGE","message":"error when publishing to topic orders in pubsub ps: redis streams: error from publish: `) {
		t.Fatalf("publish while down: %d %s", resp.Status, resp.Body)
	}
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for publish("after").Status != 204 {
		if time.Now().After(deadline) {
			t.Fatal("publishes never succeeded after the restart")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if d := app.next(t); d.ce["data"] != "after" {
		t.Fatalf("delivery after the restart: %s", d.body)
	}
	if exited, _ := sc.Exited(); exited {
		t.Fatal("statecar exited")
	}
	if code := sc.Stop(); code != 0 {
		t.Errorf("exit %d; output:\n%s", code, sc.Output())
	}
}

// TestPubSubRedisKill9: a sidecar killed (SIGKILL) while the app handles an
// event does not lose it: the event stays pending in the consumer group
// and the restarted sidecar claims and delivers it again once it has been
// pending for processingTimeout (at-least-once delivery). As in daprd, the
// delivery itself is not bounded by processingTimeout: an app slower than
// that gets the event a second time while it still handles the first, so
// the app here answers the first delivery only after the kill, well
// within processingTimeout.
func TestPubSubRedisKill9(t *testing.T) {
	r, rc := startRedisWithClient(t)
	app := startSubApp(t, `[{"pubsubname":"ps","topic":"jobs","route":"/jobs"}]`)
	release := make(chan struct{})
	var once sync.Once
	app.answer = func(path string, ce map[string]any) (int, string) {
		first := false
		once.Do(func() { first = true })
		if first {
			<-release // the first delivery hangs until the sidecar is dead
		}
		return 200, ""
	}
	dir := t.TempDir()
	testutil.WriteComponent(t, dir, "ps", "pubsub.redis", map[string]string{"redisHost": r.Addr,
		"processingTimeout": "3s", "redeliverInterval": "200"})
	sc := testutil.Start(t, testutil.Options{AppID: "killapp", ResourcesDir: dir, ExtraArgs: []string{"--app-port", strconv.Itoa(app.port)}})
	waitSubscribed(t, sc, 1)
	runSteps(t, target{addr: sc.Addr(), sc: sc}, nil, []step{
		req("POST", "/v1.0/publish/ps/jobs?metadata.cloudevent.id=job-1", `{"job":1}`, 204, "").h("Content-Type: application/json"),
	})
	first := app.next(t)
	if first.ce["id"] != "job-1" {
		t.Fatalf("first delivery %s", first.body)
	}
	sc.Kill()
	pending, err := rc.XPending(context.Background(), "jobs", "killapp").Result()
	if err != nil || pending.Count != 1 {
		t.Fatalf("pending after the crash: %+v %v", pending, err)
	}
	close(release)    // the answer goes to a dead sidecar
	sc.CrashRestart() // already dead: starts it again
	if again := app.next(t); again.ce["id"] != "job-1" {
		t.Fatalf("redelivery %s", again.body)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		p, err := rc.XPending(context.Background(), "jobs", "killapp").Result()
		if err == nil && p.Count == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still pending after the redelivery: %+v %v", p, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	app.none(t, 1500*time.Millisecond) // delivered again once, not more
	if code := sc.Stop(); code != 0 {
		t.Errorf("exit %d; output:\n%s", code, sc.Output())
	}
}

// TestPubSubRedisLoad: 2,000 events published by 32 concurrent clients
// through the binary (pipelined XADDs) are all delivered to the app,
// each once, with the Redis workers delivering in parallel.
func TestPubSubRedisLoad(t *testing.T) {
	r, rc := startRedisWithClient(t)
	const n, clients = 2000, 32
	var mu sync.Mutex
	seen := map[string]int{}
	all := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/dapr/subscribe" {
			_, _ = io.WriteString(w, `[{"pubsubname":"ps","topic":"load","route":"/load"}]`)
			return
		}
		var ce map[string]any
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &ce)
		mu.Lock()
		seen[ce["id"].(string)]++
		if len(seen) == n {
			close(all)
		}
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	testutil.WriteComponent(t, dir, "ps", "pubsub.redis", map[string]string{"redisHost": r.Addr})
	sc := testutil.Start(t, testutil.Options{AppID: "loadapp", ResourcesDir: dir,
		ExtraArgs: []string{"--app-port", strconv.Itoa(srv.Listener.Addr().(*net.TCPAddr).Port)}})
	waitSubscribed(t, sc, 1)
	var wg sync.WaitGroup
	errs := make(chan string, clients)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := &client{addr: sc.Addr(), keepAlive: true}
			defer cl.close()
			for i := c; i < n; i += clients {
				resp, err := cl.do("POST", "/v1.0/publish/ps/load?metadata.cloudevent.id=ev-"+strconv.Itoa(i), []string{"Content-Type: application/json"}, `{"i":`+strconv.Itoa(i)+`}`)
				if err != nil || resp.Status != 204 {
					errs <- fmt.Sprintf("publish %d: %v %v", i, resp, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	select {
	case <-all:
	case <-time.After(60 * time.Second):
		mu.Lock()
		t.Fatalf("%d of %d events delivered", len(seen), n)
	}
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	for id, k := range seen {
		if k != 1 || !strings.HasPrefix(id, "ev-") {
			t.Errorf("event %s delivered %d times", id, k)
		}
	}
	mu.Unlock()
	if l, err := rc.XLen(context.Background(), "load").Result(); err != nil || l != n {
		t.Fatalf("stream length %d %v", l, err)
	}
	if code := sc.Stop(); code != 0 {
		t.Errorf("exit %d", code)
	}
}

// TestPubSubShutdownBoundedByGrace: an app that never answers a delivery
// does not hold the shutdown past --dapr-graceful-shutdown-seconds: the
// drain's deadline cancels the delivery, the broker closes, the process
// exits; on Redis the event stays pending for the next start.
func TestPubSubShutdownBoundedByGrace(t *testing.T) {
	r, rc := startRedisWithClient(t)
	hang := make(chan struct{})
	arrived := make(chan struct{}, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/dapr/subscribe" {
			_, _ = io.WriteString(w, `[{"pubsubname":"ps","topic":"slow","route":"/slow"}]`)
			return
		}
		arrived <- struct{}{}
		select {
		case <-hang:
		case <-req.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(hang) }) // runs first: the handler returns, then the server closes
	dir := t.TempDir()
	testutil.WriteComponent(t, dir, "ps", "pubsub.redis", map[string]string{"redisHost": r.Addr})
	sc := testutil.Start(t, testutil.Options{AppID: "graceapp", ResourcesDir: dir,
		ExtraArgs: []string{"--app-port", strconv.Itoa(srv.Listener.Addr().(*net.TCPAddr).Port), "--dapr-graceful-shutdown-seconds", "1"}})
	waitSubscribed(t, sc, 1)
	runSteps(t, target{addr: sc.Addr(), sc: sc}, nil, []step{req("POST", "/v1.0/publish/ps/slow", `{"a":1}`, 204, "").h("Content-Type: application/json")})
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("no delivery")
	}
	start := time.Now()
	code := sc.Stop()
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("shutdown took %v with a 1 s grace period", d)
	}
	if code != 0 {
		t.Errorf("exit %d; output:\n%s", code, sc.Output())
	}
	if p, err := rc.XPending(context.Background(), "slow", "graceapp").Result(); err != nil || p.Count != 1 {
		t.Fatalf("the cancelled delivery is not pending: %+v %v", p, err)
	}
}
