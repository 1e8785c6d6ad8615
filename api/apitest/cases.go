package apitest

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"

	"github.com/statecar/statecar/api"
	"github.com/statecar/statecar/component"
)

const illegalBody = `{"errorCode":"ERR_MALFORMED_REQUEST","message":"api error: code = InvalidArgument desc = input key/keyPrefix 'a||b' can't contain '||'","details":[{"@type":"type.googleapis.com/google.rpc.BadRequest","field_violations":[{"field":"a||b","description":"api error: code = InvalidArgument desc = input key/keyPrefix 'a||b' can't contain '||'"}]},{"@type":"type.googleapis.com/google.rpc.ResourceInfo","description":"","owner":"","resource_name":"statestore","resource_type":"state"},{"@type":"type.googleapis.com/google.rpc.ErrorInfo","domain":"dapr.io","metadata":null,"reason":"DAPR_STATE_ILLEGAL_KEY"}]}`

const illegalTxBody = `{"errorCode":"ERR_MALFORMED_REQUEST","message":"api error: code = InvalidArgument desc = input key/keyPrefix 'a||b' can't contain '||'","details":[{"@type":"type.googleapis.com/google.rpc.BadRequest","field_violations":[{"description":"api error: code = InvalidArgument desc = input key/keyPrefix 'a||b' can't contain '||'"}]},{"@type":"type.googleapis.com/google.rpc.ResourceInfo","description":"","owner":"","resource_name":"statestore","resource_type":"state"},{"@type":"type.googleapis.com/google.rpc.ErrorInfo","domain":"dapr.io","metadata":null,"reason":"DAPR_STATE_ILLEGAL_KEY"}]}`

// wrong returns an ETag the store never produced: s itself for stores
// with the in-memory texts (any string mismatches), else a decimal that
// parses as an ETag for stores with integer ETags (Redis) but does not match.
func wrong(opts Options, s string) string {
	if opts.InMemoryTexts {
		return s
	}
	return "987654321"
}

func malformed(msg string) string {
	return `{"errorCode":"ERR_MALFORMED_REQUEST","message":` + strconv.Quote(msg) + `}`
}

// §13.1, §13.2: save then get; missing key.
func testSaveGet(t *testing.T, newStore func(t *testing.T) component.Store, opts Options) {
	e := newEnv(t, newStore, opts, nil)
	e.mustSave(`[{"key":"k","value":"v"}]`)
	r := e.get("k")
	if !r.Found || string(r.Data) != `"v"` {
		t.Fatalf("get k: found=%v data=%q, want \"v\"", r.Found, r.Data)
	}
	if has(e.store, component.FeatureETag) && len(r.ETag) == 0 {
		t.Fatal("get k: no ETag")
	}
	if len(r.TTLExpireTime) != 0 {
		t.Fatalf("get k: unexpected ttlExpireTime %s", r.TTLExpireTime)
	}
	if r := e.get("missing"); r.Found || len(r.Data) != 0 || len(r.ETag) != 0 {
		t.Fatalf("get missing: found=%v data=%q etag=%q", r.Found, r.Data, r.ETag)
	}
	// Every write produces a new ETag.
	if has(e.store, component.FeatureETag) {
		first := e.etag("k")
		e.mustSave(`[{"key":"k","value":"v2"}]`)
		if second := e.etag("k"); second == first {
			t.Fatalf("ETag unchanged after a write: %s", first)
		}
	}
	// Reusing a GetResult: the second read overwrites the first.
	var out api.GetResult
	e.mustSave(`[{"key":"long","value":"a long value to fill the buffer"},{"key":"short","value":1}]`)
	noErr(t, e.s.HTTPGet(e.ctx, []byte(storeName), []byte("long"), nil, nil, &out))
	noErr(t, e.s.HTTPGet(e.ctx, []byte(storeName), []byte("short"), nil, nil, &out))
	if string(out.Data) != "1" {
		t.Fatalf("reused GetResult: data %q, want 1", out.Data)
	}
	noErr(t, e.s.HTTPGet(e.ctx, []byte(storeName), []byte("nothere"), nil, nil, &out))
	if out.Found {
		t.Fatal("reused GetResult: missing key reported found")
	}
}

// §13.3, §13.4, §6.1: canonical JSON re-serialisation.
func testValueEncoding(t *testing.T, newStore func(t *testing.T) component.Store, opts Options) {
	e := newEnv(t, newStore, opts, nil)
	f := func(value, want string) {
		t.Helper()
		body := `[{"key":"v","value":` + value + `}]`
		if value == "" {
			body = `[{"key":"v"}]`
		}
		e.mustSave(body)
		if r := e.get("v"); !r.Found || string(r.Data) != want {
			t.Fatalf("value %s: stored %q, want %q", value, r.Data, want)
		}
	}
	f(`{"b":1,"a":2.50,"h":"<"}`, `{"a":2.5,"b":1,"h":"\u003c"}`)
	f(`{"name":"Tatooine","b":1,"a":[1,2.50],"h":"<&>"}`, `{"a":[1,2.5],"b":1,"h":"\u003c\u0026\u003e","name":"Tatooine"}`)
	f(`"value1"`, `"value1"`)
	f(`"he said \"hi\" <b>"`, `"he said \"hi\" \u003cb\u003e"`)
	f(`12.0`, `12`)
	f(` [ 1 , true , null , "a" ] `, `[1,true,null,"a"]`)
	f(`null`, `null`)
	f(``, `null`)
	f(`{"a":1,"a":2}`, `{"a":2}`)
	f(`1e21`, `1e+21`)
	f(`0.000001`, `0.000001`)
	f(`1E-7`, `1e-7`)
	// Beyond daprd: literals float64 cannot hold are kept as sent.
	f(`12345678901234567890`, `12345678901234567890`)
	f(`0.1000000000000000055511`, `0.1000000000000000055511`)
	f(`"\u00e9\ud83d\ude00"`, `"é😀"`)
}

// §13.5, §13.6, §8.3: bulk get.
func testBulkGet(t *testing.T, newStore func(t *testing.T) component.Store, opts Options) {
	e := newEnv(t, newStore, opts, nil)
	e.mustSave(`[{"key":"k","value":"v"}]`)
	e.mustSave(`[{"key":"n1","value":12}]`)
	e.mustSave(`[{"key":"arr","value":[1,"a",null]}]`)
	etag := func(k string) string {
		if !has(e.store, component.FeatureETag) {
			return ""
		}
		return `,"etag":"` + e.etag(k) + `"`
	}
	got, err := e.bulk(`{"keys":["k","missing","n1","arr","k"]}`)
	noErr(t, err)
	want := `[{"key":"k","data":"v"` + etag("k") + `},{"key":"missing"},{"key":"n1","data":12` + etag("n1") +
		`},{"key":"arr","data":[1,"a",null]` + etag("arr") + `},{"key":"k","data":"v"` + etag("k") + "}]\n"
	if got != want {
		t.Fatalf("bulk:\n got %s\nwant %s", got, want)
	}
	for _, body := range []string{`{}`, `{"keys":[]}`, `{"keys":null}`} {
		got, err := e.bulk(body)
		noErr(t, err)
		if got != "[]\n" {
			t.Fatalf("bulk %s: got %q, want []\\n", body, got)
		}
	}
	// Metadata in the body and parallelism are accepted.
	got, err = e.bulk(`{"keys":["missing"],"parallelism":10,"metadata":{"a":"b"}}`)
	noErr(t, err)
	if got != "[{\"key\":\"missing\"}]\n" {
		t.Fatalf("bulk with parallelism: %q", got)
	}
	// §13.6 (fixed): a non-JSON value written over gRPC becomes a JSON string.
	noErr(t, e.s.Save(e.ctx, storeName, []api.Item{{Key: "raw", Value: []byte("hello <x>")}}))
	got, err = e.bulk(`{"keys":["raw"]}`)
	noErr(t, err)
	if want := `[{"key":"raw","data":"hello \u003cx\u003e"` + etag("raw") + "}]\n"; got != want {
		t.Fatalf("bulk raw:\n got %s\nwant %s", got, want)
	}
	// Decode errors.
	_, err = e.bulk(``)
	wantBody(t, err, 400, malformed("failed deserializing HTTP body: EOF"))
	_, err = e.bulk(`{"keys":"x"}`)
	wantBody(t, err, 400, malformed("failed deserializing HTTP body: json: cannot unmarshal string into Go struct field BulkGetRequest.keys of type []string"))
	_, err = e.bulk(`{"keys":["a||b"]}`)
	wantBody(t, err, 400, illegalBody)
	// An empty key is not rejected by bulk get.
	got, err = e.bulk(`{"keys":[""]}`)
	noErr(t, err)
	if got != "[{\"key\":\"\"}]\n" {
		t.Fatalf("bulk empty key: %q", got)
	}
}

// §13.7: save body decoding errors.
func testSaveDecodeErrors(t *testing.T, newStore func(t *testing.T) component.Store, opts Options) {
	e := newEnv(t, newStore, opts, nil)
	f := func(body, msg string) {
		t.Helper()
		wantBody(t, e.save(body, nil), 400, malformed(msg))
	}
	f(`[{"key":"k2","value":"v2","etag":1}]`, "json: cannot unmarshal number into Go struct field SetRequest.etag of type string")
	f(``, "EOF")
	f(`   `, "EOF")
	f(`{"key":"k","value":1}`, "json: cannot unmarshal object into Go value of type []state.SetRequest")
	f(`[{"key":"k","metadata":{"ttlInSeconds":10}}]`, "json: cannot unmarshal number into Go struct field SetRequest.metadata of type string")
	f(`[{"key":1}]`, "json: cannot unmarshal number into Go struct field SetRequest.key of type string")
	f(`[{"key":"k","value":x}]`, "invalid character 'x' looking for beginning of value")
	f(`[{"key":"k"`, "unexpected EOF")
	f(`[{"value":1}]`, `"key" is a required field`)
	if r := e.get("k2"); r.Found {
		t.Fatal("k2 written by a failed save")
	}
	// [] is a no-op.
	noErr(t, e.save(`[]`, nil))
	noErr(t, e.save(`null`, nil))
}

// §13.8: every item is validated before any is written.
func testSaveValidation(t *testing.T, newStore func(t *testing.T) component.Store, opts Options) {
	e := newEnv(t, newStore, opts, nil)
	wantBody(t, e.save(`[{"key":"ok","value":1},{"key":""}]`, nil), 400, malformed(`"key" is a required field`))
	wantBody(t, e.save(`[{"key":"ok","value":1},{"key":"a||b"}]`, nil), 400, illegalBody)
	if r := e.get("ok"); r.Found {
		t.Fatal("ok written although another item was invalid")
	}
}

// §13.9, §13.10, §5: ETag rules on save.
func testETags(t *testing.T, newStore func(t *testing.T) component.Store, opts Options) {
	e := newEnv(t, newStore, opts, nil)
	if !etagRules(e.store, opts) {
		t.Skip("store has no ETAG")
	}
	const prefix = "failed saving state in state store statestore: possible etag mismatch. error from state store: "
	// ETag on a missing key.
	err := e.save(`[{"key":"weapon","value":"DeathStar","etag":"`+wrong(opts, "xxxxx")+`","options":{"concurrency":"first-write","consistency":"strong"}}]`, nil)
	wantErr(t, err, 409, "ERR_STATE_SAVE", prefix)
	if opts.InMemoryTexts {
		wantBody(t, err, 409, `{"errorCode":"ERR_STATE_SAVE","message":"`+prefix+`state not exist or expired for key=myapp||weapon"}`)
	}
	// "etag":"" is no ETag.
	e.mustSave(`[{"key":"a","value":1,"etag":""}]`)
	cur := e.etag("a")
	// Right ETag: written, new ETag.
	e.mustSave(`[{"key":"a","value":2,"etag":"` + cur + `"}]`)
	next := e.etag("a")
	if next == cur {
		t.Fatal("ETag unchanged")
	}
	// Stale ETag.
	err = e.save(`[{"key":"a","value":3,"etag":"`+cur+`"}]`, nil)
	wantErr(t, err, 409, "ERR_STATE_SAVE", prefix)
	if opts.InMemoryTexts {
		wantBody(t, err, 409, `{"errorCode":"ERR_STATE_SAVE","message":"`+prefix+`state etag not match for key=myapp||a: current=`+next+`, expect=`+cur+`"}`)
	}
	// Multi-item: one bad ETag → 409 with the doubled prefix.
	err = e.save(`[{"key":"a","value":4,"etag":"`+wrong(opts, "wrong")+`"},{"key":"b","value":5}]`, nil)
	wantErr(t, err, 409, "ERR_STATE_SAVE", prefix+"possible etag mismatch. error from state store: ")
	if opts.InMemoryTexts {
		wantBody(t, err, 409, `{"errorCode":"ERR_STATE_SAVE","message":"`+prefix+`possible etag mismatch. error from state store: state etag not match for key=myapp||a: current=`+next+`, expect=wrong"}`)
	}
	if !opts.NonAtomicBulk {
		if r := e.get("b"); r.Found {
			t.Fatal("b written although the save failed (all-or-nothing)")
		}
	}
	if r := e.get("a"); string(r.Data) != "2" {
		t.Fatalf("a = %s after failed saves, want 2", r.Data)
	}
	// Two bad items: both listed, joined by \n.
	err = e.save(`[{"key":"a","value":4,"etag":"`+wrong(opts, "wrong")+`"},{"key":"c","value":5,"etag":"`+wrong(opts, "bad")+`"}]`, nil)
	wantErr(t, err, 409, "ERR_STATE_SAVE", prefix+"possible etag mismatch. error from state store: ")
	if strings.Count(err.Message(), "\n") != 1 {
		t.Fatalf("two failures not joined by one newline: %q", err.Message())
	}
	// Last-write with a right ETag via last-write option.
	e.mustSave(`[{"key":"a","value":6,"etag":"` + next + `","options":{"concurrency":"last-write"}}]`)
}

// §13.11: first-write.
func testFirstWrite(t *testing.T, newStore func(t *testing.T) component.Store, opts Options) {
	e := newEnv(t, newStore, opts, nil)
	if !etagRules(e.store, opts) {
		t.Skip("store has no ETAG or SkipETagRules")
	}
	e.mustSave(`[{"key":"fw","value":"x","options":{"concurrency":"first-write"}}]`)
	err := e.save(`[{"key":"fw","value":"y","options":{"concurrency":"first-write"}}]`, nil)
	wantErr(t, err, 409, "ERR_STATE_SAVE", "failed saving state in state store statestore: possible etag mismatch. error from state store: ")
	if opts.InMemoryTexts {
		wantBody(t, err, 409, `{"errorCode":"ERR_STATE_SAVE","message":"failed saving state in state store statestore: possible etag mismatch. error from state store: item already exists and no etag was passed"}`)
	}
	// first-write with the right ETag works.
	e.mustSave(`[{"key":"fw","value":"z","etag":"` + e.etag("fw") + `","options":{"concurrency":"first-write"}}]`)
	err = e.del("fw", "", "first-write", "")
	wantErr(t, err, 409, "ERR_STATE_DELETE", "failed deleting state with key fw: possible etag mismatch. error from state store: ")
	if opts.InMemoryTexts {
		wantBody(t, err, 409, `{"errorCode":"ERR_STATE_DELETE","message":"failed deleting state with key fw: possible etag mismatch. error from state store: item already exists and no etag was passed"}`)
	}
	// first-write delete of a missing key is a no-op.
	noErr(t, e.del("nofw", "", "first-write", ""))
}

// §13.12: option values.
func testOptions(t *testing.T, newStore func(t *testing.T) component.Store, opts Options) {
	e := newEnv(t, newStore, opts, nil)
	wantBody(t, e.save(`[{"key":"k3","value":1,"options":{"concurrency":"bogus"}}]`, nil), 500,
		`{"errorCode":"ERR_STATE_SAVE","message":"failed saving state in state store statestore: unrecognized concurrency model 'bogus'"}`)
	wantBody(t, e.save(`[{"key":"k3","value":1,"options":{"consistency":"bogus"}}]`, nil), 500,
		`{"errorCode":"ERR_STATE_SAVE","message":"failed saving state in state store statestore: unrecognized consistency model 'bogus'"}`)
	// Both bad: state.CheckRequestOptions checks consistency first.
	wantBody(t, e.save(`[{"key":"k3","value":1,"options":{"concurrency":"bogus","consistency":"bogus2"}}]`, nil), 500,
		`{"errorCode":"ERR_STATE_SAVE","message":"failed saving state in state store statestore: unrecognized consistency model 'bogus2'"}`)
	e.mustSave(`[{"key":"k9","value":1,"options":{"consistency":"strong","concurrency":"last-write"}}]`)
	if opts.InMemoryTexts {
		wantBody(t, e.del("k9", "", "", "bogus"), 500,
			`{"errorCode":"ERR_STATE_DELETE","message":"failed deleting state with key k9: unrecognized consistency model 'bogus'"}`)
		wantBody(t, e.del("k9", "", "bogus", "bogus2"), 500,
			`{"errorCode":"ERR_STATE_DELETE","message":"failed deleting state with key k9: unrecognized consistency model 'bogus2'"}`)
	}
	if has(e.store, component.FeatureTransactional) {
		wantBody(t, e.tx(`{"operations":[{"operation":"upsert","request":{"key":"k9","options":{"concurrency":"bogus","consistency":"bogus2"}}}]}`, nil), 500,
			`{"errorCode":"ERR_STATE_TRANSACTION","message":"error while executing state transaction: unrecognized consistency model 'bogus2'"}`)
	}
	var out api.GetResult
	noErr(t, e.s.HTTPGet(e.ctx, []byte(storeName), []byte("k9"), []byte("bogus"), nil, &out))
	if !out.Found {
		t.Fatal("get with consistency=bogus: not found")
	}
}

// §13.13: keys containing "||" on every route.
func testIllegalKey(t *testing.T, newStore func(t *testing.T) component.Store, opts Options) {
	e := newEnv(t, newStore, opts, nil)
	var out api.GetResult
	wantBody(t, e.s.HTTPGet(e.ctx, []byte(storeName), []byte("a||b"), nil, nil, &out), 400, illegalBody)
	wantBody(t, e.del("a||b", "", "", ""), 400, illegalBody)
	wantBody(t, e.save(`[{"key":"a||b","value":1}]`, nil), 400, illegalBody)
	_, err := e.bulk(`{"keys":["ok","a||b"]}`)
	wantBody(t, err, 400, illegalBody)
	if has(e.store, component.FeatureTransactional) {
		wantBody(t, e.tx(`{"operations":[{"operation":"upsert","request":{"key":"a||b","value":1}}]}`, nil), 400, illegalTxBody)
	}
}

// §13.14: delete.
func testDelete(t *testing.T, newStore func(t *testing.T) component.Store, opts Options) {
	e := newEnv(t, newStore, opts, nil)
	noErr(t, e.del("missing", "", "", ""))
	e.mustSave(`[{"key":"d","value":1}]`)
	if etagRules(e.store, opts) {
		err := e.del("missing", wrong(opts, "nope"), "", "")
		wantErr(t, err, 409, "ERR_STATE_DELETE", "failed deleting state with key missing: possible etag mismatch. error from state store: ")
		if opts.InMemoryTexts {
			wantBody(t, err, 409, `{"errorCode":"ERR_STATE_DELETE","message":"failed deleting state with key missing: possible etag mismatch. error from state store: state not exist or expired for key=myapp||missing"}`)
		}
		cur := e.etag("d")
		err = e.del("d", wrong(opts, "nope"), "", "")
		wantErr(t, err, 409, "ERR_STATE_DELETE", "failed deleting state with key d: possible etag mismatch. error from state store: ")
		if opts.InMemoryTexts {
			wantBody(t, err, 409, `{"errorCode":"ERR_STATE_DELETE","message":"failed deleting state with key d: possible etag mismatch. error from state store: state etag not match for key=myapp||d: current=`+cur+`, expect=nope"}`)
		}
		if !e.get("d").Found {
			t.Fatal("d deleted by a failed delete")
		}
		noErr(t, e.del("d", cur, "", ""))
		if e.get("d").Found {
			t.Fatal("d not deleted")
		}
	}
	// Empty If-Match = none.
	e.mustSave(`[{"key":"d2","value":1}]`)
	noErr(t, e.del("d2", "", "", ""))
	if e.get("d2").Found {
		t.Fatal("d2 not deleted")
	}
	// The typed bulk delete.
	e.mustSave(`[{"key":"b1","value":1},{"key":"b2","value":2}]`)
	noErr(t, e.s.BulkDelete(e.ctx, storeName, []api.Item{{Key: "b1"}, {Key: "b2"}, {Key: "b3"}}))
	if e.get("b1").Found || e.get("b2").Found {
		t.Fatal("bulk delete left keys")
	}
}

// §13.15–§13.17, §8.5: transactions.
func testTransaction(t *testing.T, newStore func(t *testing.T) component.Store, opts Options) {
	st := newStore(t)
	t.Cleanup(func() { _ = st.Close() })
	if !has(st, component.FeatureTransactional) {
		t.Skip("store has no TRANSACTIONAL")
	}
	rec := &recording{Store: st}
	e := newEnvOver(t, rec, opts, storeName, nil)
	e.mustSave(`[{"key":"k9","value":1}]`)
	noErr(t, e.tx(`{"operations":[{"operation":"upsert","request":{"key":"t1","value":"newValue1"}},{"operation":"delete","request":{"key":"k9"}}]}`, nil))
	got, err := e.bulk(`{"keys":["t1","k9"]}`)
	noErr(t, err)
	if !strings.HasPrefix(got, `[{"key":"t1","data":"newValue1"`) || !strings.HasSuffix(got, "},{\"key\":\"k9\"}]\n") {
		t.Fatalf("after transaction: %s", got)
	}
	// Operation names are case-sensitive; checked in order.
	wantBody(t, e.tx(`{"operations":[{"operation":"UPSERT","request":{"key":"t1"}}]}`, nil), 400,
		`{"errorCode":"ERR_NOT_SUPPORTED_STATE_OPERATION","message":"operation type UPSERT not supported"}`)
	wantBody(t, e.tx(`{"operations":[{"operation":"upsert","request":{"key":"t1"}},{"operation":"merge","request":{"key":"t1"}}]}`, nil), 400,
		`{"errorCode":"ERR_NOT_SUPPORTED_STATE_OPERATION","message":"operation type merge not supported"}`)
	// Wrong ETag → 500, and nothing of the transaction applies.
	if etagRules(st, opts) {
		err := e.tx(`{"operations":[{"operation":"upsert","request":{"key":"t2","value":1}},{"operation":"upsert","request":{"key":"t1","value":1,"etag":"`+wrong(opts, "bad")+`"}}]}`, nil)
		wantErr(t, err, 500, "ERR_STATE_TRANSACTION", "error while executing state transaction: possible etag mismatch. error from state store: ")
		if opts.InMemoryTexts {
			wantBody(t, err, 500, `{"errorCode":"ERR_STATE_TRANSACTION","message":"error while executing state transaction: possible etag mismatch. error from state store: state etag not match for key=myapp||t1: current=`+e.etag("t1")+`, expect=bad"}`)
		}
		if e.get("t2").Found {
			t.Fatal("t2 written by a failed transaction")
		}
		// Right ETag works.
		noErr(t, e.tx(`{"operations":[{"operation":"upsert","request":{"key":"t1","value":2,"etag":"`+e.etag("t1")+`"}}]}`, nil))
	}
	// Op without request: the empty key is upserted with null.
	noErr(t, e.tx(`{"operations":[{"operation":"upsert"}]}`, nil))
	if r := e.get(""); !r.Found || string(r.Data) != "null" {
		t.Fatalf("empty-key upsert: found=%v data=%q", r.Found, r.Data)
	}
	noErr(t, e.tx(`{"operations":[{"operation":"delete","request":null}]}`, nil))
	if e.get("").Found {
		t.Fatal("empty-key delete did not delete")
	}
	// Empty operations: no store call.
	rec.last = nil
	noErr(t, e.tx(`{}`, nil))
	noErr(t, e.tx(`{"operations":[]}`, nil))
	if rec.last != nil {
		t.Fatal("store called for an empty transaction")
	}
	// Metadata: per-op metadata + URL metadata (URL wins); body metadata is
	// transaction-level only.
	noErr(t, e.tx(`{"operations":[{"operation":"upsert","request":{"key":"m","value":1,"metadata":{"a":"op","b":"op"}}}],"metadata":{"c":"body","b":"body"}}`, api.Metadata{"b": "url"}))
	if rec.last == nil {
		t.Fatal("store not called")
	}
	if got := rec.last.Operations[0].Set.Metadata; len(got) != 2 || got["a"] != "op" || got["b"] != "url" {
		t.Fatalf("op metadata %v", got)
	}
	if got := rec.last.Metadata; len(got) != 2 || got["c"] != "body" || got["b"] != "url" {
		t.Fatalf("transaction metadata %v", got)
	}
	// Field names of request are case-insensitive; values canonicalised.
	noErr(t, e.tx(`{"operations":[{"operation":"upsert","request":{"KEY":"ci","VALUE":{"b":1,"a":2.50}}}]}`, nil))
	if r := e.get("ci"); string(r.Data) != `{"a":2.5,"b":1}` {
		t.Fatalf("ci = %s", r.Data)
	}
	// §13.16: store without TRANSACTIONAL, even with a garbage body.
	e2 := newEnvOver(t, restricted{Store: st, noTx: true}, opts, storeName, nil)
	wantBody(t, e2.tx(`garbage`, nil), 500, `{"errorCode":"ERR_STATE_STORE_NOT_SUPPORTED","message":"state store statestore doesn't support transactions","details":[{"@type":"type.googleapis.com/google.rpc.Help","links":[{"description":"Check the list of state stores and the features they support","url":"https://docs.dapr.io/reference/components-reference/supported-state-stores/"}]},{"@type":"type.googleapis.com/google.rpc.ResourceInfo","description":"","owner":"","resource_name":"statestore","resource_type":"state"},{"@type":"type.googleapis.com/google.rpc.ErrorInfo","domain":"dapr.io","metadata":null,"reason":"DAPR_STATE_TRANSACTIONS_NOT_SUPPORTED"}]}`)
	// Too many operations.
	e3 := newEnvOver(t, maxOps{Store: st, n: 2}, opts, "s", nil)
	err = e3.s.HTTPTransaction(e3.ctx, []byte("s"), []byte(`{"operations":[{"operation":"upsert","request":{"key":"1"}},{"operation":"upsert","request":{"key":"2"}},{"operation":"upsert","request":{"key":"3"}},{"operation":"upsert","request":{"key":"4"}},{"operation":"upsert","request":{"key":"5"}}]}`), false, nil)
	wantBody(t, err, 400, `{"errorCode":"ERR_STATE_STORE_TOO_MANY_TRANSACTIONS","message":"the transaction contains 5 operations, which is more than what the state store supports: 2","details":[{"@type":"type.googleapis.com/google.rpc.ResourceInfo","description":"","owner":"","resource_name":"s","resource_type":"state"},{"@type":"type.googleapis.com/google.rpc.ErrorInfo","domain":"dapr.io","metadata":{"currentOpsTransaction":"5","maxOpsPerTransaction":"2"},"reason":"DAPR_STATE_TOO_MANY_TRANSACTIONS"}]}`)
}

// §8.5: transaction body decoding (mapstructure texts).
func testTransactionDecode(t *testing.T, newStore func(t *testing.T) component.Store, opts Options) {
	e := newEnv(t, newStore, opts, nil)
	if !has(e.store, component.FeatureTransactional) {
		t.Skip("store has no TRANSACTIONAL")
	}
	f := func(body, msg string) {
		t.Helper()
		wantBody(t, e.tx(body, nil), 400, malformed("failed deserializing HTTP body: "+msg))
	}
	f(``, "EOF")
	f(`x`, "invalid character 'x' looking for beginning of value")
	f(`{"operations":{}}`, "json: cannot unmarshal object into Go struct field stateTransactionRequestBody.operations of type []http.stateTransactionRequestBodyOperation")
	f(`{"operations":[{"operation":"upsert","request":{"key":"t1","value":1,"etag":5}}]}`, "1 error(s) decoding:\n\n* 'ETag' expected type 'string', got unconvertible type 'float64', value: '5'")
	f(`{"operations":[{"operation":"upsert","request":{"key":"t1","value":1,"metadata":{"a":1}}}]}`, "1 error(s) decoding:\n\n* 'Metadata[a]' expected type 'string', got unconvertible type 'float64', value: '1'")
	f(`{"operations":[{"operation":"upsert","request":{"key":true,"etag":[1,2],"options":{"concurrency":1.5}}}]}`,
		"3 error(s) decoding:\n\n* 'ETag' expected type 'string', got unconvertible type '[]interface {}', value: '[1 2]'\n* 'Key' expected type 'string', got unconvertible type 'bool', value: 'true'\n* 'Options.Concurrency' expected type 'string', got unconvertible type 'float64', value: '1.5'")
	f(`{"operations":[{"operation":"delete","request":"k"}]}`, "'' expected a map, got 'string'")
	f(`{"operations":[{"operation":"delete","request":[1]}]}`, "'' expected a map, got 'slice'")
	f(`{"operations":[{"operation":"delete","request":{"key":"k","metadata":"x"}}]}`, "1 error(s) decoding:\n\n* 'Metadata' expected a map, got 'string'")
	f(`{"operations":[{"operation":"delete","request":{"key":"k","options":5}}]}`, "1 error(s) decoding:\n\n* 'Options' expected a map, got 'float64'")
	f(`{"operations":[{"operation":"upsert","request":{"key":"k","metadata":{"x":{"y":1}}}}]}`, "1 error(s) decoding:\n\n* 'Metadata[x]' expected type 'string', got unconvertible type 'map[string]interface {}', value: 'map[y:1]'")
}

// §13.18, §7: TTL.
func testTTL(t *testing.T, newStore func(t *testing.T) component.Store, opts Options) {
	e := newEnv(t, newStore, opts, nil)
	if !has(e.store, component.FeatureTTL) {
		t.Skip("store has no TTL")
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	before := now()
	noErr(t, e.save(`[{"key":"ttl1","value":"t"}]`, api.Metadata{"ttlInSeconds": "100"}))
	r := e.get("ttl1")
	if !r.Found {
		t.Fatal("ttl1 not found right after the save")
	}
	if opts.TTLQuirks {
		t.Skip("TTLQuirks: no ttlExpireTime / expiry rules to check")
	}
	exp, err := time.Parse(time.RFC3339, string(r.TTLExpireTime))
	if err != nil || !strings.HasSuffix(string(r.TTLExpireTime), "Z") || len(r.TTLExpireTime) != 20 {
		t.Fatalf("ttlExpireTime %q: not RFC 3339 UTC seconds (%v)", r.TTLExpireTime, err)
	}
	if lo, hi := before.Add(99*time.Second), now().Add(101*time.Second); exp.Before(lo) || exp.After(hi) {
		t.Fatalf("ttlExpireTime %s not ~100s after %s", exp, before)
	}
	got, aerr := e.bulk(`{"keys":["ttl1"]}`)
	noErr(t, aerr)
	if !strings.Contains(got, `,"metadata":{"ttlExpireTime":"`+string(r.TTLExpireTime)+`"}}`) {
		t.Fatalf("bulk ttl: %s", got)
	}
	items, aerr := e.s.BulkGet(e.ctx, storeName, []string{"ttl1"}, 0, nil)
	noErr(t, aerr)
	if items[0].Metadata["ttlExpireTime"] != string(r.TTLExpireTime) {
		t.Fatalf("typed bulk ttl: %v", items[0].Metadata)
	}
	// Item-level metadata works too; -1 and 0 mean no expiry; a rewrite
	// without TTL removes the expiry.
	noErr(t, e.save(`[{"key":"ttl2","value":1,"metadata":{"ttlInSeconds":"5"}}]`, nil))
	if len(e.get("ttl2").TTLExpireTime) == 0 {
		t.Fatal("item-level ttlInSeconds ignored")
	}
	noErr(t, e.save(`[{"key":"ttl2","value":1}]`, nil))
	if len(e.get("ttl2").TTLExpireTime) != 0 {
		t.Fatal("rewrite without TTL kept the expiry")
	}
	noErr(t, e.save(`[{"key":"ttl3","value":1,"metadata":{"ttlInSeconds":"-1"}}]`, nil))
	if len(e.get("ttl3").TTLExpireTime) != 0 {
		t.Fatal("ttlInSeconds=-1 set an expiry")
	}
	// An empty ttlInSeconds is no ttlInSeconds (every daprd store reads
	// it with `found && val != ""`): the save succeeds, sets no expiry, and
	// a rewrite with it removes one, in a transaction too.
	noErr(t, e.save(`[{"key":"ttl4","value":1,"metadata":{"ttlInSeconds":"5"}}]`, nil))
	noErr(t, e.save(`[{"key":"ttl4","value":2,"metadata":{"ttlInSeconds":""}}]`, nil))
	if r := e.get("ttl4"); !r.Found || len(r.TTLExpireTime) != 0 {
		t.Fatalf("empty item ttlInSeconds: found %v, ttlExpireTime %q", r.Found, r.TTLExpireTime)
	}
	noErr(t, e.save(`[{"key":"ttl5","value":1}]`, api.Metadata{"ttlInSeconds": ""}))
	if r := e.get("ttl5"); !r.Found || len(r.TTLExpireTime) != 0 {
		t.Fatalf("empty URL ttlInSeconds: found %v, ttlExpireTime %q", r.Found, r.TTLExpireTime)
	}
	if has(e.store, component.FeatureTransactional) {
		noErr(t, e.tx(`{"operations":[{"operation":"upsert","request":{"key":"ttl6","value":1,"metadata":{"ttlInSeconds":""}}}]}`, nil))
		if r := e.get("ttl6"); !r.Found || len(r.TTLExpireTime) != 0 {
			t.Fatalf("empty transaction ttlInSeconds: found %v, ttlExpireTime %q", r.Found, r.TTLExpireTime)
		}
	}
	err2 := e.save(`[{"key":"k3","value":1}]`, api.Metadata{"ttlInSeconds": "abc"})
	wantErr(t, err2, 500, "ERR_STATE_SAVE", "failed saving state in state store statestore: ")
	if opts.InMemoryTexts {
		wantBody(t, err2, 500, `{"errorCode":"ERR_STATE_SAVE","message":"failed saving state in state store statestore: strconv.Atoi: parsing \"abc\": invalid syntax"}`)
	}
	// §13.17: body-level transaction metadata does not set a TTL; URL does.
	if has(e.store, component.FeatureTransactional) {
		noErr(t, e.tx(`{"operations":[{"operation":"upsert","request":{"key":"tx1","value":1}}],"metadata":{"ttlInSeconds":"100"}}`, nil))
		if len(e.get("tx1").TTLExpireTime) != 0 {
			t.Fatal("transaction body metadata set a TTL")
		}
		noErr(t, e.tx(`{"operations":[{"operation":"upsert","request":{"key":"tx2","value":1}}]}`, api.Metadata{"ttlInSeconds": "100"}))
		if len(e.get("tx2").TTLExpireTime) == 0 {
			t.Fatal("transaction URL metadata did not set a TTL")
		}
	}
	if opts.Advance == nil {
		return
	}
	opts.Advance(101 * time.Second)
	if r := e.get("ttl1"); r.Found {
		t.Fatal("ttl1 visible after expiry")
	}
	got, aerr = e.bulk(`{"keys":["ttl1"]}`)
	noErr(t, aerr)
	if got != "[{\"key\":\"ttl1\"}]\n" {
		t.Fatalf("bulk after expiry: %s", got)
	}
	if etagRules(e.store, opts) {
		// An expired key no longer exists for ETag checks.
		err := e.save(`[{"key":"tx2","value":1,"etag":"1"}]`, nil)
		wantErr(t, err, 409, "ERR_STATE_SAVE", "failed saving state in state store statestore: possible etag mismatch")
		e.mustSave(`[{"key":"ttl1","value":1,"options":{"concurrency":"first-write"}}]`)
	}
}

// §13.19, §4: key prefixes.
func testKeyPrefix(t *testing.T, newStore func(t *testing.T) component.Store, opts Options) {
	st := newStore(t)
	t.Cleanup(func() { _ = st.Close() })
	for _, tc := range []struct{ prefix, stored string }{
		{"", "||kp"}, {"appid", "myapp||kp"}, {"AppID", "myapp||kp"}, {"name", "byname||kp"},
		{"namespace", "myapp||kp"}, {"none", "kp"}, {"MyPrefix", "myprefix||kp"},
	} {
		meta := map[string]string{"KEYPREFIX": tc.prefix}
		e := newEnvOver(t, st, opts, "byname", meta)
		noErr(t, e.s.HTTPSave(e.ctx, []byte("byname"), []byte(`[{"key":"kp","value":"`+tc.prefix+`"}]`), false, nil))
		var resp component.GetResponse
		if err := st.Get(e.ctx, &component.GetRequest{Key: []byte(tc.stored)}, &resp); err != nil || !resp.Found || string(resp.Data) != `"`+tc.prefix+`"` {
			t.Fatalf("keyPrefix %q: stored key %s: found=%v data=%s err=%v", tc.prefix, tc.stored, resp.Found, resp.Data, err)
		}
		out, aerr := e.s.HTTPBulkGet(e.ctx, []byte("byname"), []byte(`{"keys":["kp"]}`), false, nil, nil)
		noErr(t, aerr)
		if !strings.HasPrefix(string(out), `[{"key":"kp","data":"`+tc.prefix+`"`) {
			t.Fatalf("keyPrefix %q: bulk %s", tc.prefix, out)
		}
	}
	if _, err := api.New(api.Config{AppID: appID, DisableMetrics: true, Stores: []api.StoreEntry{{
		Spec: component.Spec{Name: "bad", Metadata: map[string]string{"keyPrefix": "a||b"}}, Store: st}}}); err == nil {
		t.Fatal("keyPrefix with || accepted")
	}
	s, err := api.New(api.Config{AppID: appID, Namespace: "default", DisableMetrics: true, Stores: []api.StoreEntry{{
		Spec: component.Spec{Name: "ns", Metadata: map[string]string{"keyPrefix": "namespace"}}, Store: st}}})
	if err != nil {
		t.Fatal(err)
	}
	noErr(t, s.HTTPSave(context.Background(), []byte("ns"), []byte(`[{"key":"kp","value":1}]`), false, nil))
	var resp component.GetResponse
	if err := st.Get(context.Background(), &component.GetRequest{Key: []byte("default.myapp||kp")}, &resp); err != nil || !resp.Found {
		t.Fatalf("namespace prefix: found=%v err=%v", resp.Found, err)
	}
}

// §13.22: store lookup errors on every route.
func testStoreLookup(t *testing.T, newStore func(t *testing.T) component.Store, opts Options) {
	e := newEnv(t, newStore, opts, nil)
	ctx := context.Background()
	nf := `{"errorCode":"ERR_STATE_STORE_NOT_FOUND","message":"state store nostore is not found","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","domain":"dapr.io","metadata":{"appID":"myapp"},"reason":"DAPR_STATE_NOT_FOUND"}]}`
	nfQuery := `{"errorCode":"ERR_STATE_STORE_NOT_FOUND","message":"state store nostore is not found","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","domain":"dapr.io","metadata":null,"reason":"DAPR_STATE_NOT_FOUND"}]}`
	check := func(s *api.State, body, queryBody string, status int) {
		t.Helper()
		n := []byte("nostore")
		var out api.GetResult
		wantBody(t, s.HTTPGet(ctx, n, []byte("k"), nil, nil, &out), status, body)
		wantBody(t, s.HTTPSave(ctx, n, []byte(`garbage`), true, nil), status, body)
		_, err := s.HTTPBulkGet(ctx, n, nil, false, nil, nil)
		wantBody(t, err, status, body)
		wantBody(t, s.HTTPDelete(ctx, n, []byte("a||b"), nil, nil, nil, nil), status, body)
		wantBody(t, s.HTTPTransaction(ctx, n, nil, false, nil), status, body)
		_, _, err = s.HTTPQuery(ctx, n, nil, false, nil, nil)
		wantBody(t, err, status, queryBody)
		_, err = s.Get(ctx, "nostore", "k", "", nil)
		wantBody(t, err, status, body)
	}
	check(e.s, nf, nfQuery, 400)
	empty, err := api.New(api.Config{AppID: "emptyapp", DisableMetrics: true})
	if err != nil {
		t.Fatal(err)
	}
	nc := `{"errorCode":"ERR_STATE_STORE_NOT_CONFIGURED","message":"state store nostore is not configured","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","domain":"dapr.io","metadata":{"appID":"emptyapp"},"reason":"DAPR_STATE_NOT_CONFIGURED"}]}`
	ncQuery := `{"errorCode":"ERR_STATE_STORE_NOT_CONFIGURED","message":"state store nostore is not configured","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","domain":"dapr.io","metadata":null,"reason":"DAPR_STATE_NOT_CONFIGURED"}]}`
	check(empty, nc, ncQuery, 500)
	// gRPC rendering: no appID metadata, codes per state-grpc.md §4.
	_, aerr := e.s.Get(ctx, "nostore", "k", "", nil)
	st := aerr.GRPCStatus()
	if st.Code() != codes.InvalidArgument || st.Message() != "state store nostore is not found" {
		t.Fatalf("gRPC not found: %v %q", st.Code(), st.Message())
	}
	if ei := st.Details()[0].(*errdetails.ErrorInfo); ei.Reason != "DAPR_STATE_NOT_FOUND" || len(ei.Metadata) != 0 || ei.Domain != "dapr.io" {
		t.Fatalf("gRPC not found details: %v", ei)
	}
	_, aerr = empty.Get(ctx, "nostore", "k", "", nil)
	if st := aerr.GRPCStatus(); st.Code() != codes.FailedPrecondition {
		t.Fatalf("gRPC not configured: %v", st.Code())
	}
}

// §13.23, §8.6: query.
func testQuery(t *testing.T, newStore func(t *testing.T) component.Store, opts Options) {
	st := newStore(t)
	t.Cleanup(func() { _ = st.Close() })
	e := newEnvOver(t, st, opts, storeName, nil)
	ctx := context.Background()
	q := func(body string) (string, bool, *api.Error) {
		out, none, err := e.s.HTTPQuery(ctx, []byte(storeName), []byte(body), false, nil, nil)
		return string(out), none, err
	}
	if _, ok := st.(component.Querier); !ok || !has(st, component.FeatureQueryAPI) {
		_, _, err := q(`{"filter":{}}`)
		wantErr(t, err, 500, "ERR_STATE_STORE_NOT_SUPPORTED", "state store does not support querying")
		t.Skip("store has no QUERY_API")
	}
	e2 := newEnvOver(t, restricted{Store: st}, opts, storeName, nil)
	_, _, err := e2.s.HTTPQuery(ctx, []byte(storeName), []byte(`{}`), false, nil, nil)
	wantBody(t, err, 500, `{"errorCode":"ERR_STATE_STORE_NOT_SUPPORTED","message":"state store does not support querying","details":[{"@type":"type.googleapis.com/google.rpc.ResourceInfo","description":"","owner":"","resource_name":"statestore","resource_type":"state"},{"@type":"type.googleapis.com/google.rpc.ErrorInfo","domain":"dapr.io","metadata":null,"reason":"DAPR_STATE_QUERYING_NOT_SUPPORTED"}]}`)
	_, _, err = q(`{"filter":{"AND":[{"EQ":{"a":1}}]}}`)
	wantBody(t, err, 500, `{"errorCode":"ERR_STATE_QUERY","message":"state store statestore query failed: failed to parse JSON query body: AND filter must contain at least two entries","details":[{"@type":"type.googleapis.com/google.rpc.ResourceInfo","description":"","owner":"","resource_name":"statestore","resource_type":"state"},{"@type":"type.googleapis.com/google.rpc.ErrorInfo","domain":"dapr.io","metadata":null,"reason":"DAPR_STATE_QUERY_FAILED"}]}`)
	_, _, err = q(``)
	wantErr(t, err, 500, "ERR_STATE_QUERY", "state store statestore query failed: failed to parse JSON query body: unexpected end of JSON input")
	e.mustSave(`[{"key":"q1","value":{"qtest":"x","city":"Seattle","person":{"id":1036,"org":"Dev Ops"},"state":"WA"}},` +
		`{"key":"q2","value":{"qtest":"x","city":"Spokane","person":{"id":1100,"org":"Finance"},"state":"WA"}},` +
		`{"key":"q3","value":{"qtest":"x","city":"Portland","person":{"id":1200,"org":"Dev Ops"},"state":"OR"}}]`)
	// check parses a response and asserts its keys, token and the canonical
	// data of the first result.
	check := func(query, wantKeys, wantToken, wantFirst string) {
		t.Helper()
		got, none, err := q(query)
		noErr(t, err)
		if none || !strings.HasSuffix(got, "}\n") {
			t.Fatalf("query %s: none=%v body %q", query, none, got)
		}
		var resp struct {
			Results []struct {
				Key  string          `json:"key"`
				Data json.RawMessage `json:"data"`
				ETag string          `json:"etag"`
			} `json:"results"`
			Token string `json:"token"`
		}
		if err := json.Unmarshal([]byte(got), &resp); err != nil {
			t.Fatalf("query %s: bad JSON %s: %v", query, got, err)
		}
		var keys []string
		for _, r := range resp.Results {
			keys = append(keys, r.Key)
			if has(st, component.FeatureETag) && r.ETag == "" {
				t.Fatalf("query %s: result %s without etag", query, r.Key)
			}
		}
		if strings.Join(keys, ",") != wantKeys || resp.Token != wantToken {
			t.Fatalf("query %s: keys %v token %q, want %s token %q", query, keys, resp.Token, wantKeys, wantToken)
		}
		if first, err := api.Canonicalize(nil, resp.Results[0].Data); err != nil || string(first) != wantFirst {
			t.Fatalf("query %s: first data %s, want %s", query, resp.Results[0].Data, wantFirst)
		}
	}
	check(`{"filter":{"AND":[{"EQ":{"qtest":"x"}},{"EQ":{"state":"WA"}}]},"sort":[{"key":"person.id","order":"DESC"}],"page":{"limit":1}}`,
		"q2", "1", `{"city":"Spokane","person":{"id":1100,"org":"Finance"},"qtest":"x","state":"WA"}`)
	check(`{"filter":{"AND":[{"EQ":{"qtest":"x"}},{"EQ":{"state":"WA"}}]},"sort":[{"key":"person.id","order":"DESC"}],"page":{"limit":1,"token":"1"}}`,
		"q1", "2", `{"city":"Seattle","person":{"id":1036,"org":"Dev Ops"},"qtest":"x","state":"WA"}`)
	check(`{"filter":{"AND":[{"EQ":{"qtest":"x"}},{"IN":{"person.org":["Dev Ops"]}}]},"sort":[{"key":"city"}]}`,
		"q3,q1", "", `{"city":"Portland","person":{"id":1200,"org":"Dev Ops"},"qtest":"x","state":"OR"}`)
	if !opts.ValuesNotVerbatim {
		got, _, err := q(`{"filter":{"EQ":{"city":"Seattle"}}}`)
		noErr(t, err)
		if want := `{"results":[{"key":"q1","data":{"city":"Seattle","person":{"id":1036,"org":"Dev Ops"},"qtest":"x","state":"WA"}`; !strings.HasPrefix(got, want) {
			t.Fatalf("query bytes:\n got %s\nwant %s...", got, want)
		}
	}
	_, none, err := q(`{"filter":{"EQ":{"state":"NY"}}}`)
	noErr(t, err)
	if !none {
		t.Fatal("query without matches: want noResults (204)")
	}
	res, aerr := e.s.Query(ctx, storeName, []byte(`{"filter":{"EQ":{"state":"NY"}}}`), nil)
	noErr(t, aerr)
	if len(res.Results) != 0 {
		t.Fatalf("typed query: %v", res.Results)
	}
}

// §13.24, §2.2: JSON decoding details.
func testJSONDecoding(t *testing.T, newStore func(t *testing.T) component.Store, opts Options) {
	e := newEnv(t, newStore, opts, nil)
	e.mustSave(`[{"KEY":"ci","Value":1}]`)
	if r := e.get("ci"); string(r.Data) != "1" {
		t.Fatalf("case-insensitive fields: %q", r.Data)
	}
	e.mustSave(`[{"key":"tg","value":1}] trailing garbage`)
	if r := e.get("tg"); string(r.Data) != "1" {
		t.Fatalf("trailing garbage: %q", r.Data)
	}
	e.mustSave(`[{"key":"dup","value":1,"value":2,"key":"dup2"}]`)
	if r := e.get("dup2"); string(r.Data) != "2" || e.get("dup").Found {
		t.Fatalf("duplicate fields: %q", r.Data)
	}
	e.mustSave(`[{"key":"unk","value":1,"unknown":{"x":[1]}}]`)
	got, err := e.bulk(`{"KEYS":["unk"]} {`)
	noErr(t, err)
	if !strings.HasPrefix(got, `[{"key":"unk","data":1`) {
		t.Fatalf("bulk case-insensitive: %s", got)
	}
}

// §13.25: body too large.
func testBodyTooLarge(t *testing.T, newStore func(t *testing.T) component.Store, opts Options) {
	e := newEnv(t, newStore, opts, nil)
	ctx := context.Background()
	n := []byte(storeName)
	wantBody(t, e.s.HTTPSave(ctx, n, nil, true, nil), 400, malformed("stream too large"))
	_, err := e.s.HTTPBulkGet(ctx, n, nil, true, nil, nil)
	wantBody(t, err, 400, malformed("failed deserializing HTTP body: stream too large"))
	if has(e.store, component.FeatureTransactional) {
		wantBody(t, e.s.HTTPTransaction(ctx, n, nil, true, nil), 400, malformed("failed deserializing HTTP body: stream too large"))
	}
	// Query: daprd's handler reads the body (io.ReadAll) before anything
	// else, even for a store that is unknown or cannot query, and answers
	// messages.ErrBodyRead.
	const bodyRead = `{"errorCode":"ERR_BODY_READ","message":"failed to read request body: stream too large"}`
	for _, st := range []string{storeName, "nostore"} {
		_, _, err = e.s.HTTPQuery(ctx, []byte(st), nil, true, nil, nil)
		wantBody(t, err, 400, bodyRead)
	}
}

// §3.2: generic store failures on every route.
func testStoreFailures(t *testing.T, _ func(t *testing.T) component.Store, opts Options) {
	e := newEnvOver(t, failingStore{}, opts, storeName, nil)
	ctx := context.Background()
	n := []byte(storeName)
	var out api.GetResult
	wantBody(t, e.s.HTTPGet(ctx, n, []byte("k"), nil, nil, &out), 500, `{"errorCode":"ERR_STATE_GET","message":"fail to get k from state store statestore: boom"}`)
	wantBody(t, e.save(`[{"key":"k"}]`, nil), 500, `{"errorCode":"ERR_STATE_SAVE","message":"failed saving state in state store statestore: boom"}`)
	_, err := e.bulk(`{"keys":["k"]}`)
	wantBody(t, err, 500, `{"errorCode":"ERR_STATE_BULK_GET","message":"boom"}`)
	wantBody(t, e.del("k", "", "", ""), 500, `{"errorCode":"ERR_STATE_DELETE","message":"failed deleting state with key k: boom"}`)
	wantBody(t, e.tx(`{"operations":[{"operation":"delete","request":{"key":"k"}}]}`, nil), 500, `{"errorCode":"ERR_STATE_TRANSACTION","message":"error while executing state transaction: boom"}`)
	_, _, err = e.s.HTTPQuery(ctx, n, []byte(`{}`), false, nil, nil)
	wantBody(t, err, 500, `{"errorCode":"ERR_STATE_QUERY","message":"state store statestore query failed: boom","details":[{"@type":"type.googleapis.com/google.rpc.ResourceInfo","description":"","owner":"","resource_name":"statestore","resource_type":"state"},{"@type":"type.googleapis.com/google.rpc.ErrorInfo","domain":"dapr.io","metadata":null,"reason":"DAPR_STATE_QUERY_FAILED"}]}`)
	// gRPC codes.
	for _, c := range []struct {
		err  *api.Error
		code codes.Code
		msg  string
	}{
		{e.s.Save(ctx, storeName, []api.Item{{Key: "k"}}), codes.Internal, "failed saving state in state store statestore: boom"},
		{e.s.Delete(ctx, storeName, api.Item{Key: "k"}), codes.Internal, "failed deleting state with key k: boom"},
		{e.s.BulkDelete(ctx, storeName, []api.Item{{Key: "k"}}), codes.Internal, "failed deleting state in state store statestore: boom"},
		{e.s.Transaction(ctx, storeName, []api.TxOp{{Operation: "delete", Item: api.Item{Key: "k"}}}, nil), codes.Internal, "error while executing state transaction: boom"},
	} {
		st := c.err.GRPCStatus()
		if st.Code() != c.code || st.Message() != c.msg {
			t.Fatalf("gRPC: got %v %q, want %v %q", st.Code(), st.Message(), c.code, c.msg)
		}
		if ei, ok := st.Details()[0].(*errdetails.ErrorInfo); !ok || ei.Reason != c.err.ErrorCode() {
			t.Fatalf("gRPC details %v", st.Details())
		}
	}
	_, aerr := e.s.BulkGet(ctx, storeName, []string{"k"}, 0, nil)
	if st := aerr.GRPCStatus(); st.Code() != codes.Unknown || st.Message() != "boom" {
		t.Fatalf("gRPC bulk get: %v %q", st.Code(), st.Message())
	}
	_, aerr = e.s.Get(ctx, storeName, "k", "", nil)
	if st := aerr.GRPCStatus(); st.Code() != codes.Internal {
		t.Fatalf("gRPC get: %v", st.Code())
	}
}

// §9: components and capabilities.
func testCapabilities(t *testing.T, newStore func(t *testing.T) component.Store, opts Options) {
	e := newEnv(t, newStore, opts, nil)
	cs := e.s.Components()
	if len(cs) != 1 || cs[0].Name != storeName || cs[0].Type != "state.test" {
		t.Fatalf("components %+v", cs)
	}
	want := component.Capabilities(e.store.Features())
	if fmt.Sprint(cs[0].Capabilities) != fmt.Sprint(want) {
		t.Fatalf("capabilities %v, want %v", cs[0].Capabilities, want)
	}
}

// state-grpc.md §4: typed family semantics.
func testTyped(t *testing.T, newStore func(t *testing.T) component.Store, opts Options) {
	e := newEnv(t, newStore, opts, nil)
	ctx := context.Background()
	noErr(t, e.s.Save(ctx, storeName, []api.Item{{Key: "g1", Value: []byte("hello")}}))
	r, err := e.s.Get(ctx, storeName, "g1", "", nil)
	noErr(t, err)
	if !r.Found || string(r.Data) != "hello" {
		t.Fatalf("typed get: %v %q", r.Found, r.Data)
	}
	// HTTP GET returns raw bytes verbatim.
	if hr := e.get("g1"); string(hr.Data) != "hello" {
		t.Fatalf("HTTP get of raw value: %q", hr.Data)
	}
	noErr(t, e.s.Save(ctx, storeName, []api.Item{{Key: "g2", Value: []byte(`{"b": 1, "a": 2}`), Metadata: api.Metadata{"contentType": "application/json"}}}))
	if r := e.get("g2"); string(r.Data) != `{"a":2,"b":1}` {
		t.Fatalf("typed get json: %q", r.Data)
	}
	r, err = e.s.Get(ctx, storeName, "missing", "", nil)
	noErr(t, err)
	if r.Found || len(r.Data) != 0 {
		t.Fatal("typed get missing: found")
	}
	items, err := e.s.BulkGet(ctx, storeName, []string{"g1", "g2", "missing"}, 2, nil)
	noErr(t, err)
	if len(items) != 3 || items[0].Key != "g1" || string(items[0].Data) != "hello" || items[2].Key != "missing" || items[2].Data != nil || items[2].ETag != "" {
		t.Fatalf("typed bulk get: %+v", items)
	}
	if items, err := e.s.BulkGet(ctx, storeName, nil, 0, nil); err != nil || len(items) != 0 {
		t.Fatalf("typed bulk get empty: %v %v", items, err)
	}
	noErr(t, e.s.Delete(ctx, storeName, api.Item{Key: "g1"}))
	noErr(t, e.s.Delete(ctx, storeName, api.Item{Key: "g1"}))
	if has(e.store, component.FeatureTransactional) {
		noErr(t, e.s.Transaction(ctx, storeName, []api.TxOp{
			{Operation: "upsert", Item: api.Item{Key: "tx", Value: []byte("raw")}},
			{Operation: "delete", Item: api.Item{Key: "g2"}},
		}, nil))
		if r, _ := e.s.Get(ctx, storeName, "tx", "", nil); string(r.Data) != "raw" {
			t.Fatalf("typed tx: %q", r.Data)
		}
		noErr(t, e.s.Transaction(ctx, storeName, nil, nil))
	}
}

// state-grpc.md §5: typed family errors.
func testTypedErrors(t *testing.T, newStore func(t *testing.T) component.Store, opts Options) {
	e := newEnv(t, newStore, opts, nil)
	ctx := context.Background()
	f := func(err *api.Error, code codes.Code, msg string) {
		t.Helper()
		if err == nil {
			t.Fatalf("success, want %v %q", code, msg)
		}
		st := err.GRPCStatus()
		if st.Code() != code || st.Message() != msg {
			t.Fatalf("got %v %q, want %v %q", st.Code(), st.Message(), code, msg)
		}
	}
	f(e.s.Save(ctx, storeName, []api.Item{{Key: "ok", Value: []byte("1")}, {Key: ""}}), codes.InvalidArgument, "state key cannot be empty")
	if r, _ := e.s.Get(ctx, storeName, "ok", "", nil); r.Found {
		t.Fatal("ok written by a failed typed save")
	}
	illegal := e.s.Save(ctx, storeName, []api.Item{{Key: "a||b"}})
	f(illegal, codes.InvalidArgument, "input key/keyPrefix 'a||b' can't contain '||'")
	ds := illegal.GRPCStatus().Details()
	if len(ds) != 3 {
		t.Fatalf("illegal key details: %v", ds)
	}
	if br := ds[0].(*errdetails.BadRequest); br.FieldViolations[0].Field != "a||b" || br.FieldViolations[0].Description != "input key/keyPrefix 'a||b' can't contain '||'" {
		t.Fatalf("BadRequest %v", br)
	}
	if ri := ds[1].(*errdetails.ResourceInfo); ri.ResourceName != storeName || ri.ResourceType != "state" {
		t.Fatalf("ResourceInfo %v", ri)
	}
	if ei := ds[2].(*errdetails.ErrorInfo); ei.Reason != "DAPR_STATE_ILLEGAL_KEY" {
		t.Fatalf("ErrorInfo %v", ei)
	}
	err := e.s.Save(ctx, storeName, []api.Item{{Key: "j", Value: []byte("nulx"), Metadata: api.Metadata{"contentType": "application/json"}}})
	f(err, codes.Unknown, "invalid character 'x' in literal null (expecting 'l')")
	if len(err.GRPCStatus().Details()) != 0 {
		t.Fatal("raw JSON error carries details")
	}
	f(e.s.Save(ctx, storeName, []api.Item{{Key: "j", Value: []byte("no"), Metadata: api.Metadata{"contentType": "application/json"}}}), codes.Unknown, "invalid character 'o' in literal null (expecting 'u')")
	// Items are checked one at a time (key, then value; daprd's one loop):
	// an earlier item's bad JSON wins over a later item's bad key, and an
	// earlier bad key over a later bad value.
	badJSON := api.Item{Key: "j", Value: []byte("no"), Metadata: api.Metadata{"contentType": "application/json"}}
	f(e.s.Save(ctx, storeName, []api.Item{badJSON, {Key: ""}}), codes.Unknown, "invalid character 'o' in literal null (expecting 'u')")
	f(e.s.Save(ctx, storeName, []api.Item{badJSON, {Key: "a||b"}}), codes.Unknown, "invalid character 'o' in literal null (expecting 'u')")
	f(e.s.Save(ctx, storeName, []api.Item{{Key: ""}, badJSON}), codes.InvalidArgument, "state key cannot be empty")
	f(e.s.Save(ctx, storeName, []api.Item{{Key: "a||b"}, badJSON}), codes.InvalidArgument, "input key/keyPrefix 'a||b' can't contain '||'")
	if etagRules(e.store, opts) {
		noErr(t, e.s.Save(ctx, storeName, []api.Item{{Key: "g1", Value: []byte("x")}}))
		bad := wrong(opts, "bad")
		err := e.s.Save(ctx, storeName, []api.Item{{Key: "g1", Value: []byte("y"), ETag: &bad}})
		if err.GRPCStatus().Code() != codes.Aborted || !strings.HasPrefix(err.GRPCStatus().Message(), "failed saving state in state store statestore: possible etag mismatch. error from state store: ") {
			t.Fatalf("typed etag mismatch: %v", err.GRPCStatus())
		}
		err = e.s.Delete(ctx, storeName, api.Item{Key: "g1", ETag: &bad})
		if err.GRPCStatus().Code() != codes.Aborted || !strings.HasPrefix(err.GRPCStatus().Message(), "failed deleting state with key g1: possible etag mismatch") {
			t.Fatalf("typed delete mismatch: %v", err.GRPCStatus())
		}
		err = e.s.BulkDelete(ctx, storeName, []api.Item{{Key: "g1", ETag: &bad}, {Key: "g3"}})
		if err.GRPCStatus().Code() != codes.Aborted || err.ErrorCode() != "ERR_STATE_BULK_DELETE" || !strings.HasPrefix(err.GRPCStatus().Message(), "failed deleting state in state store statestore: possible etag mismatch") {
			t.Fatalf("typed bulk delete mismatch: %v", err.GRPCStatus())
		}
		if has(e.store, component.FeatureTransactional) {
			err = e.s.Transaction(ctx, storeName, []api.TxOp{{Operation: "upsert", Item: api.Item{Key: "g1", ETag: &bad}}}, nil)
			if err.GRPCStatus().Code() != codes.Internal || !strings.HasPrefix(err.GRPCStatus().Message(), "error while executing state transaction: possible etag mismatch") {
				t.Fatalf("typed tx mismatch: %v", err.GRPCStatus())
			}
		}
	}
	if has(e.store, component.FeatureTransactional) {
		f(e.s.Transaction(ctx, storeName, []api.TxOp{{Operation: "bogus"}}, nil), codes.Unimplemented, "operation type bogus not supported")
		f(e.s.Transaction(ctx, storeName, []api.TxOp{{Operation: "delete", Item: api.Item{Key: "a||b"}}}, nil), codes.InvalidArgument, "input key/keyPrefix 'a||b' can't contain '||'")
		// Per operation the key is checked before the operation type
		// (state-grpc.md §4), operations in order.
		f(e.s.Transaction(ctx, storeName, []api.TxOp{{Operation: "bogus", Item: api.Item{Key: "a||b"}}}, nil), codes.InvalidArgument, "input key/keyPrefix 'a||b' can't contain '||'")
		f(e.s.Transaction(ctx, storeName, []api.TxOp{{Operation: "bogus", Item: api.Item{Key: "k"}}, {Operation: "upsert", Item: api.Item{Key: "a||b"}}}, nil), codes.Unimplemented, "operation type bogus not supported")
	}
	e2 := newEnvOver(t, restricted{Store: e.store, noTx: true}, opts, storeName, nil)
	f(e2.s.Transaction(ctx, storeName, nil, nil), codes.Unimplemented, "state store statestore doesn't support transactions")
	_, err = e2.s.Query(ctx, storeName, []byte(`{}`), nil)
	f(err, codes.Internal, "state store does not support querying")
}

// DESIGN write path 3: concurrent first-write creates of one key, exactly
// one wins.
func testFirstWriteRace(t *testing.T, newStore func(t *testing.T) component.Store, opts Options) {
	e := newEnv(t, newStore, opts, nil)
	if !etagRules(e.store, opts) {
		t.Skip("store has no ETAG")
	}
	const n = 16
	var wg sync.WaitGroup
	errs := make([]*api.Error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = e.save(fmt.Sprintf(`[{"key":"race","value":%d,"options":{"concurrency":"first-write"}}]`, i), nil)
		}()
	}
	wg.Wait()
	wins := 0
	winner := -1
	for i, err := range errs {
		if err == nil {
			wins++
			winner = i
		} else if err.HTTPStatus() != 409 {
			t.Fatalf("racer %d: %d %s", i, err.HTTPStatus(), err.Message())
		}
	}
	if wins != 1 {
		t.Fatalf("%d first-write creates succeeded, want exactly 1", wins)
	}
	if r := e.get("race"); string(r.Data) != strconv.Itoa(winner) {
		t.Fatalf("stored %s, winner %d", r.Data, winner)
	}
}

// Readers never see half a transaction.
func testTransactionIsolation(t *testing.T, newStore func(t *testing.T) component.Store, opts Options) {
	e := newEnv(t, newStore, opts, nil)
	if !has(e.store, component.FeatureTransactional) || !opts.ConsistentBulkGet {
		t.Skip("store has no TRANSACTIONAL or no consistent bulk get")
	}
	const rounds = 200
	done := make(chan struct{})
	var readerErr error
	go func() {
		defer close(done)
		for i := 0; i < rounds*4; i++ {
			items, err := e.s.BulkGet(e.ctx, storeName, []string{"x", "y"}, 0, nil)
			if err != nil {
				readerErr = err
				return
			}
			if string(items[0].Data) != string(items[1].Data) {
				readerErr = fmt.Errorf("torn read: x=%s y=%s", items[0].Data, items[1].Data)
				return
			}
		}
	}()
	for i := range rounds {
		v := []byte(strconv.Itoa(i))
		noErr(t, e.s.Transaction(e.ctx, storeName, []api.TxOp{
			{Operation: "upsert", Item: api.Item{Key: "x", Value: v}},
			{Operation: "upsert", Item: api.Item{Key: "y", Value: v}},
		}, nil))
	}
	<-done
	if readerErr != nil {
		t.Fatal(readerErr)
	}
}
