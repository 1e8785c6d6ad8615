package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/statecar/statecar/component"
	"github.com/statecar/statecar/component/query"
)

// RunQuery runs a parsed query (v1 only) as one SELECT on the jsonb value.
// Unlike daprd, which compares and sorts the text of each path, operands
// are compared as jsonb: numbers numerically, EQ/NEQ/IN by jsonb equality,
// GT/GTE/LT/LTE only on numbers (string operands are rejected like daprd,
// non-number values never match); expired rows
// are excluded; rows are ordered by key after the sort keys so pages are
// stable. The token is the decimal offset of the next page (with a limit).
func (s *Store) RunQuery(ctx context.Context, req *component.QueryRequest) (*component.QueryResponse, error) {
	start := time.Now()
	defer s.m.query.UpdateDuration(start)
	if s.cfg.v2 {
		return nil, errors.New("query is not supported by state.postgresql v2")
	}
	q, ok := req.Query.(*query.Query)
	if !ok || q == nil {
		return nil, fmt.Errorf("BUG: query request holds %T, want *query.Query", req.Query)
	}
	sql, args, offset, err := s.buildQuery(q)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.timeout)
	defer cancel()
	rows, err := s.db.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("cannot run query: %w", err)
	}
	defer rows.Close()
	resp := &component.QueryResponse{}
	for rows.Next() {
		var (
			it       component.QueryItem
			value    []byte
			isBinary bool
		)
		if err := rows.Scan(&it.Key, &value, &isBinary, &it.ETag); err != nil {
			return nil, fmt.Errorf("cannot run query: %w", err)
		}
		if it.Data, err = decodeValue(nil, value, isBinary); err != nil {
			it.Error = err.Error()
		}
		resp.Results = append(resp.Results, it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot run query: %w", err)
	}
	if q.Limit > 0 {
		resp.Token = strconv.FormatInt(offset+int64(len(resp.Results)), 10)
	}
	return resp, nil
}

// buildQuery translates q into SQL with positional parameters.
func (s *Store) buildQuery(q *query.Query) (string, []any, int64, error) {
	var b strings.Builder
	var args []any
	b.WriteString(`SELECT key, value, isbinary, xmin::text FROM ` + s.cfg.table + ` WHERE (expiredate IS NULL OR expiredate >= CURRENT_TIMESTAMP)`)
	if q.Filter != nil {
		b.WriteString(` AND `)
		if err := writeFilter(&b, &args, q.Filter); err != nil {
			return "", nil, 0, err
		}
	}
	b.WriteString(` ORDER BY `)
	for _, so := range q.Sort {
		b.WriteString(jsonPath(so.Path))
		if so.Desc {
			b.WriteString(` DESC NULLS LAST, `)
		} else {
			b.WriteString(` ASC NULLS FIRST, `)
		}
	}
	b.WriteString(`key`)
	var offset int64
	if q.Token != "" {
		n, err := strconv.ParseInt(q.Token, 10, 64)
		if err != nil || n < 0 {
			return "", nil, 0, fmt.Errorf("invalid token %q", q.Token)
		}
		offset = n
	}
	if q.Limit > 0 {
		b.WriteString(` LIMIT ` + strconv.Itoa(q.Limit))
	}
	if offset > 0 {
		b.WriteString(` OFFSET ` + strconv.FormatInt(offset, 10))
	}
	return b.String(), args, offset, nil
}

// jsonPath renders a dot path as a jsonb expression: a.b -> value->'a'->'b'.
func jsonPath(path string) string {
	var b strings.Builder
	b.WriteString("value")
	for _, seg := range strings.Split(path, ".") {
		b.WriteString("->'")
		b.WriteString(strings.ReplaceAll(seg, "'", "''"))
		b.WriteString("'")
	}
	return b.String()
}

// param appends v as a jsonb parameter and returns its placeholder.
func param(args *[]any, v any) (string, error) {
	j, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("cannot encode query value: %w", err)
	}
	*args = append(*args, string(j))
	return "$" + strconv.Itoa(len(*args)) + "::text::jsonb", nil
}

func writeFilter(b *strings.Builder, args *[]any, f *query.Filter) error {
	switch f.Op {
	case query.AND, query.OR:
		b.WriteString("(")
		for i, c := range f.Children {
			if i > 0 {
				b.WriteString(" " + string(f.Op) + " ")
			}
			if err := writeFilter(b, args, c); err != nil {
				return err
			}
		}
		b.WriteString(")")
		return nil
	}
	x := jsonPath(f.Path)
	switch f.Op {
	case query.EQ, query.NEQ:
		p, err := param(args, f.Value)
		if err != nil {
			return err
		}
		if f.Op == query.EQ {
			b.WriteString(x + " = " + p)
		} else {
			b.WriteString("(" + x + " IS NULL OR " + x + " <> " + p + ")")
		}
	case query.GT, query.GTE, query.LT, query.LTE:
		switch f.Value.(type) {
		case float64:
		case string:
			return fmt.Errorf("unsupported type of value %v; string type not permitted", f.Value)
		default:
			return fmt.Errorf("unsupported type of value %v for %s", f.Value, f.Op)
		}
		p, err := param(args, f.Value)
		if err != nil {
			return err
		}
		op := map[query.Op]string{query.GT: ">", query.GTE: ">=", query.LT: "<", query.LTE: "<="}[f.Op]
		b.WriteString("(jsonb_typeof(" + x + ") = 'number' AND " + x + " " + op + " " + p + ")")
	case query.IN:
		if len(f.Values) == 0 {
			return errors.New("empty IN operator")
		}
		b.WriteString(x + " IN (")
		for i, v := range f.Values {
			if i > 0 {
				b.WriteString(", ")
			}
			p, err := param(args, v)
			if err != nil {
				return err
			}
			b.WriteString(p)
		}
		b.WriteString(")")
	default:
		return fmt.Errorf("unsupported filter %q", f.Op)
	}
	return nil
}
