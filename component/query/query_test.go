package query

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestParseErrors(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		_, err := Parse([]byte(in))
		if err == nil || err.Error() != want {
			t.Fatalf("Parse(%s) error = %v, want %q", in, err, want)
		}
	}
	f(``, "unexpected end of JSON input")
	f(`{`, "unexpected end of JSON input")
	f(`x`, "invalid character 'x' looking for beginning of value")
	f(`{} x`, "invalid character 'x' after top-level value")
	f(`[]`, "json: cannot unmarshal array into Go value of type query.QueryFields")
	f(`{"filter":"x"}`, "json: cannot unmarshal string into Go struct field QueryFields.filter of type map[string]interface {}")
	f(`{"page":{"limit":"x"}}`, "json: cannot unmarshal string into Go struct field Pagination.page.limit of type int")
	f(`{"sort":[{"key":1}]}`, "json: cannot unmarshal number into Go struct field Sorting.sort.key of type string")
	f(`{"filter":{"X":1}}`, `unsupported filter "X"`)
	f(`{"filter":{"eq":{"a":1}}}`, `unsupported filter "eq"`)
	f(`{"filter":{"EQ":{"a":1},"NEQ":{"a":1}}}`, "filter unit must have a single element")
	f(`{"filter":{"AND":[{"EQ":{"a":1}},1]}}`, "filter unit must be a map")
	f(`{"filter":{"OR":[{"EQ":{"a":1}},{}]}}`, "filter unit must have a single element")
	for _, op := range []string{"EQ", "NEQ", "GT", "GTE", "LT", "LTE", "IN"} {
		f(`{"filter":{"`+op+`":1}}`, op+" filter must be a map")
		f(`{"filter":{"`+op+`":{}}}`, op+" filter must contain a single key/value pair")
		f(`{"filter":{"`+op+`":{"a":[1],"b":[2]}}}`, op+" filter must contain a single key/value pair")
	}
	f(`{"filter":{"IN":{"a":1}}}`, "IN filter value must be an array")
	for _, op := range []string{"AND", "OR"} {
		f(`{"filter":{"`+op+`":{}}}`, op+" filter must be an array")
		f(`{"filter":{"`+op+`":[{"EQ":{"a":1}}]}}`, op+" filter must contain at least two entries")
	}
}

func TestParse(t *testing.T) {
	q, err := Parse([]byte(`{"filter":{"OR":[{"EQ":{"person.org":"Dev Ops"}},{"AND":[{"EQ":{"person.org":"Finance"}},{"IN":{"state":["CA","WA"]}}]}]},
		"sort":[{"key":"state","order":"DESC"},{"key":"person.id"}],"page":{"limit":3,"token":"3"}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := &Query{
		Filter: &Filter{Op: OR, Children: []*Filter{
			{Op: EQ, Path: "person.org", Value: "Dev Ops"},
			{Op: AND, Children: []*Filter{
				{Op: EQ, Path: "person.org", Value: "Finance"},
				{Op: IN, Path: "state", Values: []any{"CA", "WA"}},
			}},
		}},
		Sort:  []Sort{{Path: "state", Order: "DESC", Desc: true}, {Path: "person.id"}},
		Limit: 3, Token: "3",
	}
	if !reflect.DeepEqual(q, want) {
		t.Fatalf("Parse = %+v, want %+v", q, want)
	}
	for _, in := range []string{`{}`, `null`, `{"filter":{}}`, `{"filter":null}`, `{"FILTER":{}}`} {
		q, err := Parse([]byte(in))
		if err != nil || q.Filter != nil {
			t.Fatalf("Parse(%s) = %+v, %v; want match-all", in, q, err)
		}
	}
}

func docs(t *testing.T, raw ...string) []Item {
	t.Helper()
	out := make([]Item, len(raw))
	for i, r := range raw {
		out[i] = Item{Key: string(rune('a' + i)), Data: []byte(r), ETag: "1"}
	}
	return out
}

func keys(items []Item) string {
	var sb strings.Builder
	for _, it := range items {
		sb.WriteString(it.Key)
	}
	return sb.String()
}

func TestExecute(t *testing.T) {
	items := docs(t,
		`{"n":3,"s":"b","p":{"o":"x"}}`, // a
		`{"n":1,"s":"a","p":{"o":"y"}}`, // b
		`{"n":2,"s":"c"}`,               // c
		`{"n":"2","b":true}`,            // d
		`not json`,                      // e
		`{"n":10,"arr":[1,2]}`,          // f
	)
	f := func(q, want, wantToken string) {
		t.Helper()
		pq, err := Parse([]byte(q))
		if err != nil {
			t.Fatal(err)
		}
		got, token, err := Execute(pq, items)
		if err != nil {
			t.Fatal(err)
		}
		if keys(got) != want || token != wantToken {
			t.Fatalf("Execute(%s) = %s token %q, want %s token %q", q, keys(got), token, want, wantToken)
		}
	}
	f(`{}`, "abcdef", "")
	f(`{"filter":{"EQ":{"n":2}}}`, "c", "")
	f(`{"filter":{"EQ":{"n":"2"}}}`, "d", "")
	f(`{"filter":{"EQ":{"n":2.0}}}`, "c", "")
	f(`{"filter":{"NEQ":{"s":"a"}}}`, "acdf", "")
	f(`{"filter":{"GT":{"n":2}}}`, "af", "")
	f(`{"filter":{"GTE":{"n":2}}}`, "acf", "")
	f(`{"filter":{"LT":{"n":3}}}`, "bc", "")
	f(`{"filter":{"LTE":{"n":3}}}`, "abc", "")
	f(`{"filter":{"GT":{"s":"a"}}}`, "ac", "")
	f(`{"filter":{"IN":{"s":["a","c"]}}}`, "bc", "")
	f(`{"filter":{"IN":{"s":[]}}}`, "", "")
	f(`{"filter":{"EQ":{"p.o":"x"}}}`, "a", "")
	f(`{"filter":{"EQ":{"arr":[1,2]}}}`, "f", "")
	f(`{"filter":{"EQ":{"b":true}}}`, "d", "")
	f(`{"filter":{"AND":[{"GT":{"n":1}},{"LT":{"n":10}}]}}`, "ac", "")
	f(`{"filter":{"OR":[{"EQ":{"n":1}},{"EQ":{"n":10}}]}}`, "bf", "")
	f(`{"filter":{"OR":[{"EQ":{"n":1}},{"EQ":{"n":10}}]},"sort":[{"key":"n","order":"DESC"}]}`, "fb", "")
	// Sort: missing first in ASC; numbers < strings; ties keep input order.
	f(`{"sort":[{"key":"n"}]}`, "ebcafd", "")
	f(`{"sort":[{"key":"n","order":"DESC"}]}`, "dfacbe", "")
	f(`{"sort":[{"key":"s"},{"key":"n","order":"DESC"}]}`, "dfebac", "")
	// Paging.
	f(`{"sort":[{"key":"n"}],"page":{"limit":2}}`, "eb", "2")
	f(`{"sort":[{"key":"n"}],"page":{"limit":2,"token":"2"}}`, "ca", "4")
	f(`{"sort":[{"key":"n"}],"page":{"limit":2,"token":"4"}}`, "fd", "6")
	f(`{"sort":[{"key":"n"}],"page":{"limit":2,"token":"6"}}`, "", "")
	f(`{"sort":[{"key":"n"}],"page":{"limit":0,"token":"5"}}`, "d", "")
	for _, tok := range []string{"x", "-1"} {
		pq, _ := Parse([]byte(`{"page":{"limit":1,"token":"` + tok + `"}}`))
		if _, _, err := Execute(pq, items); err == nil {
			t.Fatalf("token %q accepted", tok)
		}
	}
}

func TestLookup(t *testing.T) {
	var doc any
	if err := json.Unmarshal([]byte(`{"a":{"b":{"c":1}},"x":[{"y":1}]}`), &doc); err != nil {
		t.Fatal(err)
	}
	if v, ok := Lookup(doc, "a.b.c"); !ok || v != 1.0 {
		t.Fatalf("a.b.c = %v %v", v, ok)
	}
	for _, p := range []string{"a.b.d", "a.b.c.d", "x.y", "z"} {
		if _, ok := Lookup(doc, p); ok {
			t.Fatalf("%s found", p)
		}
	}
}
