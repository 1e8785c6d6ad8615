package query

import (
	"encoding/json"
	"testing"
)

// FuzzParse feeds arbitrary query documents to Parse (owned by
// tests/torture, issue #7): no panic; whatever Parse accepts, Execute
// evaluates over a fixed set of items without panicking, returns a subset
// no longer than the page limit, and returns a decimal next-page token.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"filter":{"EQ":{"state":"CA"}},"sort":[{"key":"person.id","order":"DESC"}],"page":{"limit":2}}`,
		`{"filter":{"AND":[{"GT":{"n":1}},{"IN":{"state":["CA","WA"]}}]}}`,
		`{"filter":{"OR":[{"LTE":{"n":3}},{"NEQ":{"x":null}},{"LT":{"s":"m"}},{"GTE":{"n":2}}]},"page":{"limit":1,"token":"1"}}`,
		`{"filter":{"AND":[{"EQ":{"a":1}}]}}`, `{"filter":{"XX":{"a":1}}}`, `{}`, `null`, ``, `{"page":{"token":"x"}}`,
		`{"sort":[{"key":"n","order":"sideways"}]}`, `{"filter":{"IN":{"a":1}}}`, `{"filter":{"EQ":{"a":1,"b":2}}}`,
		`{"page":{"limit":-1}}`, `{"sort":[{"key":""}]}`, `{"filter":{"EQ":{"person..id":{"x":1}}}}`,
	} {
		f.Add([]byte(s))
	}
	var items []Item
	for _, v := range []string{`{"state":"CA","n":1,"person":{"id":3},"s":"a"}`, `{"state":"WA","n":5,"s":"z"}`, `"str"`, `null`, `[1,2]`, `{"n":1e308,"person":{"id":"x"}}`} {
		if !json.Valid([]byte(v)) {
			f.Fatalf("seed item %s is not JSON", v)
		}
		items = append(items, Item{Key: "k" + v, Data: []byte(v), ETag: "1"})
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		q, err := Parse(data)
		if err != nil {
			if q != nil {
				t.Fatalf("Parse returned a query and an error %v", err)
			}
			return
		}
		if q == nil {
			t.Fatal("Parse returned neither a query nor an error")
		}
		out, token, err := Execute(q, items)
		if err != nil {
			return
		}
		if len(out) > len(items) {
			t.Fatalf("Execute returned %d items from %d", len(out), len(items))
		}
		if q.Limit > 0 && len(out) > q.Limit {
			t.Fatalf("Execute returned %d items, limit %d", len(out), q.Limit)
		}
		for _, c := range token {
			if c < '0' || c > '9' {
				t.Fatalf("next-page token %q is not decimal", token)
			}
		}
	})
}
