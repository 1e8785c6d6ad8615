package api

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	daprhttp "github.com/statecar/statecar/api/internal/daprhttp"
	"github.com/statecar/statecar/api/internal/state"
)

var saveSeeds = []string{
	`[{"key":"k","value":"v"}]`,
	`[{"KEY":"k","Value":{"b":1,"a":[1,2.5]},"etag":"3","metadata":{"ttlInSeconds":"10","x":"y","x":"z"},"options":{"concurrency":"first-write","CONSISTENCY":"strong","other":[1]},"contentType":"application/json","unknown":{"a":null}}] trailing`,
	`[]`, ` [ ] `, `[{"key":null,"etag":null,"metadata":null,"options":null,"contentType":null}]`,
	`[{"key":"a"},{"key":"b","value":null}]`, `[{"key":"k","etag":1}]`, `[{"key":"k","key":"j"}]`,
	`[{"k\u0065y":"k"}]`, `[{"ke\u212ay":"k"}]`, `[{"\u212aey":"k"}]`, `[{"key":"k","metadata":{"a":null}}]`, `[null]`,
	`{"key":"k"}`, ``, `[{"key":"\ud800\u00e9\xff","metadata":{"\u00e9":"\n"}}]`, `[{"key":"k","options":{"concurrency":"a","concurrency":"b"}}]`,
	`[{"key":"k","value":[1,}]`, `[{"key":"k"},]`, `[{"key":"k"} {"key":"j"}]`,
}

// slowDecodeSave is the reference: encoding/json's streaming decoder.
func slowDecodeSave(body []byte) ([]state.SetRequest, error) {
	var items []state.SetRequest
	err := json.NewDecoder(bytes.NewReader(body)).Decode(&items)
	return items, err
}

func checkFastSave(t *testing.T, body []byte) {
	fast, ok := fastDecodeSave(body, nil)
	if !ok {
		return
	}
	slow, err := slowDecodeSave(body)
	if err != nil {
		t.Fatalf("fast path accepted %q, encoding/json failed: %v", body, err)
	}
	if len(fast) == 0 && len(slow) == 0 {
		return
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("decode %q:\nfast %+v\nslow %+v", body, fast, slow)
	}
}

func TestFastDecodeSave(t *testing.T) {
	accepted := 0
	for _, s := range saveSeeds {
		checkFastSave(t, []byte(s))
		if _, ok := fastDecodeSave([]byte(s), nil); ok {
			accepted++
		}
	}
	// The common shapes take the fast path.
	for _, s := range saveSeeds[:6] {
		if _, ok := fastDecodeSave([]byte(s), nil); !ok {
			t.Fatalf("fast path rejected %s", s)
		}
	}
	// Unicode folding, duplicates, nulls and errors go to encoding/json.
	for _, s := range saveSeeds[6:14] {
		if _, ok := fastDecodeSave([]byte(s), nil); ok {
			t.Fatalf("fast path accepted %s", s)
		}
	}
}

func FuzzFastSave(f *testing.F) {
	for _, s := range saveSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) { checkFastSave(t, body) })
}

var opSeeds = []string{
	`{"key":"t1","value":{"b":1,"a":2.50},"etag":"5","metadata":{"ttlInSeconds":"60"},"options":{"concurrency":"first-write","consistency":"strong"}}`,
	`{"KEY":"k","Value":null,"ETAG":null,"Metadata":{},"OPTIONS":null,"contentType":"x","other":[1,{"a":2}]}`,
	`{"key":"k","etag":5}`, `{"key":"k","metadata":{"a":1}}`, `{"key":"k","metadata":{"a":null}}`, `{"key":"k","key":"j"}`,
	`{"k\u0065y":"k"}`, `{"\u212aey":"k"}`, `null`, `"k"`, `[1]`, `{}`, `{"options":{"concurrency":1.5}}`,
}

// FuzzOpRequest checks the transaction request fast path against the
// mapstructure emulation, for upserts and deletes.
func FuzzOpRequest(f *testing.F) {
	for _, s := range opSeeds {
		f.Add([]byte(s), true)
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, raw []byte, upsert bool) {
		if !json.Valid(raw) {
			return // the body decoder rejects it before
		}
		raw = bytes.TrimSpace(raw)
		fast, ferr := decodeOpRequest(raw, upsert)
		slow, serr := decodeOpRequestSlow(raw, upsert)
		if (ferr == nil) != (serr == nil) || (ferr != nil && ferr.Error() != serr.Error()) {
			t.Fatalf("%q: fast err %v, slow err %v", raw, ferr, serr)
		}
		if ferr != nil {
			return
		}
		if upsert {
			if !bytes.Equal(canonicalValue(fast.Value), canonicalValue(slow.Value)) {
				t.Fatalf("%q: value %q vs %q", raw, fast.Value, slow.Value)
			}
		}
		fast.Value, slow.Value = nil, nil
		if len(fast.Metadata) == 0 && len(slow.Metadata) == 0 {
			fast.Metadata, slow.Metadata = nil, nil
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q:\nfast %+v\nslow %+v", raw, fast, slow)
		}
	})
}

var bulkSeeds = []string{
	`{"keys":["a","b"]}`, `{"KEYS":["a"],"Parallelism":10,"metadata":{"a":"b"},"x":[1]} trailing`, `{}`, `{"keys":null}`,
	`{"keys":[]}`, `{"parallelism":-0}`, `{"keys":"x"}`, `{"keys":[null]}`, `{"parallelism":1.5}`, `{"parallelism":1e2}`,
	`{"parallelism":99999999999999999999}`, `{"keys":["a"],"keys":["b"]}`, `{"\u212aeys":["a"]}`, `[]`, ``, `{"metadata":{"a":1}}`,
}

func FuzzFastBulk(f *testing.F) {
	for _, s := range bulkSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var fast daprhttp.BulkGetRequest
		if !fastDecodeBulk(body, &fast) {
			return
		}
		var slow daprhttp.BulkGetRequest
		if err := json.NewDecoder(bytes.NewReader(body)).Decode(&slow); err != nil {
			t.Fatalf("fast path accepted %q, encoding/json failed: %v", body, err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("decode %q:\nfast %+v\nslow %+v", body, fast, slow)
		}
	})
}

func TestFastDecodeBulk(t *testing.T) {
	for _, s := range bulkSeeds[:6] {
		var r daprhttp.BulkGetRequest
		if !fastDecodeBulk([]byte(s), &r) {
			t.Fatalf("fast path rejected %s", s)
		}
	}
	for _, s := range bulkSeeds[6:] {
		var r daprhttp.BulkGetRequest
		if fastDecodeBulk([]byte(s), &r) {
			t.Fatalf("fast path accepted %s", s)
		}
	}
}

var txSeeds = []string{
	`{"operations":[{"operation":"upsert","request":{"key":"k","value":"v"}}]}`,
	`{"OPERATIONS":[{"Operation":"delete","REQUEST":{"key":"k","etag":"1"},"x":[1,{"a":null}]}],"metadata":{"a":"b","a":"c"},"other":1} trailing`,
	`{"operations":[]}`, ` { } `, `{"operations":null,"metadata":null}`, `{"operations":[null]}`,
	`{"operations":[{"operation":null,"request":null}]}`, `{"operations":[{"operation":"upsert","request":"x"}]}`,
	`{"operations":[{"operation":1}]}`, `{"operations":[{"operation":"a","operation":"b"}]}`,
	`{"operations":[],"operations":[]}`, `{"oper\u0061tions":[]}`, `{"operations":[{"\u212aey":1}]}`,
	`{"operations":[{"operation":"upsert","request":{"key":"k"}},]}`, `{"operations":[{}] ,"metadata":{"a":1}}`,
	`{"operations":[{"request":{"key":"k","value":[1,2,{"b":"\u00e9"}]}}]}`, `[]`, ``, `{"operations":[{"operation":"\u0075psert"}]}`,
	`{"operations":[{"operation":"upsert","request":{"key":"k","value":{"a":[[[[1]]]]}}}]}`,
}

func TestFastDecodeTx(t *testing.T) {
	f := func(body string, wantOK bool) {
		t.Helper()
		var req daprhttp.TransactionBody
		if ok := fastDecodeTx([]byte(body), &req); ok != wantOK {
			t.Fatalf("fastDecodeTx(%s) = %v, want %v", body, ok, wantOK)
		}
	}
	f(txSeeds[0], true)
	f(txSeeds[1], true)
	f(`{"operations":[]}`, true)
	f(`{"operations":[null]}`, false)
	f(`{"operations":[{"operation":"a","operation":"b"}]}`, false)
	f(`{"oper\u0061tions":[]}`, false)
	var req daprhttp.TransactionBody
	fastDecodeTx([]byte(txSeeds[1]), &req)
	if len(req.Operations) != 1 || req.Operations[0].Operation != "delete" || string(req.Operations[0].Request) != `{"key":"k","etag":"1"}` || req.Metadata["a"] != "c" {
		t.Fatalf("decoded %+v", req)
	}
}

func FuzzFastTx(f *testing.F) {
	for _, s := range txSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var fast daprhttp.TransactionBody
		if !fastDecodeTx(body, &fast) {
			return
		}
		var slow daprhttp.TransactionBody
		if err := json.NewDecoder(bytes.NewReader(body)).Decode(&slow); err != nil {
			t.Fatalf("fast path accepted %q, encoding/json failed: %v", body, err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("decode %q:\nfast %+v\nslow %+v", body, fast, slow)
		}
	})
}
