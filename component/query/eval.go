package query

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// Item is one stored item offered to Execute.
type Item struct {
	Key  string
	Data []byte
	ETag string
}

// Lookup returns the value at the dot-separated path inside doc (a decoded
// JSON value), and whether it exists. Each path segment selects an object
// member; arrays are not indexed.
func Lookup(doc any, path string) (any, bool) {
	cur := doc
	for path != "" {
		seg := path
		if i := strings.IndexByte(path, '.'); i >= 0 {
			seg, path = path[:i], path[i+1:]
		} else {
			path = ""
		}
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[seg]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// Match reports whether the decoded JSON value doc satisfies f (nil
// matches everything).
//
// Semantics (documented in doc.go): EQ/IN compare numbers numerically and
// other values by deep equality; NEQ is the negation of EQ (so a missing
// path matches); GT/GTE/LT/LTE compare two numbers numerically or two
// strings byte-wise, and are false for a missing path or mixed types.
func (f *Filter) Match(doc any) bool {
	if f == nil {
		return true
	}
	switch f.Op {
	case AND:
		for _, c := range f.Children {
			if !c.Match(doc) {
				return false
			}
		}
		return true
	case OR:
		for _, c := range f.Children {
			if c.Match(doc) {
				return true
			}
		}
		return false
	}
	v, ok := Lookup(doc, f.Path)
	switch f.Op {
	case EQ:
		return ok && equal(v, f.Value)
	case NEQ:
		return !ok || !equal(v, f.Value)
	case IN:
		if !ok {
			return false
		}
		for _, want := range f.Values {
			if equal(v, want) {
				return true
			}
		}
		return false
	case GT, GTE, LT, LTE:
		if !ok {
			return false
		}
		c, comparable := compareScalar(v, f.Value)
		if !comparable {
			return false
		}
		switch f.Op {
		case GT:
			return c > 0
		case GTE:
			return c >= 0
		case LT:
			return c < 0
		default:
			return c <= 0
		}
	}
	return false
}

func equal(a, b any) bool {
	if af, ok := a.(float64); ok {
		bf, ok := b.(float64)
		return ok && af == bf
	}
	return reflect.DeepEqual(a, b)
}

// compareScalar compares two numbers or two strings.
func compareScalar(a, b any) (int, bool) {
	switch av := a.(type) {
	case float64:
		bv, ok := b.(float64)
		if !ok {
			return 0, false
		}
		switch {
		case av < bv:
			return -1, true
		case av > bv:
			return 1, true
		}
		return 0, true
	case string:
		bv, ok := b.(string)
		if !ok {
			return 0, false
		}
		return strings.Compare(av, bv), true
	}
	return 0, false
}

// typeRank orders values of different JSON types for sorting: missing,
// null, numbers, strings, booleans, arrays, objects.
func typeRank(v any, present bool) int {
	if !present {
		return 0
	}
	switch v.(type) {
	case nil:
		return 1
	case float64:
		return 2
	case string:
		return 3
	case bool:
		return 4
	case []any:
		return 5
	default:
		return 6
	}
}

// compareSort totally orders two looked-up values (see typeRank; within a
// type numbers numerically, strings byte-wise, false < true, arrays and
// objects by their JSON text).
func compareSort(a any, aok bool, b any, bok bool) int {
	ra, rb := typeRank(a, aok), typeRank(b, bok)
	if ra != rb {
		return ra - rb
	}
	switch av := a.(type) {
	case float64, string:
		c, _ := compareScalar(av, b)
		return c
	case bool:
		bv := b.(bool)
		switch {
		case av == bv:
			return 0
		case !av:
			return -1
		}
		return 1
	case []any, map[string]any:
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		return bytes.Compare(ja, jb)
	}
	return 0
}

// Execute filters, sorts and pages items for q, for stores that evaluate
// queries themselves (the embedded stores). Items whose Data is not JSON
// never match a filter but match a nil filter. The order is the sort keys
// (ties and no sort: the items' input order); missing values sort first
// in ascending order and last in descending order. The returned token is
// the decimal offset of the next page, set only when q.Limit > 0 and the
// page is not empty. A token that is not a non-negative decimal integer is
// an error.
func Execute(q *Query, items []Item) ([]Item, string, error) {
	offset := 0
	if q.Token != "" {
		n, err := strconv.Atoi(q.Token)
		if err != nil {
			return nil, "", fmt.Errorf("invalid page token %q: %w", q.Token, err)
		}
		if n < 0 {
			return nil, "", fmt.Errorf("invalid page token %q: negative offset", q.Token)
		}
		offset = n
	}
	type row struct {
		it  Item
		doc any
	}
	rows := make([]row, 0, len(items))
	for _, it := range items {
		var doc any
		if err := json.Unmarshal(it.Data, &doc); err != nil {
			if q.Filter != nil {
				continue
			}
			doc = nil
		}
		if q.Filter.Match(doc) {
			rows = append(rows, row{it: it, doc: doc})
		}
	}
	if len(q.Sort) > 0 {
		sort.SliceStable(rows, func(i, j int) bool {
			for _, s := range q.Sort {
				a, aok := Lookup(rows[i].doc, s.Path)
				b, bok := Lookup(rows[j].doc, s.Path)
				c := compareSort(a, aok, b, bok)
				if c == 0 {
					continue
				}
				if s.Desc {
					return c > 0
				}
				return c < 0
			}
			return false
		})
	}
	if offset > len(rows) {
		offset = len(rows)
	}
	rows = rows[offset:]
	if q.Limit > 0 && len(rows) > q.Limit {
		rows = rows[:q.Limit]
	}
	out := make([]Item, len(rows))
	for i, r := range rows {
		out[i] = r.it
	}
	token := ""
	if q.Limit > 0 && len(out) > 0 {
		token = strconv.Itoa(offset + len(out))
	}
	return out, token, nil
}
