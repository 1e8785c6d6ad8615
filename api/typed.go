package api

import "context"

// Get reads one key (gRPC GetState). A missing key is not an error:
// Found is false.
func (s *State) Get(ctx context.Context, store, key string, consistency string, meta Metadata) (GetResult, *Error) {
	return GetResult{}, errNotImplemented
}

// BulkGet reads keys (gRPC GetBulkState), one item per key in request
// order. parallelism <= 0 means unlimited.
func (s *State) BulkGet(ctx context.Context, store string, keys []string, parallelism int, meta Metadata) ([]BulkItem, *Error) {
	return nil, errNotImplemented
}

// Save writes items (gRPC SaveState). Values are stored verbatim unless
// the item metadata has contentType "application/json" (then the value is
// re-serialised like an HTTP save).
func (s *State) Save(ctx context.Context, store string, items []Item) *Error {
	return errNotImplemented
}

// Delete deletes one key (gRPC DeleteState).
func (s *State) Delete(ctx context.Context, store string, item Item) *Error {
	return errNotImplemented
}

// BulkDelete deletes keys (gRPC DeleteBulkState).
func (s *State) BulkDelete(ctx context.Context, store string, items []Item) *Error {
	return errNotImplemented
}

// Transaction executes operations atomically (gRPC
// ExecuteStateTransaction); meta is the transaction-level metadata. Upsert
// values are stored verbatim.
func (s *State) Transaction(ctx context.Context, store string, ops []TxOp, meta Metadata) *Error {
	return errNotImplemented
}

// Query runs a query (gRPC QueryStateAlpha1); query is the JSON text. No
// results is an empty Results slice.
func (s *State) Query(ctx context.Context, store string, query []byte, meta Metadata) (*QueryResult, *Error) {
	return nil, errNotImplemented
}
