package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/statecar/statecar/component/pubsub"
)

// recBroker records what is published; Publish fails for data containing
// failOn.
type recBroker struct {
	mu       sync.Mutex
	got      []pubsub.PublishRequest
	failOn   string
	features []string
}

func (b *recBroker) Features() []string { return b.features }
func (b *recBroker) Publish(_ context.Context, r *pubsub.PublishRequest) error {
	if b.failOn != "" && strings.Contains(string(r.Data), b.failOn) {
		return errors.New("broker says no")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.got = append(b.got, *r)
	return nil
}
func (b *recBroker) Subscribe(context.Context, pubsub.SubscribeRequest, pubsub.Handler) error {
	return nil
}
func (b *recBroker) Close() error { return nil }

func (b *recBroker) last(t *testing.T) (pubsub.PublishRequest, map[string]any) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.got) == 0 {
		t.Fatal("nothing published")
	}
	r := b.got[len(b.got)-1]
	var ce map[string]any
	d := json.NewDecoder(strings.NewReader(string(r.Data)))
	d.UseNumber()
	_ = d.Decode(&ce)
	return r, ce
}

func newTestPubSub(b *recBroker, meta map[string]string) *PubSub {
	return NewPubSub(PubSubConfig{AppID: "myapp", Brokers: []PubSubEntry{{Name: "ps", Broker: b, Metadata: meta}}, DisableMetrics: true})
}

func httpBody(e *Error) string { return string(e.AppendHTTPBody(nil)) }

func TestPublishErrors(t *testing.T) {
	b := &recBroker{}
	p := newTestPubSub(b, map[string]string{"publishingScopes": "myapp=allowed1,allowed2;other=x"})
	ctx := context.Background()
	tests := []struct {
		name   string
		req    PublishRequest
		status int
		code   codes.Code
		body   string
	}{
		{"unknown pubsub", PublishRequest{PubsubName: "nope", Topic: "t", Metadata: map[string]string{}}, http.StatusNotFound, codes.InvalidArgument,
			`{"errorCode":"ERR_PUBSUB_NOT_FOUND","message":"pubsub nope is not found","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","domain":"dapr.io","metadata":{},"reason":"DAPR_PUBSUB_NOT_FOUND"}]}`},
		{"unknown pubsub, metadata echoed", PublishRequest{PubsubName: "nope", Topic: "t", Metadata: map[string]string{"b": "2", "a": "1"}}, http.StatusNotFound, codes.InvalidArgument,
			`{"errorCode":"ERR_PUBSUB_NOT_FOUND","message":"pubsub nope is not found","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","domain":"dapr.io","metadata":{"a":"1","b":"2"},"reason":"DAPR_PUBSUB_NOT_FOUND"}]}`},
		{"empty name", PublishRequest{Topic: "t", Metadata: map[string]string{}}, http.StatusNotFound, codes.InvalidArgument,
			`{"errorCode":"ERR_PUBSUB_EMPTY","message":"pubsub name is empty","details":[{"@type":"type.googleapis.com/google.rpc.ResourceInfo","description":"pubsub name is empty","owner":"","resource_name":"","resource_type":"pubsub"},{"@type":"type.googleapis.com/google.rpc.ErrorInfo","domain":"dapr.io","metadata":{},"reason":"DAPR_PUBSUB_NAME_EMPTY"}]}`},
		{"empty topic", PublishRequest{PubsubName: "ps", Metadata: map[string]string{}}, http.StatusNotFound, codes.InvalidArgument,
			`{"errorCode":"ERR_TOPIC_NAME_EMPTY","message":"topic is empty in pubsub ps","details":[{"@type":"type.googleapis.com/google.rpc.ResourceInfo","description":"topic is empty in pubsub ps","owner":"","resource_name":"ps","resource_type":"pubsub"},{"@type":"type.googleapis.com/google.rpc.ErrorInfo","domain":"dapr.io","metadata":{},"reason":"DAPR_PUBSUB_TOPIC_NAME_EMPTY"}]}`},
		{"bad rawPayload", PublishRequest{PubsubName: "ps", Topic: "allowed1", Metadata: map[string]string{"rawPayload": "yes!"}}, http.StatusBadRequest, codes.InvalidArgument,
			`{"errorCode":"ERR_PUBSUB_REQUEST_METADATA","message":"failed deserializing metadata. Error: rawPayload value must be a valid boolean: actual is 'yes!'","details":[{"@type":"type.googleapis.com/google.rpc.ResourceInfo","description":"failed deserializing metadata. Error: rawPayload value must be a valid boolean: actual is 'yes!'","owner":"","resource_name":"ps","resource_type":"pubsub"},{"@type":"type.googleapis.com/google.rpc.ErrorInfo","domain":"dapr.io","metadata":{"rawPayload":"yes!"},"reason":"DAPR_PUBSUB_METADATA_DESERIALIZATION"}]}`},
		{"body too large", PublishRequest{PubsubName: "ps", Topic: "allowed1", Metadata: map[string]string{}, BodyErr: errors.New("stream too large")}, http.StatusInternalServerError, codes.Internal,
			`{"errorCode":"ERR_PUBSUB_PUBLISH_MESSAGE","message":"error when publishing to topic allowed1 in pubsub ps: stream too large","details":[{"@type":"type.googleapis.com/google.rpc.ResourceInfo","description":"error when publishing to topic allowed1 in pubsub ps: stream too large","owner":"","resource_name":"ps","resource_type":"pubsub"},{"@type":"type.googleapis.com/google.rpc.ErrorInfo","domain":"dapr.io","metadata":{"error":"stream too large","topic":"allowed1"},"reason":"DAPR_PUBSUB_PUBLISH_MESSAGE"}]}`},
		{"not in the publishing scopes", PublishRequest{PubsubName: "ps", Topic: "x", Metadata: map[string]string{}}, http.StatusForbidden, codes.PermissionDenied,
			`{"errorCode":"ERR_PUBSUB_FORBIDDEN","message":"topic x is not allowed for app id myapp","details":[{"@type":"type.googleapis.com/google.rpc.ResourceInfo","description":"topic x is not allowed for app id myapp","owner":"","resource_name":"ps","resource_type":"pubsub"},{"@type":"type.googleapis.com/google.rpc.ErrorInfo","domain":"dapr.io","metadata":{"error":"topic x is not allowed for app id myapp","topic":"x"},"reason":"DAPR_PUBSUB_FORBIDDEN"}]}`},
		{"cloudevent that is not JSON", PublishRequest{PubsubName: "ps", Topic: "allowed1", ContentType: "application/cloudevents+json", Data: []byte("{"), Metadata: map[string]string{}}, http.StatusInternalServerError, codes.InvalidArgument,
			`{"errorCode":"ERR_PUBSUB_CLOUD_EVENTS_SER","message":"cannot create cloudevent","details":[{"@type":"type.googleapis.com/google.rpc.ResourceInfo","description":"cannot create cloudevent","owner":"","resource_name":"ps","resource_type":"pubsub"},{"@type":"type.googleapis.com/google.rpc.ErrorInfo","domain":"dapr.io","metadata":{"appID":"myapp","error":"unexpected EOF"},"reason":"DAPR_PUBSUB_CLOUD_EVENT_CREATION"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := p.Publish(ctx, &tt.req)
			if e == nil {
				t.Fatal("no error")
			}
			if e.HTTPStatus() != tt.status || e.GRPCCode() != tt.code {
				t.Errorf("status %d / %v, want %d / %v", e.HTTPStatus(), e.GRPCCode(), tt.status, tt.code)
			}
			if got := httpBody(e); got != tt.body {
				t.Errorf("body\n got %s\nwant %s", got, tt.body)
			}
			if e.Category() != "pubsub" {
				t.Errorf("category %q", e.Category())
			}
		})
	}
	if len(b.got) != 0 {
		t.Fatalf("%d messages reached the broker", len(b.got))
	}
	if e := p.Publish(ctx, &PublishRequest{PubsubName: "ps", Topic: "allowed2", Data: []byte("x")}); e != nil {
		t.Fatalf("scoped topic: %s", httpBody(e))
	}
	// A nil *PubSub (no pub/sub components) answers every name as unknown.
	var none *PubSub
	if e := none.Publish(ctx, &PublishRequest{PubsubName: "ps", Topic: "t", Metadata: map[string]string{}}); e == nil || e.ErrorCode() != CodePubSubNotFound {
		t.Fatalf("nil PubSub: %v", e)
	}
	// gRPC: NotFound carries no metadata, the broker failure is Internal.
	e := p.Publish(ctx, &PublishRequest{PubsubName: "nope", Topic: "t", Metadata: map[string]string{"a": "1"}, GRPC: true})
	if st := e.GRPCStatus(); st.Code() != codes.InvalidArgument || st.Message() != "pubsub nope is not found" || len(st.Details()) != 1 {
		t.Fatalf("gRPC not found: %v %v", st, st.Details())
	}
}

func TestPublishTopicRules(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		meta    map[string]string
		allowed []string
		denied  []string
	}{
		{map[string]string{"allowedTopics": "a, b"}, []string{"a", "b"}, []string{"c"}},
		{map[string]string{"protectedTopics": "p"}, []string{"a"}, []string{"p"}},
		{map[string]string{"protectedTopics": "p", "publishingScopes": "myapp=p"}, []string{"p"}, []string{"a"}},
		{map[string]string{"PUBLISHINGSCOPES": "other=a"}, []string{"a", "b"}, nil}, // scopes of other apps do not apply
		{map[string]string{"publishingScopes": "myapp="}, nil, []string{"a"}},       // an empty list allows nothing
	}
	for i, tt := range tests {
		p := newTestPubSub(&recBroker{}, tt.meta)
		for _, topic := range tt.allowed {
			if e := p.Publish(ctx, &PublishRequest{PubsubName: "ps", Topic: topic}); e != nil {
				t.Errorf("%d: %s denied: %s", i, topic, e.Message())
			}
		}
		for _, topic := range tt.denied {
			if e := p.Publish(ctx, &PublishRequest{PubsubName: "ps", Topic: topic}); e == nil || e.ErrorCode() != CodePubSubForbidden {
				t.Errorf("%d: %s allowed", i, topic)
			}
		}
	}
	p := newTestPubSub(&recBroker{}, map[string]string{"subscriptionScopes": "myapp=s1", "allowedTopics": "s1,s2"})
	if !p.SubscribeAllowed("ps", "s1") || p.SubscribeAllowed("ps", "s2") || p.SubscribeAllowed("nope", "s1") {
		t.Fatal("subscriptionScopes not applied")
	}
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestPublishEnvelope(t *testing.T) {
	ctx := context.Background()
	b := &recBroker{}
	p := newTestPubSub(b, nil)
	publish := func(req PublishRequest) (pubsub.PublishRequest, map[string]any) {
		t.Helper()
		req.PubsubName, req.Topic = "ps", "orders"
		if e := p.Publish(ctx, &req); e != nil {
			t.Fatal(httpBody(e))
		}
		return b.last(t)
	}

	// JSON data stays JSON, numbers keep their digits.
	r, ce := publish(PublishRequest{ContentType: "application/json", Data: []byte(`{"n":12345678901234567890,"s":"<x>"}`),
		Metadata: map[string]string{"k": "v"}})
	if !strings.Contains(string(r.Data), `"data":{"n":12345678901234567890,"s":"\u003cx\u003e"}`) {
		t.Errorf("JSON data: %s", r.Data)
	}
	if !uuidRE.MatchString(ce["id"].(string)) {
		t.Errorf("id %v", ce["id"])
	}
	want := map[string]any{"datacontenttype": "application/json", "pubsubname": "ps", "source": "myapp", "specversion": "1.0",
		"topic": "orders", "traceid": "", "traceparent": "", "tracestate": "", "type": "com.dapr.event.sent"}
	for k, v := range want {
		if ce[k] != v {
			t.Errorf("%s = %v, want %v", k, ce[k], v)
		}
	}
	if ts, err := time.Parse(time.RFC3339, ce["time"].(string)); err != nil || time.Since(ts) > time.Minute {
		t.Errorf("time %v", ce["time"])
	}
	if r.Metadata["k"] != "v" || r.Topic != "orders" {
		t.Errorf("request %+v", r)
	}
	// Keys are sorted as encoding/json writes a map.
	if !strings.HasPrefix(string(r.Data), `{"data":`) {
		t.Errorf("key order: %s", r.Data)
	}

	// No content type: text/plain, the body as a string; bad JSON with a
	// JSON type falls back to a string too.
	_, ce = publish(PublishRequest{Data: []byte("hello")})
	if ce["data"] != "hello" || ce["datacontenttype"] != "text/plain" {
		t.Errorf("text: %v", ce)
	}
	_, ce = publish(PublishRequest{ContentType: "application/json", Data: []byte("{bad")})
	if ce["data"] != "{bad" {
		t.Errorf("bad JSON: %v", ce["data"])
	}
	// Binary: data_base64.
	_, ce = publish(PublishRequest{ContentType: "application/octet-stream", Data: []byte{0, 1, 2, 255}})
	if ce["data_base64"] != base64.StdEncoding.EncodeToString([]byte{0, 1, 2, 255}) || ce["data"] != nil {
		t.Errorf("binary: %v", ce)
	}
	// Overrides (names case-insensitive) and the caller's trace context.
	_, ce = publish(PublishRequest{Data: []byte("x"), TraceParent: "00-aa-bb-01", TraceState: "k=v",
		Metadata: map[string]string{"cloudevent.ID": "my-id", "cloudevent.source": "src", "CloudEvent.Type": "t1", "cloudevent.subject": "sub"}})
	for k, v := range map[string]any{"id": "my-id", "source": "src", "type": "t1", "subject": "sub", "traceid": "00-aa-bb-01", "traceparent": "00-aa-bb-01", "tracestate": "k=v"} {
		if ce[k] != v {
			t.Errorf("override %s = %v, want %v", k, ce[k], v)
		}
	}
	_, ce = publish(PublishRequest{Data: []byte("x"), TraceParent: "00-aa-bb-01", Metadata: map[string]string{"cloudevent.traceparent": "00-cc-dd-01"}})
	if ce["traceid"] != "00-cc-dd-01" || ce["traceparent"] != "00-cc-dd-01" {
		t.Errorf("traceparent override: %v", ce)
	}
	// A CloudEvent is completed, not wrapped; its own fields stay.
	_, ce = publish(PublishRequest{ContentType: "application/cloudevents+json",
		Data: []byte(`{"id":"e1","type":"my.type","data":{"a":1},"topic":"other","time":"2020-01-01T00:00:00Z"}`)})
	for k, v := range map[string]any{"id": "e1", "type": "my.type", "topic": "orders", "pubsubname": "ps", "source": "Dapr",
		"specversion": "1.0", "time": "2020-01-01T00:00:00Z", "traceid": "", "tracestate": ""} {
		if ce[k] != v {
			t.Errorf("cloudevent %s = %v, want %v", k, ce[k], v)
		}
	}
	// ttlInSeconds: the broker has no MESSAGE_TTL, so the envelope expires.
	_, ce = publish(PublishRequest{Data: []byte("x"), Metadata: map[string]string{"ttlInSeconds": "60"}})
	exp, err := time.Parse(time.RFC3339, ce["expiration"].(string))
	if err != nil || exp.Before(time.Now().Add(50*time.Second)) || exp.After(time.Now().Add(70*time.Second)) {
		t.Errorf("expiration %v", ce["expiration"])
	}
	// A raw payload goes as is; over gRPC the trace context joins the
	// metadata.
	r, _ = publish(PublishRequest{Data: []byte("raw bytes"), Metadata: map[string]string{"rawPayload": "true"}})
	if string(r.Data) != "raw bytes" || len(r.Metadata) != 1 {
		t.Errorf("raw: %q %v", r.Data, r.Metadata)
	}
	r, _ = publish(PublishRequest{Data: []byte("raw"), Metadata: map[string]string{"rawPayload": "1"}, GRPC: true, TraceParent: "tp"})
	if r.Metadata["traceid"] != "tp" || r.Metadata["tracestate"] != "" || len(r.Metadata) != 3 {
		t.Errorf("gRPC raw metadata: %v", r.Metadata)
	}
}

func TestPublishTTLFeature(t *testing.T) {
	b := &recBroker{features: []string{pubsub.FeatureMessageTTL}}
	p := newTestPubSub(b, nil)
	if e := p.Publish(context.Background(), &PublishRequest{PubsubName: "ps", Topic: "t", Data: []byte("x"), Metadata: map[string]string{"ttlInSeconds": "5"}}); e != nil {
		t.Fatal(e)
	}
	if _, ce := b.last(t); ce["expiration"] != nil {
		t.Fatalf("a broker with MESSAGE_TTL got an expiration: %v", ce["expiration"])
	}
}

func TestBulkPublish(t *testing.T) {
	ctx := context.Background()
	b := &recBroker{failOn: "boom"}
	p := newTestPubSub(b, map[string]string{"publishingScopes": "myapp=t"})
	entries := []BulkEntry{
		{EntryID: "1", Event: []byte(`{"a":1}`), ContentType: "application/json"},
		{EntryID: "2", Event: []byte("boom"), ContentType: "text/plain", Metadata: map[string]string{"cloudevent.id": "fixed"}},
		{EntryID: "3", Event: []byte("ok"), ContentType: "text/plain"},
	}
	failed, e := p.BulkPublish(ctx, &BulkPublishRequest{PubsubName: "ps", Topic: "t", Entries: entries})
	if e == nil || e.ErrorCode() != CodePubSubPublishMessage || e.HTTPStatus() != http.StatusInternalServerError {
		t.Fatalf("error %v", e)
	}
	if len(failed) != 1 || failed[0].EntryID != "2" || failed[0].Error != "broker says no" {
		t.Fatalf("failed %+v", failed)
	}
	if len(b.got) != 2 {
		t.Fatalf("%d published, want 2", len(b.got))
	}
	b.failOn = ""
	b.got = nil
	if _, e := p.BulkPublish(ctx, &BulkPublishRequest{PubsubName: "ps", Topic: "t", Entries: entries}); e != nil {
		t.Fatal(httpBody(e))
	}
	ids := map[string]bool{}
	for _, r := range b.got {
		var ce map[string]any
		_ = json.Unmarshal(r.Data, &ce)
		ids[ce["id"].(string)] = true
		if ce["source"] != "myapp" || ce["topic"] != "t" {
			t.Errorf("envelope %v", ce)
		}
	}
	if !ids["fixed"] || len(ids) != 3 {
		t.Errorf("ids %v", ids)
	}
	// Scopes apply to the whole call.
	if _, e := p.BulkPublish(ctx, &BulkPublishRequest{PubsubName: "ps", Topic: "x", Entries: entries}); e == nil || e.ErrorCode() != CodePubSubForbidden {
		t.Fatalf("forbidden: %v", e)
	}
	// gRPC checks entry IDs while building the envelopes.
	dup := []BulkEntry{{EntryID: "1", Event: []byte("a"), ContentType: "text/plain"}, {EntryID: "1", Event: []byte("b"), ContentType: "text/plain"}}
	_, e = p.BulkPublish(ctx, &BulkPublishRequest{PubsubName: "ps", Topic: "t", Entries: dup, GRPC: true, CheckEntryIDs: true})
	if e == nil || e.Message() != "error marshaling events to bytes for topic t pubsub ps. error: entryId is duplicated or not present for entry" {
		t.Fatalf("duplicate IDs: %v", e)
	}
}

func TestConvertBulkEvent(t *testing.T) {
	tests := []struct {
		event, ct, want, err string
	}{
		{`{"b":2,"a":12345678901234567890}`, "application/json", `{"a":12345678901234567890,"b":2}`, ""},
		{`"text"`, "application/cloudevents+json", `"text"`, ""},
		{`"hello"`, "text/plain", "hello", ""},
		{`"<a/>"`, "application/xml", "<a/>", ""},
		{`5`, "text/plain", "", "error: mismatch between contentType and event"},
		{`"AAEC"`, "application/octet-stream", "\x00\x01\x02", ""},
		{`"!!"`, "application/octet-stream", "", "error: unable to decode base64 application/octect-stream data: illegal base64 data at input byte 0"},
		{`{}`, "application/octet-stream", "", "error: mismatch between contentType and event"},
		{`"x"`, "", "", "error: mismatch between contentType and event"},
		{`null`, "application/json", "null", ""},
	}
	for _, tt := range tests {
		got, err := ConvertBulkEvent(json.RawMessage(tt.event), tt.ct)
		switch {
		case tt.err != "" && (err == nil || err.Error() != tt.err):
			t.Errorf("%s %s: err %v, want %s", tt.event, tt.ct, err, tt.err)
		case tt.err == "" && (err != nil || string(got) != tt.want):
			t.Errorf("%s %s: %q %v, want %q", tt.event, tt.ct, got, err, tt.want)
		}
	}
}

func TestBulkEntryMetadata(t *testing.T) {
	if BulkEntryMetadata(map[string]string{"a": "1"}, nil) != nil {
		t.Fatal("an entry without metadata gets none (daprd)")
	}
	m := BulkEntryMetadata(map[string]string{"a": "1", "b": "1"}, map[string]string{"b": "2"})
	if m["a"] != "1" || m["b"] != "2" || len(m) != 2 {
		t.Fatalf("%v", m)
	}
}
