package api_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/statecar/statecar/api"
	"github.com/statecar/statecar/component"
	"github.com/statecar/statecar/component/embedded"
)

// Fuzz targets of the HTTP entry points of every state route, over the
// in-memory engine store (owned by tests/torture, issue #7). Each must not
// panic; a failure must be an *api.Error with a 4xx/5xx status whose HTTP
// body is one valid JSON object carrying an errorCode. Run one with
//
//	go test ./api -run '^$' -fuzz '^FuzzHTTPSave$' -fuzztime 1m
//
// or all of them with scripts/fuzz.sh. Plain go test runs the seeds.

func fuzzState(f *testing.F) *api.State {
	f.Helper()
	st, err := embedded.OpenMemory(nil)
	if err != nil {
		f.Fatal(err)
	}
	s, err := api.New(api.Config{AppID: "myapp", DisableMetrics: true, Stores: []api.StoreEntry{{
		Spec: component.Spec{Name: "statestore", Type: "state.in-memory"}, Store: st,
	}}})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = s.Close() })
	return s
}

// checkErr fails t unless err is nil or a well-formed API error.
func checkErr(t *testing.T, err *api.Error) {
	t.Helper()
	if err == nil {
		return
	}
	if st := err.HTTPStatus(); st < 400 || st > 599 {
		t.Fatalf("error %q has status %d, want 4xx/5xx", err.Message(), st)
	}
	body := err.AppendHTTPBody(nil)
	var obj struct {
		ErrorCode string `json:"errorCode"`
	}
	if e := json.Unmarshal(body, &obj); e != nil {
		t.Fatalf("error body %q is not JSON: %v", body, e)
	}
	if obj.ErrorCode == "" || obj.ErrorCode != err.ErrorCode() {
		t.Fatalf("error body %q: errorCode %q, want %q", body, obj.ErrorCode, err.ErrorCode())
	}
}

var fuzzStore = []byte("statestore")

func FuzzHTTPSave(f *testing.F) {
	for _, s := range []string{
		`[{"key":"k1","value":"v"}]`,
		`[{"key":"k1","value":{"a":[1,2.5e3,null,true]},"etag":"1","options":{"concurrency":"first-write","consistency":"strong"}}]`,
		`[{"key":"k2","value":1,"metadata":{"ttlInSeconds":"10","contentType":"application/json"}}]`,
		`[{"key":"a||b","value":1}]`, `[{"key":""}]`, `[]`, `null`, `{}`, `[{"key":1}]`, `[{"key":"k","etag":5}]`,
		`[{"key":"k","value":123456789012345678901234567890}]`, `[{"key":"k","value":"\ud800"}]`, ``, ` `,
	} {
		f.Add([]byte(s), false, "")
	}
	f.Add([]byte(`[{"key":"k","value":1}]`), false, "abc")
	f.Add([]byte(`[{"key":"k","value":1}]`), true, "")
	s := fuzzState(f)
	f.Fuzz(func(t *testing.T, body []byte, tooLarge bool, ttl string) {
		var meta api.Metadata
		if ttl != "" {
			meta = api.Metadata{"ttlInSeconds": ttl}
		}
		checkErr(t, s.HTTPSave(context.Background(), fuzzStore, body, tooLarge, meta))
	})
}

func FuzzHTTPBulkGet(f *testing.F) {
	for _, s := range []string{
		`{"keys":["k1","k2"]}`, `{"keys":["k1"],"parallelism":2}`, `{"keys":[]}`, `{}`, `null`, `[]`,
		`{"keys":["a||b"]}`, `{"keys":[1]}`, `{"parallelism":-1,"keys":["x"]}`, `{"keys":["k1"],"metadata":{"a":"b"}}`,
	} {
		f.Add([]byte(s), false)
	}
	s := fuzzState(f)
	if err := s.HTTPSave(context.Background(), fuzzStore, []byte(`[{"key":"k1","value":{"x":1}},{"key":"k2","value":"s"}]`), false, nil); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte, tooLarge bool) {
		out, err := s.HTTPBulkGet(context.Background(), fuzzStore, body, tooLarge, nil, nil)
		checkErr(t, err)
		if err == nil && !json.Valid(out) {
			t.Fatalf("bulk answer %q is not JSON", out)
		}
	})
}

func FuzzHTTPTransaction(f *testing.F) {
	for _, s := range []string{
		`{"operations":[{"operation":"upsert","request":{"key":"t1","value":"v"}},{"operation":"delete","request":{"key":"k9"}}]}`,
		`{"operations":[{"operation":"upsert","request":{"key":"t1","value":1,"etag":"bad"}}]}`,
		`{"operations":[{"operation":"upsert","request":{"key":"t1","value":1,"etag":5}}]}`,
		`{"operations":[{"operation":"merge","request":{"key":"t1"}}]}`,
		`{"operations":[{"operation":"upsert"}]}`, `{"operations":[]}`, `{}`, `null`, `[]`,
		`{"operations":[{"operation":"upsert","request":{"key":"a||b"}}]}`,
		`{"operations":[{"operation":"upsert","request":{"Key":"t","Metadata":{"ttlInSeconds":"x"},"Options":{"Concurrency":"first-write"}}}],"metadata":{"partitionKey":"p"}}`,
		`{"operations":[{"operation":"upsert","request":{"key":"t","metadata":{"a":1}}}]}`,
	} {
		f.Add([]byte(s), false)
	}
	s := fuzzState(f)
	f.Fuzz(func(t *testing.T, body []byte, tooLarge bool) {
		checkErr(t, s.HTTPTransaction(context.Background(), fuzzStore, body, tooLarge, nil))
	})
}

func FuzzHTTPQuery(f *testing.F) {
	for _, s := range []string{
		`{"filter":{"EQ":{"state":"CA"}},"sort":[{"key":"person.id","order":"DESC"}],"page":{"limit":2}}`,
		`{"filter":{"AND":[{"GT":{"n":1}},{"IN":{"state":["CA","WA"]}}]}}`,
		`{"filter":{"OR":[{"LTE":{"n":3}},{"NEQ":{"x":null}}]},"page":{"limit":1,"token":"1"}}`,
		`{"filter":{"AND":[{"EQ":{"a":1}}]}}`, `{"filter":{"XX":{"a":1}}}`, `{}`, `null`, ``, `{"page":{"token":"x"}}`,
		`{"sort":[{"key":"n","order":"sideways"}]}`, `{"filter":{"IN":{"a":1}}}`,
	} {
		f.Add([]byte(s))
	}
	s := fuzzState(f)
	if err := s.HTTPSave(context.Background(), fuzzStore, []byte(`[{"key":"q1","value":{"state":"CA","n":1,"person":{"id":3}}},{"key":"q2","value":{"state":"WA","n":5}},{"key":"q3","value":"str"}]`), false, nil); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		out, _, err := s.HTTPQuery(context.Background(), fuzzStore, body, false, nil, nil)
		checkErr(t, err)
		if err == nil && len(out) > 0 && !json.Valid(out) {
			t.Fatalf("query answer %q is not JSON", out)
		}
	})
}

// FuzzHTTPKeyRoutes drives get and delete with arbitrary keys, If-Match,
// concurrency and consistency values.
func FuzzHTTPKeyRoutes(f *testing.F) {
	f.Add("k1", "", "", "")
	f.Add("k1", "1", "first-write", "strong")
	f.Add("a||b", "x", "bogus", "eventual")
	f.Add("", "0", "last-write", "bogus")
	f.Add("k\x00é", "18446744073709551616", "", "")
	s := fuzzState(f)
	f.Fuzz(func(t *testing.T, key, ifMatch, concurrency, consistency string) {
		ctx := context.Background()
		if err := s.HTTPSave(ctx, fuzzStore, []byte(`[{"key":"k1","value":1}]`), false, nil); err != nil {
			t.Fatal(err)
		}
		var out api.GetResult
		checkErr(t, s.HTTPGet(ctx, fuzzStore, []byte(key), []byte(consistency), nil, &out))
		checkErr(t, s.HTTPDelete(ctx, fuzzStore, []byte(key), []byte(ifMatch), []byte(concurrency), []byte(consistency), nil))
	})
}
