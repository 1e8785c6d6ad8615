package api

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/statecar/statecar/component"
)

// The reference implementation: daprd's map envelope, marshalled by
// encoding/json. appendEnvelope must write the same bytes.

// newCloudEvent is daprd's NewCloudEvent: an existing CloudEvent
// (Content-Type application/cloudevents+json) is completed, anything else
// is wrapped; metadata cloudevent.{id,source,type,subject,traceid,
// traceparent,tracestate} override the envelope (names case-insensitive).
func newCloudEvent(in *cloudEventInput, meta map[string]string) (map[string]any, error) {
	if isCloudEventContentType(in.contentType) {
		return fromCloudEvent(in.data, in.topic, in.pubsub, in.traceID, in.traceState)
	}
	applyOverrides(in, meta)
	return newEnvelope(in), nil
}

// newEnvelope is contrib's NewCloudEventsEnvelope.
func newEnvelope(in *cloudEventInput) map[string]any {
	if in.id == "" {
		in.id, _ = component.NewUUID()
	}
	if in.source == "" {
		in.source = defaultCESource
	}
	if in.typ == "" {
		in.typ = defaultCEType
	}
	ct := in.contentType
	if ct == "" {
		ct = defaultCEContentType
	}
	var data any
	field := ceData
	switch {
	case isJSONContentType(ct):
		if err := unmarshalPrecise(in.data, &data); err != nil {
			data = string(in.data)
		}
	case isBinaryContentType(ct) || isContentType(ct, "application/cloudevents+protobuf"):
		data = base64.StdEncoding.EncodeToString(in.data)
		field = ceDataBase64
	default:
		data = string(in.data)
	}
	ce := map[string]any{
		ceID:              in.id,
		ceSpecVersion:     ceSpecVersion10,
		ceDataContentType: ct,
		ceSource:          in.source,
		ceType:            in.typ,
		ceTopic:           in.topic,
		cePubsub:          in.pubsub,
		ceTraceID:         in.traceID,
		ceTraceParent:     in.traceID,
		ceTraceState:      in.traceState,
		ceTime:            envelopeNow().Format(time.RFC3339),
		field:             data,
	}
	if in.subject != "" {
		ce[ceSubject] = in.subject
	}
	return ce
}

// TestAppendEnvelopeMatchesMap: the directly written envelope is byte for
// byte json.Marshal of daprd's map (contrib's NewCloudEventsEnvelope after
// UseNumber decoding), over content types, odd JSON and overrides.
func TestAppendEnvelopeMatchesMap(t *testing.T) {
	fixed := time.Date(2026, 12, 4, 19, 0, 0, 0, time.UTC)
	envelopeNow = func() time.Time { return fixed }
	defer func() { envelopeNow = time.Now }()
	datas := []string{
		`{"b":1,"a":[1,2.50,{"z":null,"y":true}],"s":"<&>\u2028é\ud800"}`, `{"a":1,"a":2}`, ` 12345678901234567890.000 `,
		`"just a string"`, `[]`, `{}`, `null`, `true`, `1e400`, `-0.0`, `{"a":1} trailing`, `[1] [2]`, `1 x`, `1x`, `"a"b`,
		`{bad`, ``, `   `, "\xff\xfe", "line\nbreak\t<tag>", `{"deep":` + strings.Repeat("[", 50) + strings.Repeat("]", 50) + `}`,
		`01`, `1.5.3`, `{"k":"\u00e9\u0000"}`, `1.x`, `-x`, `1e`, `1e+`, `-0`, `1E+2x`, `truex`, `tru`, `nul`, `"unterminated`,
		`{"a":}`, `[1,]`, `{"a" 1}`, "{\"a\":1}\x00", `1.0e-5`, `-12.5E10`,
	}
	cts := []string{"", "application/json", "APPLICATION/JSON; charset=utf-8", "text/plain", "application/octet-stream",
		"application/cloudevents+protobuf", "application/x-www-form-urlencoded", "application/xml", "weird\"type"}
	metas := []map[string]string{nil, {"cloudevent.id": "id-1", "cloudevent.subject": "subj", "CloudEvent.Type": "t<1>", "cloudevent.source": "src"},
		{"cloudevent.traceparent": "00-aa-bb-01", "cloudevent.tracestate": "k=v"}}
	n := 0
	for _, d := range datas {
		for _, ct := range cts {
			for _, m := range metas {
				for _, exp := range []string{"", fixed.Add(time.Minute).Format(time.RFC3339)} {
					mk := func() *cloudEventInput {
						return &cloudEventInput{id: "fixed-id", source: "app<1>", topic: "or/ders", pubsub: "ps", contentType: ct,
							data: []byte(d), traceID: "tp", traceState: "ts"}
					}
					env, err := newCloudEvent(mk(), m)
					if err != nil {
						t.Fatal(err)
					}
					if exp != "" {
						env[ceExpiration] = exp
					}
					want, err := json.Marshal(env)
					if err != nil {
						t.Fatal(err)
					}
					in := mk()
					applyOverrides(in, m)
					got := appendEnvelope(nil, in, exp)
					if string(got) != string(want) {
						t.Fatalf("data %q ct %q meta %v\n got %s\nwant %s", d, ct, m, got, want)
					}
					n++
				}
			}
		}
	}
	if n < 1000 {
		t.Fatalf("only %d cases", n)
	}
	// The id is a new UUID when not given.
	got := appendEnvelope(nil, &cloudEventInput{data: []byte("x")}, "")
	var ce map[string]any
	if err := json.Unmarshal(got, &ce); err != nil || !uuidRE.MatchString(ce["id"].(string)) || ce["source"] != "Dapr" {
		t.Fatalf("%s %v", got, err)
	}
	_ = base64.StdEncoding
	_ = component.NewUUID
}

// FuzzAppendEnvelope compares the direct envelope with daprd's map for
// arbitrary JSON-typed bodies (go test -fuzz FuzzAppendEnvelope ./api).
func FuzzAppendEnvelope(f *testing.F) {
	for _, s := range []string{`{"a":[1,2]}`, `"x"`, `1 2`, `{`, "\xff", `{"a":1,"a":{"b":"\u2028"}}`} {
		f.Add([]byte(s))
	}
	fixed := time.Date(2026, 12, 4, 19, 0, 0, 0, time.UTC)
	envelopeNow = func() time.Time { return fixed }
	defer func() { envelopeNow = time.Now }()
	f.Fuzz(func(t *testing.T, data []byte) {
		mk := func() *cloudEventInput {
			return &cloudEventInput{id: "i", topic: "t", pubsub: "p", contentType: "application/json", data: data}
		}
		env, _ := newCloudEvent(mk(), nil)
		want, err := json.Marshal(env)
		if err != nil {
			t.Skip() // not a case daprd can marshal either
		}
		if got := appendEnvelope(nil, mk(), ""); string(got) != string(want) {
			t.Fatalf("data %q\n got %s\nwant %s", data, got, want)
		}
	})
}
