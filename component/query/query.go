package query

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Op is a filter operator, spelled as in the query language.
type Op string

// Filter operators.
const (
	EQ  Op = "EQ"
	NEQ Op = "NEQ"
	GT  Op = "GT"
	GTE Op = "GTE"
	LT  Op = "LT"
	LTE Op = "LTE"
	IN  Op = "IN"
	AND Op = "AND"
	OR  Op = "OR"
)

// Sort orders as written in queries. Any other order value sorts
// ascending, like components-contrib.
const (
	ASC  = "ASC"
	DESC = "DESC"
)

// Filter is one node of a parsed filter tree.
//
//   - EQ, NEQ, GT, GTE, LT, LTE: Path and Value are set.
//   - IN: Path and Values are set (Values may be empty; stores may reject
//     that).
//   - AND, OR: Children holds two or more nodes.
//
// Values are what encoding/json decodes into an `any`: nil, bool, float64,
// string, []any, map[string]any.
type Filter struct {
	Op       Op
	Path     string
	Value    any
	Values   []any
	Children []*Filter
}

// Sort is one sort key.
type Sort struct {
	// Path is the dot-separated path into the value.
	Path string
	// Order is the order as written ("ASC", "DESC", "" or anything else).
	Order string
	// Desc is Order == "DESC".
	Desc bool
}

// Query is a parsed query.
type Query struct {
	// Filter is the filter tree; nil matches every item.
	Filter *Filter
	Sort   []Sort
	// Limit is the page size; <= 0 means no limit.
	Limit int
	// Token is the opaque page token as sent ("" = first page). Our stores
	// use the decimal offset of the first item of the page.
	Token string
}

// QueryFields is the wire shape of a query. Its name and json tags match
// components-contrib's state/query.QueryFields, so decoding errors have
// daprd's exact texts (e.g. "json: cannot unmarshal string into Go struct
// field QueryFields.page.limit of type int").
type QueryFields struct {
	Filters map[string]interface{} `json:"filter"`
	Sort    []Sorting              `json:"sort"`
	Page    Pagination             `json:"page"`
}

// Sorting is the wire shape of one sort key.
type Sorting struct {
	Key   string `json:"key"`
	Order string `json:"order,omitempty"`
}

// Pagination is the wire shape of the page.
type Pagination struct {
	Limit int    `json:"limit"`
	Token string `json:"token,omitempty"`
}

// Parse parses a query document exactly like components-contrib's
// query.Query.UnmarshalJSON (as called by daprd with json.Unmarshal),
// returning the same error texts.
func Parse(data []byte) (*Query, error) {
	var f QueryFields
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, err
	}
	q := &Query{Limit: f.Page.Limit, Token: f.Page.Token}
	for _, s := range f.Sort {
		q.Sort = append(q.Sort, Sort{Path: s.Key, Order: s.Order, Desc: s.Order == DESC})
	}
	if len(f.Filters) == 0 {
		return q, nil
	}
	filter, err := parseFilter(f.Filters)
	if err != nil {
		return nil, err
	}
	q.Filter = filter
	return q, nil
}

func parseFilter(obj any) (*Filter, error) {
	m, ok := obj.(map[string]any)
	if !ok {
		return nil, errors.New("filter unit must be a map")
	}
	if len(m) != 1 {
		return nil, errors.New("filter unit must have a single element")
	}
	for k, v := range m {
		switch op := Op(k); op {
		case EQ, NEQ, GT, GTE, LT, LTE:
			pm, ok := v.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%s filter must be a map", op)
			}
			if len(pm) != 1 {
				return nil, fmt.Errorf("%s filter must contain a single key/value pair", op)
			}
			f := &Filter{Op: op}
			for p, val := range pm {
				f.Path, f.Value = p, val
			}
			return f, nil
		case IN:
			pm, ok := v.(map[string]any)
			if !ok {
				return nil, errors.New("IN filter must be a map")
			}
			if len(pm) != 1 {
				return nil, errors.New("IN filter must contain a single key/value pair")
			}
			f := &Filter{Op: op}
			for p, val := range pm {
				f.Path = p
				if f.Values, ok = val.([]any); !ok {
					return nil, errors.New("IN filter value must be an array")
				}
			}
			return f, nil
		case AND, OR:
			arr, ok := v.([]any)
			if !ok {
				return nil, fmt.Errorf("%s filter must be an array", op)
			}
			if len(arr) < 2 {
				return nil, fmt.Errorf("%s filter must contain at least two entries", op)
			}
			f := &Filter{Op: op, Children: make([]*Filter, len(arr))}
			for i, e := range arr {
				c, err := parseFilter(e)
				if err != nil {
					return nil, err
				}
				f.Children[i] = c
			}
			return f, nil
		default:
			return nil, fmt.Errorf("unsupported filter %q", k)
		}
	}
	return nil, nil
}
