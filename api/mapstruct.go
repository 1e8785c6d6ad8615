package api

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/statecar/statecar/api/internal/state"
)

// opRequest is a transaction operation's request after the emulated
// mapstructure decoding (daprd decodes "request" into an `any` and then
// runs mapstructure.Decode into state.SetRequest / state.DeleteRequest).
type opRequest struct {
	Key         string
	Value       json.RawMessage // nil when absent or null
	ETag        *string
	Metadata    map[string]string
	Concurrency string
	Consistency string
}

// mapError renders like mapstructure.Error: the points sorted.
type mapError []string

func (e mapError) Error() string {
	points := make([]string, len(e))
	for i, s := range e {
		points[i] = "* " + s
	}
	sort.Strings(points)
	return strconv.Itoa(len(e)) + " error(s) decoding:\n\n" + strings.Join(points, "\n")
}

// goTypeName is the reflect type name of a value decoded by encoding/json
// into an `any`.
func goTypeName(v any) string {
	switch v.(type) {
	case map[string]any:
		return "map[string]interface {}"
	case []any:
		return "[]interface {}"
	case float64:
		return "float64"
	case bool:
		return "bool"
	case string:
		return "string"
	}
	return fmt.Sprintf("%T", v)
}

// goKindName is the reflect kind name of such a value.
func goKindName(v any) string {
	switch v.(type) {
	case map[string]any:
		return "map"
	case []any:
		return "slice"
	}
	return goTypeName(v)
}

// findField returns the map key matching a struct field name like
// mapstructure: the exact name first, else the first case-insensitive
// match in sorted key order (mapstructure's choice among several is
// random; ours is deterministic).
func findField(keys []string, m map[string]any, field string) (string, bool) {
	if _, ok := m[field]; ok {
		return field, true
	}
	for _, k := range keys {
		if strings.EqualFold(k, field) {
			return k, true
		}
	}
	return "", false
}

func decodeStringField(name string, v any, errs *mapError) (string, bool) {
	switch s := v.(type) {
	case nil:
		return "", false
	case string:
		return s, true
	default:
		*errs = append(*errs, fmt.Sprintf("'%s' expected type 'string', got unconvertible type '%s', value: '%v'", name, goTypeName(v), v))
		return "", false
	}
}

// decodeOpRequest decodes raw (the operation's "request") into r.
func decodeOpRequest(raw json.RawMessage, upsert bool) (opRequest, error) {
	var r opRequest
	if len(raw) == 0 {
		return r, nil
	}
	if raw[0] == '{' {
		// Fast path: for plain objects with ASCII field names, no duplicates
		// and the expected types, mapstructure's result equals the save
		// item decoding (FuzzOpRequest checks it).
		p := fastParser{c: canonicalizer{in: raw}}
		var it state.SetRequest
		if p.item(&it) {
			if p.c.skipWS(); p.c.pos == len(raw) {
				r = opRequest{Key: it.Key, ETag: it.ETag, Metadata: it.Metadata,
					Concurrency: it.Options.Concurrency, Consistency: it.Options.Consistency}
				if upsert {
					r.Value = it.Value
				}
				return r, nil
			}
		}
	}
	return decodeOpRequestSlow(raw, upsert)
}

// decodeOpRequestSlow is the reference emulation of mapstructure.Decode.
func decodeOpRequestSlow(raw json.RawMessage, upsert bool) (opRequest, error) {
	var r opRequest
	var generic any
	if err := json.Unmarshal(raw, &generic); err != nil {
		return r, err
	}
	if generic == nil {
		return r, nil
	}
	m, ok := generic.(map[string]any)
	if !ok {
		return r, fmt.Errorf("'' expected a map, got '%s'", goKindName(generic))
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var errs mapError
	if k, ok := findField(keys, m, "Key"); ok {
		r.Key, _ = decodeStringField("Key", m[k], &errs)
	}
	if upsert {
		if k, ok := findField(keys, m, "Value"); ok && m[k] != nil {
			var members map[string]json.RawMessage
			if err := json.Unmarshal(raw, &members); err != nil {
				return r, err
			}
			r.Value = members[k]
		}
	}
	if k, ok := findField(keys, m, "ETag"); ok {
		if s, set := decodeStringField("ETag", m[k], &errs); set {
			r.ETag = &s
		}
	}
	if k, ok := findField(keys, m, "Metadata"); ok {
		switch md := m[k].(type) {
		case nil:
		case map[string]any:
			r.Metadata = make(map[string]string, len(md))
			for mk, mv := range md {
				s, _ := decodeStringField("Metadata["+mk+"]", mv, &errs)
				r.Metadata[mk] = s
			}
		default:
			errs = append(errs, fmt.Sprintf("'Metadata' expected a map, got '%s'", goKindName(md)))
		}
	}
	if k, ok := findField(keys, m, "Options"); ok {
		switch om := m[k].(type) {
		case nil:
		case map[string]any:
			okeys := make([]string, 0, len(om))
			for ok := range om {
				okeys = append(okeys, ok)
			}
			sort.Strings(okeys)
			if k2, ok := findField(okeys, om, "Concurrency"); ok {
				r.Concurrency, _ = decodeStringField("Options.Concurrency", om[k2], &errs)
			}
			if k2, ok := findField(okeys, om, "Consistency"); ok {
				r.Consistency, _ = decodeStringField("Options.Consistency", om[k2], &errs)
			}
		default:
			errs = append(errs, fmt.Sprintf("'Options' expected a map, got '%s'", goKindName(om)))
		}
	}
	if upsert {
		if k, ok := findField(keys, m, "ContentType"); ok {
			decodeStringField("ContentType", m[k], &errs)
		}
	}
	if len(errs) > 0 {
		return r, errs
	}
	return r, nil
}
