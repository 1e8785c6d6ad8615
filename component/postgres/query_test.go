package postgres

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/statecar/statecar/component"
	"github.com/statecar/statecar/component/query"
)

func runQuery(t *testing.T, s *Store, doc string) (*component.QueryResponse, error) {
	t.Helper()
	q, err := query.Parse([]byte(doc))
	if err != nil {
		t.Fatalf("parse %s: %v", doc, err)
	}
	return (&QueryStore{s}).Query(context.Background(), &component.QueryRequest{Query: q})
}

func keysOf(r *component.QueryResponse) string {
	var ks []string
	for _, it := range r.Results {
		ks = append(ks, it.Key)
	}
	return strings.Join(ks, ",")
}

func TestQuery(t *testing.T) {
	s := open(t, "", nil)
	data := map[string]string{
		"a||1": `{"n": 9, "city": "Seattle", "p": {"org": "Dev Ops", "id": 1036}, "state": "WA"}`,
		"a||2": `{"n": 10, "city": "Portland", "p": {"org": "Finance", "id": 1028}, "state": "OR"}`,
		"a||3": `{"n": 100, "city": "San Diego", "p": {"org": "Finance", "id": 1071}, "state": "CA"}`,
		"a||4": `{"n": 2.5, "city": "Spokane", "p": {"org": "Dev Ops", "id": 1042}, "state": "WA"}`,
		"a||5": `{"n": "x", "city": "Nowhere"}`,
	}
	for k, v := range data {
		mustSet(t, s, k, v)
	}
	// An expired row is never returned.
	if err := set(s, "a||6", `{"n": 9}`, nil, map[string]string{"ttlInSeconds": "100"}, component.StateOptions{}); err != nil {
		t.Fatal(err)
	}
	exec(t, `UPDATE `+s.cfg.table+` SET expiredate = now() - interval '1 second' WHERE key = 'a||6'`)

	f := func(doc, wantKeys, wantToken string) {
		t.Helper()
		r, err := runQuery(t, s, doc)
		if err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		if got := keysOf(r); got != wantKeys || r.Token != wantToken {
			t.Fatalf("%s\n got keys %q token %q\nwant keys %q token %q", doc, got, r.Token, wantKeys, wantToken)
		}
	}
	f(`{}`, "a||1,a||2,a||3,a||4,a||5", "")
	f(`{"filter":{"EQ":{"state":"WA"}}}`, "a||1,a||4", "")
	f(`{"filter":{"EQ":{"p.id":1028}}}`, "a||2", "")
	f(`{"filter":{"EQ":{"n":9.0}}}`, "a||1", "")
	f(`{"filter":{"NEQ":{"state":"WA"}}}`, "a||2,a||3,a||5", "")
	f(`{"filter":{"GT":{"n":9}}}`, "a||2,a||3", "") // numeric, not textual
	f(`{"filter":{"GTE":{"n":9}}}`, "a||1,a||2,a||3", "")
	f(`{"filter":{"LT":{"n":10}}}`, "a||1,a||4", "")
	f(`{"filter":{"LTE":{"n":2.5}}}`, "a||4", "")
	f(`{"filter":{"IN":{"state":["CA","OR"]}}}`, "a||2,a||3", "")
	f(`{"filter":{"OR":[{"EQ":{"p.org":"Dev Ops"}},{"AND":[{"EQ":{"p.org":"Finance"}},{"IN":{"state":["CA","WA"]}}]}]}}`, "a||1,a||3,a||4", "")
	f(`{"filter":{"EQ":{"p.org":"Finance"}},"sort":[{"key":"n","order":"DESC"}]}`, "a||3,a||2", "")
	f(`{"sort":[{"key":"p.id"}]}`, "a||5,a||2,a||1,a||4,a||3", "") // missing path sorts first ascending
	f(`{"filter":{"EQ":{"state":"WA"}},"sort":[{"key":"n"}],"page":{"limit":1}}`, "a||4", "1")
	f(`{"filter":{"EQ":{"state":"WA"}},"sort":[{"key":"n"}],"page":{"limit":1,"token":"1"}}`, "a||1", "2")
	f(`{"filter":{"EQ":{"state":"WA"}},"sort":[{"key":"n"}],"page":{"limit":1,"token":"2"}}`, "", "2")

	// Data and ETags come back as Get returns them.
	r, err := runQuery(t, s, `{"filter":{"EQ":{"p.id":1036}}}`)
	if err != nil || len(r.Results) != 1 {
		t.Fatalf("%v %v", r, err)
	}
	g := get(t, s, "a||1")
	if string(r.Results[0].Data) != string(g.Data) || r.Results[0].ETag != string(g.ETag) {
		t.Fatalf("query item %+v, get %s %s", r.Results[0], g.Data, g.ETag)
	}

	// A value stored as bytes (isbinary, base64 in the row) is decoded as
	// on a get; daprd returns the base64 string (docs/compatibility.md).
	bin := []byte{0, 1, 0xfe, 'h', 'i'}
	if err := s.BulkSet(context.Background(), []component.SetRequest{{Key: "b||1", Value: bin}}); err != nil {
		t.Fatal(err)
	}
	r, err = runQuery(t, s, `{"filter":{"EQ":{"nothing":"matches"}}}`)
	if err != nil || len(r.Results) != 0 {
		t.Fatalf("%v %v", r, err)
	}
	r, err = runQuery(t, s, `{"sort":[{"key":"n"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, it := range r.Results {
		if it.Key == "b||1" {
			found = true
			if !bytes.Equal(it.Data, bin) {
				t.Fatalf("binary query item %q, want %q", it.Data, bin)
			}
		}
	}
	if !found {
		t.Fatalf("binary row not returned: %s", keysOf(r))
	}

	for doc, wantErr := range map[string]string{
		`{"filter":{"GT":{"city":"A"}}}`:        "unsupported type of value A; string type not permitted",
		`{"filter":{"IN":{"state":[]}}}`:        "empty IN operator",
		`{"page":{"limit":1,"token":"x"}}`:      `invalid token "x"`,
		`{"filter":{"EQ":{"a'b":"x' OR 1=1"}}}`: "",
	} {
		_, err := runQuery(t, s, doc)
		if wantErr == "" {
			if err != nil {
				t.Fatalf("%s: %v", doc, err)
			}
			continue
		}
		if err == nil || err.Error() != wantErr {
			t.Fatalf("%s: got %v, want %q", doc, err, wantErr)
		}
	}
	// v2 has no query.
	s2 := open(t, "v2", nil)
	if _, err := s2.RunQuery(context.Background(), &component.QueryRequest{Query: &query.Query{}}); err == nil {
		t.Fatalf("v2 query succeeded")
	}
}
