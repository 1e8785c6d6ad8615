package e2e

import (
	"bytes"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// PostgreSQL's state store keeps values in a jsonb column and returns
// PostgreSQL's jsonb text on reads (stores.md §3.2): object keys ordered
// shortest first then bytewise, ", " and ": " separators, strings without
// HTML escaping. Bulk get and query embed that text through Go's JSON
// encoder, which compacts it and HTML-escapes strings but keeps the key
// order. These helpers turn the encoding/json bytes the table expects into
// those two forms.

// jsonbText renders the JSON document s as PostgreSQL prints jsonb.
func jsonbText(s string) string { return renderJSON(s, true) }

// jsonbEmbedded renders s in jsonb key order, compact, HTML-escaped.
func jsonbEmbedded(s string) string { return renderJSON(s, false) }

func renderJSON(s string, pg bool) string {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		panic("BUG: expected value is not JSON: " + s + ": " + err.Error())
	}
	var b bytes.Buffer
	writeJSON(&b, v, pg)
	return b.String()
}

func writeJSON(b *bytes.Buffer, v any, pg bool) {
	comma, colon := ",", ":"
	if pg {
		comma, colon = ", ", ": "
	}
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			if len(keys[i]) != len(keys[j]) {
				return len(keys[i]) < len(keys[j])
			}
			return keys[i] < keys[j]
		})
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteString(comma)
			}
			writeString(b, k, pg)
			b.WriteString(colon)
			writeJSON(b, x[k], pg)
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteString(comma)
			}
			writeJSON(b, e, pg)
		}
		b.WriteByte(']')
	case string:
		writeString(b, x, pg)
	case json.Number:
		b.WriteString(string(x))
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case nil:
		b.WriteString("null")
	}
}

// writeString writes s as PostgreSQL's jsonb output escapes it (pg) or as
// Go's encoding/json does (HTML-escaped).
func writeString(b *bytes.Buffer, s string, pg bool) {
	if !pg {
		out, _ := json.Marshal(s)
		b.Write(out)
		return
	}
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		case '\r':
			b.WriteString(`\r`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			if r < 0x20 {
				b.WriteString(`\u00`)
				b.WriteString(strconv.FormatInt(int64(r)>>4, 16))
				b.WriteString(strconv.FormatInt(int64(r)&15, 16))
				continue
			}
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
}

func TestJSONBRendering(t *testing.T) {
	f := func(in, text, embedded string) {
		t.Helper()
		if got := jsonbText(in); got != text {
			t.Errorf("jsonbText(%s) = %s, want %s", in, got, text)
		}
		if got := jsonbEmbedded(in); got != embedded {
			t.Errorf("jsonbEmbedded(%s) = %s, want %s", in, got, embedded)
		}
	}
	// stores.md §3.2 observed example (after statecar's canonicalisation).
	f(`{"a":[1,2.5,"x<y"],"b":1,"f":1,"name":"Tatooine"}`,
		`{"a": [1, 2.5, "x<y"], "b": 1, "f": 1, "name": "Tatooine"}`,
		`{"a":[1,2.5,"x\u003cy"],"b":1,"f":1,"name":"Tatooine"}`)
	f(`{"city":"S","person":{"org":"D","id":1},"tag":"t","state":"WA"}`,
		`{"tag": "t", "city": "S", "state": "WA", "person": {"id": 1, "org": "D"}}`,
		`{"tag":"t","city":"S","state":"WA","person":{"id":1,"org":"D"}}`)
	f(`"he said \"hi\" \u003cb\u003e"`, `"he said \"hi\" <b>"`, `"he said \"hi\" \u003cb\u003e"`)
	f(`12345678901234567890`, `12345678901234567890`, `12345678901234567890`)
	f(`null`, `null`, `null`)
	f(`[]`, `[]`, `[]`)
}
