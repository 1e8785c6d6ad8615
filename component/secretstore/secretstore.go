package secretstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
)

// FeatureMultipleKeyValuesPerSecret is the capability of a store whose
// secrets hold several key/value pairs (local.file with multiValued).
const FeatureMultipleKeyValuesPerSecret = "MULTIPLE_KEY_VALUES_PER_SECRET"

// Store is a secret store.
type Store interface {
	// Get returns the key/value pairs of secret name.
	Get(ctx context.Context, name string, meta map[string]string) (map[string]string, error)
	// BulkGet returns every secret of the store, by name.
	BulkGet(ctx context.Context, meta map[string]string) (map[string]map[string]string, error)
	// Features lists the store's capabilities (nil for none).
	Features() []string
}

// Options are what a store reads from its surroundings.
type Options struct {
	// Lookup reads one environment variable; nil means os.LookupEnv.
	Lookup func(string) (string, bool)
	// Environ lists the environment as "NAME=value"; nil means os.Environ.
	Environ func() []string
}

// ErrUnknownType is returned by Open for a type this package does not
// implement; its text is completed with the type and version.
var ErrUnknownType = errors.New("couldn't find secret store")

// Open creates the store of type typ ("secretstores.local.env" or
// "secretstores.local.file", case-insensitive) from its metadata.
// Metadata names are matched case-insensitively, as daprd does.
func Open(typ, version string, meta map[string]string, o Options) (Store, error) {
	if o.Lookup == nil {
		o.Lookup = os.LookupEnv
	}
	if o.Environ == nil {
		o.Environ = os.Environ
	}
	switch strings.ToLower(typ) {
	case "secretstores.local.env":
		p, _ := lookupMeta(meta, "prefix")
		return &envStore{prefix: p, o: o}, nil
	case "secretstores.local.file":
		return openFile(meta)
	}
	return nil, fmt.Errorf("%w %s/%s", ErrUnknownType, typ, version)
}

func lookupMeta(meta map[string]string, name string) (string, bool) {
	if v, ok := meta[name]; ok {
		return v, true
	}
	for k, v := range meta {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return "", false
}

// envStore is secretstores.local.env: each environment variable is a secret
// holding one pair, its name and value. Names are read with the store's
// prefix prepended (and listed with it removed). APP_API_TOKEN and DAPR_*
// (case-insensitive, after the prefix) are never returned: Get answers them
// with an empty value and BulkGet leaves them out.
type envStore struct {
	prefix string
	o      Options
}

func envAllowed(name string) bool {
	u := strings.ToUpper(name)
	return u != "APP_API_TOKEN" && !strings.HasPrefix(u, "DAPR_")
}

func (s *envStore) Get(_ context.Context, name string, _ map[string]string) (map[string]string, error) {
	var v string
	if full := s.prefix + name; envAllowed(full) {
		v, _ = s.o.Lookup(full)
	}
	return map[string]string{name: v}, nil
}

func (s *envStore) BulkGet(context.Context, map[string]string) (map[string]map[string]string, error) {
	env := s.o.Environ()
	out := make(map[string]map[string]string, len(env))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if s.prefix != "" && (len(k) <= len(s.prefix) || k[:len(s.prefix)] != s.prefix) {
			continue
		}
		if !envAllowed(k) {
			continue
		}
		n := k[len(s.prefix):]
		out[n] = map[string]string{n: v}
	}
	return out, nil
}

func (s *envStore) Features() []string { return nil }

// fileStore is secretstores.local.file: a JSON file read once at Open.
//
// Without multiValued, nested objects and arrays are flattened into one
// secret per leaf, named by the path joined with nestedSeparator (default
// ":"; array elements by index), each holding the pair (name, value). With
// multiValued, each top-level string is a secret of one pair and each
// top-level object a secret whose pairs are its leaves, flattened the same
// way relative to it; other top-level values are ignored, as in daprd.
type fileStore struct {
	single map[string]string            // without multiValued
	multi  map[string]map[string]string // with multiValued
}

func openFile(meta map[string]string) (Store, error) {
	path, _ := lookupMeta(meta, "secretsFile")
	sep, _ := lookupMeta(meta, "nestedSeparator")
	if sep == "" {
		sep = ":"
	}
	multi := false
	if v, ok := lookupMeta(meta, "multiValued"); ok && v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("invalid value %q for multiValued: %w", v, err)
		}
		multi = b
	}
	if path == "" {
		return nil, errors.New("missing local secrets file in metadata")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var root map[string]any
	if err := dec.Decode(&root); err != nil {
		return nil, err
	}
	if !multi {
		out := map[string]string{}
		flatten(out, "", sep, root)
		return &fileStore{single: out}, nil
	}
	out := map[string]map[string]string{}
	for k, v := range root {
		switch x := v.(type) {
		case string:
			out[k] = map[string]string{k: x}
		case map[string]any:
			m := map[string]string{}
			flatten(m, "", sep, x)
			out[k] = m
		}
	}
	return &fileStore{multi: out}, nil
}

// flatten adds the leaves of v under prefix. Keys are visited in sorted
// order and the first leaf of a name wins, so a file whose flattened names
// collide ({"a:b":"1","a":{"b":"2"}}) loads the same way every time.
func flatten(out map[string]string, prefix, sep string, v any) {
	join := func(k string) string {
		if prefix == "" {
			return k
		}
		return prefix + sep + k
	}
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			flatten(out, join(k), sep, x[k])
		}
	case []any:
		for i, e := range x {
			flatten(out, join(strconv.Itoa(i)), sep, e)
		}
	default:
		if _, dup := out[prefix]; !dup {
			out[prefix] = leaf(x)
		}
	}
}

// leaf renders a JSON scalar: strings as they are, numbers in their written
// form, booleans as true/false, null as "".
func leaf(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	}
	return ""
}

func (s *fileStore) Get(_ context.Context, name string, _ map[string]string) (map[string]string, error) {
	if s.multi != nil {
		if m, ok := s.multi[name]; ok {
			return copyMap(m), nil
		}
	} else if v, ok := s.single[name]; ok {
		return map[string]string{name: v}, nil
	}
	return nil, fmt.Errorf("secret %s not found", name)
}

func (s *fileStore) BulkGet(context.Context, map[string]string) (map[string]map[string]string, error) {
	if s.multi != nil {
		out := make(map[string]map[string]string, len(s.multi))
		for k, m := range s.multi {
			out[k] = copyMap(m)
		}
		return out, nil
	}
	out := make(map[string]map[string]string, len(s.single))
	for k, v := range s.single {
		out[k] = map[string]string{k: v}
	}
	return out, nil
}

func (s *fileStore) Features() []string {
	if s.multi != nil {
		return []string{FeatureMultipleKeyValuesPerSecret}
	}
	return nil
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
