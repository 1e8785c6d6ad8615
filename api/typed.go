package api

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/statecar/statecar/component"
)

const contentTypeJSON = "application/json"

// Get reads one key (gRPC GetState). A missing key is not an error:
// Found is false. The result's slices are freshly allocated.
func (s *State) Get(ctx context.Context, store, key string, consistency string, meta Metadata) (GetResult, *Error) {
	var out GetResult
	e, err := s.lookupString(store, true)
	if err != nil {
		return out, err
	}
	if hasSep(key) {
		return out, errIllegalKey(e.name, key, key)
	}
	if aerr := s.get(ctx, e, []byte(key), []byte(consistency), meta, &out); aerr != nil {
		return GetResult{}, aerr
	}
	return out, nil
}

// BulkGet reads keys (gRPC GetBulkState), one item per key in request
// order. parallelism <= 0 means unlimited. A missing key yields an item with
// only Key set.
func (s *State) BulkGet(ctx context.Context, store string, keys []string, parallelism int, meta Metadata) ([]BulkItem, *Error) {
	e, err := s.lookupString(store, true)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return []BulkItem{}, nil
	}
	items, err := s.bulkGet(ctx, e, keys, parallelism, meta)
	if err != nil {
		return nil, err
	}
	out := make([]BulkItem, len(items))
	for i, it := range items {
		b := BulkItem{Key: OriginalKey(it.Key), Error: it.Error}
		if it.Error == "" && it.Found {
			b.Data, b.ETag = it.Data, it.ETag
			if !it.Expiry.IsZero() {
				b.Metadata = Metadata{"ttlExpireTime": formatTTL(it.Expiry)}
			}
		}
		out[i] = b
	}
	return out, nil
}

// Save writes items (gRPC SaveState). Values are stored verbatim unless
// the item metadata has contentType "application/json" (then the value is
// re-serialised like an HTTP save; invalid JSON fails with code Unknown).
func (s *State) Save(ctx context.Context, store string, items []Item) *Error {
	e, err := s.lookupString(store, true)
	if err != nil {
		return err
	}
	if len(items) == 0 {
		return nil
	}
	// One pass, item by item as daprd: empty key, illegal key, then the
	// JSON value; the first failure wins and nothing is written.
	reqs := make([]component.SetRequest, len(items))
	for i, it := range items {
		if it.Key == "" {
			return &Error{status: http.StatusBadRequest, code: codes.InvalidArgument, tag: CodeStateSave,
				msg: "state key cannot be empty", grpcMsg: "state key cannot be empty"}
		}
		if hasSep(it.Key) {
			return errIllegalKey(e.name, it.Key, it.Key)
		}
		reqs[i] = component.SetRequest{
			Key: e.prefix + it.Key, Value: it.Value, ETag: etagPtr(it.ETag), Metadata: it.Metadata,
			Options: component.StateOptions{Concurrency: it.Concurrency, Consistency: it.Consistency},
		}
		if it.Metadata["contentType"] != contentTypeJSON {
			continue
		}
		v, cerr := Canonicalize(make([]byte, 0, len(it.Value)), it.Value)
		if cerr != nil {
			var generic any
			jerr := json.Unmarshal(it.Value, &generic)
			if jerr == nil { // cannot happen: Canonicalize accepts all valid JSON
				return errUnknownRaw(cerr.Error())
			}
			return errUnknownRaw(jerr.Error())
		}
		reqs[i].Value = v
	}
	return s.save(ctx, e, reqs)
}

// Delete deletes one key (gRPC DeleteState). No empty-key check.
func (s *State) Delete(ctx context.Context, store string, item Item) *Error {
	e, err := s.lookupString(store, true)
	if err != nil {
		return err
	}
	if hasSep(item.Key) {
		return errIllegalKey(e.name, item.Key, item.Key)
	}
	return s.deleteOne(ctx, e, item.Key, deleteReq(e, item))
}

func deleteReq(e *storeEntry, item Item) component.DeleteRequest {
	return component.DeleteRequest{
		Key: e.prefix + item.Key, ETag: etagPtr(item.ETag), Metadata: item.Metadata,
		Options: component.StateOptions{Concurrency: item.Concurrency, Consistency: item.Consistency},
	}
}

// BulkDelete deletes keys (gRPC DeleteBulkState). No empty-key check; all
// keys are validated before anything is deleted.
func (s *State) BulkDelete(ctx context.Context, store string, items []Item) *Error {
	e, err := s.lookupString(store, true)
	if err != nil {
		return err
	}
	if len(items) == 0 {
		return nil
	}
	reqs := make([]component.DeleteRequest, len(items))
	for i, it := range items {
		if hasSep(it.Key) {
			return errIllegalKey(e.name, it.Key, it.Key)
		}
		reqs[i] = deleteReq(e, it)
	}
	start := time.Now()
	serr := e.store.BulkDelete(ctx, reqs)
	e.record(opBulkDelete, start, serr == nil)
	if serr != nil {
		return storeFailure(singleErr(serr, len(reqs)), CodeStateBulkDelete, "failed deleting state in state store "+e.name+": ")
	}
	return nil
}

// Transaction executes operations atomically (gRPC
// ExecuteStateTransaction); meta is the transaction-level metadata. Upsert
// values are stored verbatim.
func (s *State) Transaction(ctx context.Context, store string, ops []TxOp, meta Metadata) *Error {
	e, err := s.lookupString(store, true)
	if err != nil {
		return err
	}
	if !e.tx {
		return errTxNotSupported(e.name)
	}
	cops := make([]component.Operation, len(ops))
	for i, o := range ops {
		it := o.Item
		// daprd checks the key before the operation type, and its gRPC
		// handler keeps the key as the BadRequest field (only the HTTP
		// one blanks it).
		if hasSep(it.Key) {
			return errIllegalKey(e.name, it.Key, it.Key)
		}
		switch o.Operation {
		case opUpsert:
			cops[i] = component.Operation{Kind: component.OpUpsert, Set: component.SetRequest{
				Key: e.prefix + it.Key, Value: it.Value, ETag: etagPtr(it.ETag), Metadata: it.Metadata,
				Options: component.StateOptions{Concurrency: it.Concurrency, Consistency: it.Consistency}}}
		case opDeleteName:
			cops[i] = component.Operation{Kind: component.OpDelete, Delete: deleteReq(e, it)}
		default:
			return errNotSupportedOp(o.Operation)
		}
	}
	if len(cops) == 0 {
		return nil
	}
	return s.multi(ctx, e, cops, meta)
}

// Query runs a query (gRPC QueryStateAlpha1); query is the JSON text. No
// results is an empty Results slice.
func (s *State) Query(ctx context.Context, store string, query []byte, meta Metadata) (*QueryResult, *Error) {
	e, err := s.lookupString(store, false)
	if err != nil {
		return nil, err
	}
	return s.query(ctx, e, query, meta)
}
