package api

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/statecar/statecar/component"
)

// Metadata is request or response metadata (name -> value).
type Metadata = map[string]string

// Config configures a State.
type Config struct {
	// AppID is --app-id; it is the default key prefix.
	AppID string
	// Namespace is the NAMESPACE environment value ("" in standalone mode);
	// used by keyPrefix "namespace" and as the metrics namespace label.
	Namespace string
	// Stores are the loaded state stores, in component load order.
	Stores []StoreEntry
	// MaxBodySize is --max-body-size in bytes. The transport enforces it and
	// passes bodyTooLarge to the HTTP entry points; kept here for reference.
	MaxBodySize int64
	// DisableMetrics turns off dapr_component_state_* recording (tests).
	DisableMetrics bool
	// LatencyBuckets are the latency histogram upper bounds in ms; nil
	// means daprd's defaults.
	LatencyBuckets []float64
}

// StoreEntry is one loaded state store. The key prefix strategy is read from
// Spec metadata "keyPrefix" (name matched case-insensitively).
type StoreEntry struct {
	Spec  component.Spec
	Store component.Store
}

// ComponentInfo describes a loaded store for /v1.0/metadata.
type ComponentInfo struct {
	Name         string
	Type         string
	Version      string
	Capabilities []string
}

// GetResult is the result of a single get. The byte slices are owned by the
// GetResult and are overwritten by the next call that reuses it.
type GetResult struct {
	// Found is false for a missing or expired key.
	Found bool
	// Data is the stored value, verbatim.
	Data []byte
	// ETag is the item's ETag (empty when the store has none).
	ETag []byte
	// TTLExpireTime is the expiry as RFC 3339 UTC with second precision,
	// empty when the item has no TTL.
	TTLExpireTime []byte

	req  component.GetRequest
	resp component.GetResponse
	key  []byte
}

// Item is one state item of the typed (gRPC-shaped) family.
type Item struct {
	Key   string
	Value []byte
	// ETag is the expected ETag; nil or "" means none.
	ETag        *string
	Metadata    Metadata
	Concurrency string
	Consistency string
}

// BulkItem is one element of a typed bulk get, in request order.
type BulkItem struct {
	Key      string // client key (prefix stripped)
	Data     []byte // nil when missing or on error
	ETag     string
	Metadata Metadata // {"ttlExpireTime": ...} when the item has a TTL
	Error    string
}

// TxOp is one transaction operation of the typed family. Operation must be
// exactly "upsert" or "delete".
type TxOp struct {
	Operation string
	Item      Item
}

// QueryItem is one query result.
type QueryItem struct {
	Key   string // client key (prefix stripped)
	Data  []byte
	ETag  string
	Error string
}

// QueryResult is one page of query results.
type QueryResult struct {
	Results  []QueryItem
	Token    string
	Metadata Metadata
}

// State is the transport-free State API. All methods are safe for
// concurrent use; the store set is fixed at New.
type State struct {
	appID     string
	namespace string
	// stores and order are read-only after New.
	stores map[string]*storeEntry
	order  []*storeEntry
}

// storeEntry is one store with its derived, read-only settings.
type storeEntry struct {
	name     string
	spec     component.Spec
	store    component.Store
	features []component.Feature
	tx       bool
	querier  component.Querier
	maxOps   int
	// prefix is prepended to client keys ("" or "<p>||").
	prefix string
	m      *storeMetrics // nil when metrics are disabled
}

// New builds a State over the loaded stores. It fails when a store's
// keyPrefix is a custom value containing "||" or a name is duplicated.
func New(cfg Config) (*State, error) {
	s := &State{appID: cfg.AppID, namespace: cfg.Namespace, stores: make(map[string]*storeEntry, len(cfg.Stores))}
	for _, se := range cfg.Stores {
		if se.Store == nil {
			return nil, fmt.Errorf("cannot add state store %s: nil store", se.Spec.Name)
		}
		if _, dup := s.stores[se.Spec.Name]; dup {
			return nil, fmt.Errorf("cannot add state store %s: duplicate name", se.Spec.Name)
		}
		prefix, err := keyPrefixFor(se.Spec, cfg.AppID, cfg.Namespace)
		if err != nil {
			return nil, err
		}
		e := &storeEntry{name: se.Spec.Name, spec: se.Spec, store: se.Store, features: se.Store.Features(), prefix: prefix}
		e.tx = component.HasFeature(e.features, component.FeatureTransactional)
		e.querier, _ = se.Store.(component.Querier)
		if mo, ok := se.Store.(component.MaxOpsStore); ok {
			e.maxOps = mo.MultiMaxSize()
		}
		if !cfg.DisableMetrics {
			e.m = newStoreMetrics(cfg.AppID, cfg.Namespace, e.name, cfg.LatencyBuckets)
		}
		s.stores[e.name] = e
		s.order = append(s.order, e)
	}
	return s, nil
}

// keyPrefixFor derives the stored-key prefix from the keyPrefix metadata
// (state-http.md §4).
func keyPrefixFor(spec component.Spec, appID, namespace string) (string, error) {
	v, given := spec.Meta("keyPrefix")
	v = strings.ToLower(v)
	if given && v == "" {
		// Present but empty is daprd's custom prefix "" (its
		// SaveStateConfiguration keeps the value; GetModifiedStateKey then
		// writes "||key"), not the default.
		return "||", nil
	}
	switch v {
	case "", "appid":
		if appID == "" {
			return "", nil
		}
		return appID + "||", nil
	case "name":
		return spec.Name + "||", nil
	case "namespace":
		if appID == "" {
			return "", nil
		}
		if namespace == "" {
			return appID + "||", nil
		}
		return namespace + "." + appID + "||", nil
	case "none":
		return "", nil
	default:
		if strings.Contains(v, "||") {
			return "", fmt.Errorf("cannot init state store %s: input key/keyPrefix '%s' can't contain '||'", spec.Name, v)
		}
		return v + "||", nil
	}
}

// OriginalKey converts a stored key back to the client key like daprd's
// GetOriginalStateKey: split on "||" into at most 3 parts; one part is
// returned unchanged, otherwise the second part.
func OriginalKey(stored string) string {
	i := strings.Index(stored, "||")
	if i < 0 {
		return stored
	}
	rest := stored[i+2:]
	if j := strings.Index(rest, "||"); j >= 0 {
		return rest[:j]
	}
	return rest
}

// Components lists the loaded stores in load order.
func (s *State) Components() []ComponentInfo {
	out := make([]ComponentInfo, 0, len(s.order))
	for _, e := range s.order {
		out = append(out, ComponentInfo{Name: e.name, Type: e.spec.Type, Version: e.spec.Version, Capabilities: component.Capabilities(e.features)})
	}
	return out
}

// InlineReads reports whether every store serves reads without waiting on
// the network or an fsync (component.InlineReader), so that a transport may
// run GET on an event loop. False when any store is remote.
func (s *State) InlineReads() bool {
	for _, e := range s.order {
		ir, ok := e.store.(component.InlineReader)
		if !ok || !ir.InlineReads() {
			return false
		}
	}
	return true
}

// Close closes every store, in reverse load order, and returns the joined
// errors.
func (s *State) Close() error {
	var errs []error
	for i := len(s.order) - 1; i >= 0; i-- {
		if err := s.order[i].store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("cannot close state store %s: %w", s.order[i].name, err))
		}
	}
	return errors.Join(errs...)
}

// lookup finds a store; withAppID selects the HTTP ErrorInfo metadata.
// The []byte->string conversion in the map index does not allocate.
func (s *State) lookup(name []byte, withAppID bool) (*storeEntry, *Error) {
	if e, ok := s.stores[string(name)]; ok {
		return e, nil
	}
	if len(s.stores) == 0 {
		return nil, errNotConfigured(string(name), s.appID, withAppID)
	}
	return nil, errNotFound(string(name), s.appID, withAppID)
}

func (s *State) lookupString(name string, withAppID bool) (*storeEntry, *Error) {
	if e, ok := s.stores[name]; ok {
		return e, nil
	}
	if len(s.stores) == 0 {
		return nil, errNotConfigured(name, s.appID, withAppID)
	}
	return nil, errNotFound(name, s.appID, withAppID)
}

// appendTTL appends t as RFC 3339 UTC with second precision.
func appendTTL(dst []byte, t time.Time) []byte {
	return t.UTC().AppendFormat(dst, time.RFC3339)
}

func formatTTL(t time.Time) string {
	return t.UTC().Format(time.RFC3339)
}
