package component

import (
	"context"
	"time"
)

// Feature is a state store capability, spelled as daprd reports it in
// /v1.0/metadata (components[].capabilities).
type Feature string

// State store features (daprd names).
const (
	FeatureETag             Feature = "ETAG"
	FeatureTransactional    Feature = "TRANSACTIONAL"
	FeatureQueryAPI         Feature = "QUERY_API"
	FeatureTTL              Feature = "TTL"
	FeatureDeleteWithPrefix Feature = "DELETE_WITH_PREFIX"
	FeaturePartitionKey     Feature = "PARTITION_KEY"
	// FeatureActor is not declared by stores: daprd appends it when a store
	// has both ETAG and TRANSACTIONAL. See Capabilities.
	FeatureActor Feature = "ACTOR"
)

// Capabilities returns the capability list daprd shows for a store with the
// given features: the features in order, plus ACTOR when both ETAG and
// TRANSACTIONAL are present.
func Capabilities(fs []Feature) []string {
	out := make([]string, 0, len(fs)+1)
	var etag, tx bool
	for _, f := range fs {
		out = append(out, string(f))
		etag = etag || f == FeatureETag
		tx = tx || f == FeatureTransactional
	}
	if etag && tx {
		out = append(out, string(FeatureActor))
	}
	return out
}

// HasFeature reports whether fs contains f.
func HasFeature(fs []Feature, f Feature) bool {
	for _, x := range fs {
		if x == f {
			return true
		}
	}
	return false
}

// Concurrency and consistency option values, as Dapr spells them. The empty
// string means "not given" (last-write / store default).
const (
	FirstWrite = "first-write"
	LastWrite  = "last-write"
	Strong     = "strong"
	Eventual   = "eventual"
)

// StateOptions are the per-request options of the Dapr State API. Values are
// passed through unvalidated; stores reject unknown non-empty values with
// ErrUnrecognizedConcurrency / ErrUnrecognizedConsistency texts (see
// CheckOptions).
type StateOptions struct {
	Concurrency string
	Consistency string
}

// GetRequest asks for one key.
//
// Key is the stored (prefixed) key. It is a view that is valid only for the
// duration of the Get call; stores must not retain it.
type GetRequest struct {
	Key         []byte
	Metadata    map[string]string
	Consistency string
}

// GetResponse is filled by Store.Get. Stores append into Data[:0] and
// ETag[:0] so that a caller may reuse the buffers across calls (the GET hot
// path is allocation-free this way).
type GetResponse struct {
	// Found is false when the key does not exist or has expired.
	Found bool
	// Data is the stored bytes, verbatim.
	Data []byte
	// ETag is the item's ETag; empty when the store has none.
	ETag []byte
	// Expiry is when the item expires; the zero Time means no TTL.
	Expiry time.Time
}

// BulkGetItem is one element of a bulk get result, in request order.
type BulkGetItem struct {
	Key    string // the key as requested (stored key; the API strips prefixes)
	Found  bool
	Data   []byte
	ETag   string
	Expiry time.Time
	Error  string // per-key failure; then Found is false
}

// SetRequest writes one key.
type SetRequest struct {
	Key string // stored (prefixed) key
	// Value is the bytes to store, already encoded by the API layer. It is
	// valid only until the store call returns (the API layer reuses the
	// buffer): stores copy or send it during the call, never retain it.
	Value []byte
	// ETag is the expected current ETag. nil means no ETag; the API layer
	// turns an empty string into nil before calling a store.
	ETag     *string
	Metadata map[string]string // e.g. ttlInSeconds
	Options  StateOptions
}

// DeleteRequest deletes one key.
type DeleteRequest struct {
	Key      string
	ETag     *string // nil = none (empty already turned into nil)
	Metadata map[string]string
	Options  StateOptions
}

// OpKind says what a transaction operation does.
type OpKind uint8

// Transaction operation kinds.
const (
	OpUpsert OpKind = iota + 1
	OpDelete
)

// Operation is one step of a transaction: Set is used for OpUpsert, Delete
// for OpDelete.
type Operation struct {
	Kind   OpKind
	Set    SetRequest
	Delete DeleteRequest
}

// TransactionRequest is an atomic list of operations. Conditions are checked
// against the state before the transaction; operations then apply in order
// (a later operation on the same key overrides an earlier one).
type TransactionRequest struct {
	Operations []Operation
	Metadata   map[string]string // transaction-level metadata (not per-item TTL)
}

// Store is a state store. All methods are safe for concurrent use.
//
// Error contract (the API layer maps these to daprd's status codes):
//   - *ETagError (kind ETagMismatch or ETagInvalid) for failed conditions;
//     use the NewETag*Error helpers so texts match daprd's in-memory store.
//   - *BulkError from BulkSet/BulkDelete when several items failed.
//   - any other error is a plain store failure (500 on HTTP, Internal on gRPC).
type Store interface {
	// Features lists the store's capabilities (without ACTOR).
	Features() []Feature
	// Get reads one key into resp. A missing or expired key is not an
	// error: resp.Found is false.
	Get(ctx context.Context, req *GetRequest, resp *GetResponse) error
	// BulkGet reads keys and returns one item per key in request order.
	// parallelism <= 0 means unlimited.
	BulkGet(ctx context.Context, keys []string, metadata map[string]string, parallelism int) ([]BulkGetItem, error)
	// BulkSet writes the items. statecar stores check every condition first
	// and write nothing if any fails (atomic where the backend allows; see
	// docs/compatibility.md). One item is a plain single write.
	BulkSet(ctx context.Context, reqs []SetRequest) error
	// BulkDelete deletes the items, with the same all-or-nothing rule.
	BulkDelete(ctx context.Context, reqs []DeleteRequest) error
	// Multi executes a transaction atomically. Only called when Features
	// contains FeatureTransactional.
	Multi(ctx context.Context, req *TransactionRequest) error
	// Close releases the store, making every acknowledged write durable.
	Close() error
}

// Querier is implemented by stores that offer the alpha query API
// (Feature QUERY_API).
type Querier interface {
	Query(ctx context.Context, req *QueryRequest) (*QueryResponse, error)
}

// InlineReader is implemented by stores whose Get never waits on the
// network or on an fsync (the embedded engine: memory and local page reads
// only). The HTTP transport serves GET on its event loop only when every
// store is an InlineReader returning true; otherwise GET runs off the event
// loop like the write routes, so a network round trip to Redis or PostgreSQL
// never stalls the other connections of that loop.
type InlineReader interface {
	InlineReads() bool
}

// MaxOpsStore is implemented by stores that limit the operations of one
// transaction (daprd's TransactionalStoreMultiMaxSize).
type MaxOpsStore interface {
	MultiMaxSize() int
}

// QueryRequest carries a parsed query (see package api/query for the
// language) as its raw JSON plus the parsed form.
type QueryRequest struct {
	// Query is the parsed query. Its concrete type is *query.Query from
	// package github.com/statecar/statecar/component/query.
	Query    any
	Metadata map[string]string
}

// QueryItem is one query result.
type QueryItem struct {
	Key   string // stored key; the API layer strips the prefix
	Data  []byte
	ETag  string
	Error string
}

// QueryResponse is a page of query results.
type QueryResponse struct {
	Results  []QueryItem
	Token    string
	Metadata map[string]string
}
