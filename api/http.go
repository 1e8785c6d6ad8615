package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"time"

	"google.golang.org/grpc/codes"

	daprhttp "github.com/statecar/statecar/api/internal/daprhttp"
	"github.com/statecar/statecar/api/internal/state"
	"github.com/statecar/statecar/component"
	"github.com/statecar/statecar/component/query"
)

const (
	deserializePrefix = "failed deserializing HTTP body: "
	msgTooLarge       = "stream too large"
	opUpsert          = "upsert"
	opDeleteName      = "delete"
)

// HTTPGet reads one key (GET /v1.0/state/{store}/{key}). store and key are
// already path-unescaped; consistency is the "consistency" query parameter
// (may be nil); meta holds the metadata.* query parameters. out is filled
// and may be reused across calls: the hit path does not allocate then. The
// views in out stay valid until out is reused.
func (s *State) HTTPGet(ctx context.Context, store, key []byte, consistency []byte, meta Metadata, out *GetResult) *Error {
	e, err := s.lookup(store, true)
	if err != nil {
		return err
	}
	if hasSepBytes(key) {
		return errIllegalKey(e.name, string(key), string(key))
	}
	return s.get(ctx, e, key, consistency, meta, out)
}

// get is the shared single-key read.
func (s *State) get(ctx context.Context, e *storeEntry, key []byte, consistency []byte, meta Metadata, out *GetResult) *Error {
	out.key = append(append(out.key[:0], e.prefix...), key...)
	out.req = component.GetRequest{Key: out.key, Metadata: meta}
	if len(consistency) > 0 {
		out.req.Consistency = string(consistency)
	}
	out.resp.Found = false
	out.resp.Data = out.resp.Data[:0]
	out.resp.ETag = out.resp.ETag[:0]
	out.resp.Expiry = time.Time{}
	start := time.Now()
	serr := e.store.Get(ctx, &out.req, &out.resp)
	e.record(opGet, start, serr == nil)
	if serr != nil {
		out.Found = false
		return basic(http.StatusInternalServerError, codes.Internal, CodeStateGet,
			"fail to get "+string(key)+" from state store "+e.name+": "+serr.Error())
	}
	out.Found = out.resp.Found
	out.Data = out.resp.Data
	out.ETag = out.resp.ETag
	out.TTLExpireTime = out.TTLExpireTime[:0]
	if out.Found && !out.resp.Expiry.IsZero() {
		out.TTLExpireTime = appendTTL(out.TTLExpireTime, out.resp.Expiry)
	}
	return nil
}

// HTTPSave saves items (POST|PUT /v1.0/state/{store}); body is the raw
// request body; bodyTooLarge reports that the body exceeded
// --max-body-size. Success is 204.
func (s *State) HTTPSave(ctx context.Context, store []byte, body []byte, bodyTooLarge bool, meta Metadata) *Error {
	e, aerr := s.lookup(store, true)
	if aerr != nil {
		return aerr
	}
	if bodyTooLarge {
		return NewMalformedRequest(msgTooLarge)
	}
	sc := getSaveScratch()
	defer putSaveScratch(sc)
	items, ok := fastDecodeSave(body, sc.items[:0])
	if ok {
		sc.items = items
	} else {
		var slow []state.SetRequest // a separate variable: &slow escapes, items must not
		if err := json.NewDecoder(bytes.NewReader(body)).Decode(&slow); err != nil {
			return NewMalformedRequest(err.Error())
		}
		items = slow
	}
	if len(items) == 0 {
		return nil
	}
	for i := range items {
		it := &items[i]
		if it.Key == "" {
			return NewMalformedRequest(`"key" is a required field`)
		}
		if hasSep(it.Key) {
			return errIllegalKey(e.name, it.Key, it.Key)
		}
	}
	size := 0
	for i := range items {
		size += len(e.prefix) + len(items[i].Key)
	}
	kb := make([]byte, 0, size)
	reqs := sc.reqs[:0]
	vals := sc.vals[:0]
	for i := range items {
		it := &items[i]
		start := len(vals)
		vals = appendCanonicalValue(vals, it.Value)
		var key string
		kb, key = appendKey(kb, e.prefix, it.Key)
		reqs = append(reqs, component.SetRequest{
			Key:      key,
			Value:    vals[start:len(vals):len(vals)],
			ETag:     etagPtr(it.ETag),
			Metadata: mergeMeta(it.Metadata, meta),
			Options:  component.StateOptions{Concurrency: it.Options.Concurrency, Consistency: it.Options.Consistency},
		})
	}
	sc.reqs, sc.vals = reqs, vals
	return s.save(ctx, e, reqs)
}

func (s *State) save(ctx context.Context, e *storeEntry, reqs []component.SetRequest) *Error {
	start := time.Now()
	err := e.store.BulkSet(ctx, reqs)
	e.record(opSet, start, err == nil)
	if err != nil {
		return storeFailure(singleErr(err, len(reqs)), CodeStateSave, "failed saving state in state store "+e.name+": ")
	}
	return nil
}

// HTTPBulkGet reads keys (POST|PUT /v1.0/state/{store}/bulk) and appends
// the JSON response body (ending in "\n") to dst. Success is 200.
func (s *State) HTTPBulkGet(ctx context.Context, store []byte, body []byte, bodyTooLarge bool, meta Metadata, dst []byte) ([]byte, *Error) {
	e, aerr := s.lookup(store, true)
	if aerr != nil {
		return dst, aerr
	}
	if bodyTooLarge {
		return dst, NewMalformedRequest(deserializePrefix + msgTooLarge)
	}
	var req daprhttp.BulkGetRequest
	if !fastDecodeBulk(body, &req) {
		req = daprhttp.BulkGetRequest{}
		if err := json.NewDecoder(bytes.NewReader(body)).Decode(&req); err != nil {
			return dst, NewMalformedRequest(deserializePrefix + err.Error())
		}
	}
	if len(req.Keys) == 0 {
		return append(dst, "[]\n"...), nil
	}
	items, aerr := s.bulkGet(ctx, e, req.Keys, req.Parallelism, mergeMeta(req.Metadata, meta))
	if aerr != nil {
		return dst, aerr
	}
	dst = append(dst, '[')
	for i, it := range items {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"key":`...)
		dst = appendJSONString(dst, OriginalKey(it.Key))
		if it.Found && it.Error == "" && len(it.Data) > 0 {
			dst = append(dst, `,"data":`...)
			dst = appendDataJSON(dst, it.Data)
		}
		if it.ETag != "" && it.Error == "" {
			dst = append(dst, `,"etag":`...)
			dst = appendJSONString(dst, it.ETag)
		}
		if it.Found && it.Error == "" && !it.Expiry.IsZero() {
			dst = append(dst, `,"metadata":{"ttlExpireTime":"`...)
			dst = appendTTL(dst, it.Expiry)
			dst = append(dst, `"}`...)
		}
		if it.Error != "" {
			dst = append(dst, `,"error":`...)
			dst = appendJSONString(dst, it.Error)
		}
		dst = append(dst, '}')
	}
	return append(dst, "]\n"...), nil
}

// bulkGet validates keys, prefixes them and calls the store.
func (s *State) bulkGet(ctx context.Context, e *storeEntry, keys []string, parallelism int, meta Metadata) ([]component.BulkGetItem, *Error) {
	for _, k := range keys {
		if hasSep(k) {
			return nil, errIllegalKey(e.name, k, k)
		}
	}
	size := 0
	for _, k := range keys {
		size += len(e.prefix) + len(k)
	}
	kb := make([]byte, 0, size)
	stored := make([]string, len(keys))
	for i, k := range keys {
		kb, stored[i] = appendKey(kb, e.prefix, k)
	}
	start := time.Now()
	items, err := e.store.BulkGet(ctx, stored, meta, parallelism)
	e.record(opBulkGet, start, err == nil)
	if err != nil {
		return nil, &Error{status: http.StatusInternalServerError, code: codes.Unknown, tag: CodeStateBulkGet,
			msg: err.Error(), grpcMsg: err.Error(), noGRPCEI: true}
	}
	return items, nil
}

// HTTPDelete deletes one key (DELETE /v1.0/state/{store}/{key}); ifMatch
// is the If-Match header (nil or empty = none), concurrency and
// consistency the query parameters. Success is 204.
func (s *State) HTTPDelete(ctx context.Context, store, key []byte, ifMatch []byte, concurrency, consistency []byte, meta Metadata) *Error {
	e, aerr := s.lookup(store, true)
	if aerr != nil {
		return aerr
	}
	k := string(key)
	if hasSep(k) {
		return errIllegalKey(e.name, k, k)
	}
	req := component.DeleteRequest{
		Key:      e.prefix + k,
		Metadata: meta,
		Options:  component.StateOptions{Concurrency: string(concurrency), Consistency: string(consistency)},
	}
	if len(ifMatch) > 0 {
		etag := string(ifMatch)
		req.ETag = &etag
	}
	return s.deleteOne(ctx, e, k, req)
}

func (s *State) deleteOne(ctx context.Context, e *storeEntry, clientKey string, req component.DeleteRequest) *Error {
	start := time.Now()
	err := e.store.BulkDelete(ctx, []component.DeleteRequest{req})
	e.record(opDelete, start, err == nil)
	if err != nil {
		return storeFailure(singleErr(err, 1), CodeStateDelete, "failed deleting state with key "+clientKey+": ")
	}
	return nil
}

// HTTPTransaction executes a transaction (POST|PUT
// /v1.0/state/{store}/transaction). Success is 204.
func (s *State) HTTPTransaction(ctx context.Context, store []byte, body []byte, bodyTooLarge bool, meta Metadata) *Error {
	e, aerr := s.lookup(store, true)
	if aerr != nil {
		return aerr
	}
	if !e.tx {
		return errTxNotSupported(e.name)
	}
	if bodyTooLarge {
		return NewMalformedRequest(deserializePrefix + msgTooLarge)
	}
	var req daprhttp.TransactionBody
	if !fastDecodeTx(body, &req) {
		var slow daprhttp.TransactionBody // a separate variable: &slow escapes, req must not
		if err := json.NewDecoder(bytes.NewReader(body)).Decode(&slow); err != nil {
			return NewMalformedRequest(deserializePrefix + err.Error())
		}
		req = slow
	}
	if len(req.Operations) == 0 {
		return nil
	}
	ops := make([]component.Operation, len(req.Operations))
	// Prefixed keys and canonical values of all operations share two
	// buffers (appendKey; values are sliced from vals as it grows, and
	// bytes once handed out are never written again).
	kb := make([]byte, 0, len(ops)*(len(e.prefix)+24)) // grows if keys are longer
	vals := make([]byte, 0, min(len(body), 16<<10))
	for i, o := range req.Operations {
		var upsert bool
		switch o.Operation {
		case opUpsert:
			upsert = true
		case opDeleteName:
		default:
			return errNotSupportedOp(o.Operation)
		}
		r, err := decodeOpRequest(o.Request, upsert)
		if err != nil {
			return NewMalformedRequest(deserializePrefix + err.Error())
		}
		if hasSep(r.Key) {
			return errIllegalKey(e.name, r.Key, "")
		}
		md := mergeMeta(r.Metadata, meta)
		opts := component.StateOptions{Concurrency: r.Concurrency, Consistency: r.Consistency}
		var key string
		kb, key = appendKey(kb, e.prefix, r.Key)
		if upsert {
			start := len(vals)
			vals = appendCanonicalValue(vals, r.Value)
			ops[i] = component.Operation{Kind: component.OpUpsert, Set: component.SetRequest{
				Key: key, Value: vals[start:len(vals):len(vals)], ETag: etagPtr(r.ETag), Metadata: md, Options: opts}}
		} else {
			ops[i] = component.Operation{Kind: component.OpDelete, Delete: component.DeleteRequest{
				Key: key, ETag: etagPtr(r.ETag), Metadata: md, Options: opts}}
		}
	}
	return s.multi(ctx, e, ops, mergeMeta(req.Metadata, meta))
}

func (s *State) multi(ctx context.Context, e *storeEntry, ops []component.Operation, meta Metadata) *Error {
	if e.maxOps > 0 && len(ops) > e.maxOps {
		return errTooManyOps(e.name, len(ops), e.maxOps)
	}
	start := time.Now()
	err := e.store.Multi(ctx, &component.TransactionRequest{Operations: ops, Metadata: meta})
	e.record(opTransaction, start, err == nil)
	if err != nil {
		return basic(http.StatusInternalServerError, codes.Internal, CodeStateTransaction, "error while executing state transaction: "+err.Error())
	}
	return nil
}

// HTTPQuery runs a query (POST|PUT /v1.0-alpha1/state/{store}/query) and
// appends the JSON response (ending in "\n") to dst. noResults reports that
// the answer must be 204 with an empty body (resp is then dst unchanged).
// bodyTooLarge reports that the body exceeded --max-body-size: daprd reads
// the whole body before it looks the store up, and answers 400
// ERR_BODY_READ.
func (s *State) HTTPQuery(ctx context.Context, store []byte, body []byte, bodyTooLarge bool, meta Metadata, dst []byte) (resp []byte, noResults bool, err *Error) {
	if bodyTooLarge {
		return dst, false, errBodyRead(msgTooLarge)
	}
	e, aerr := s.lookup(store, false)
	if aerr != nil {
		return dst, false, aerr
	}
	res, aerr := s.query(ctx, e, body, meta)
	if aerr != nil {
		return dst, false, aerr
	}
	if len(res.Results) == 0 {
		return dst, true, nil
	}
	dst = append(dst, `{"results":[`...)
	for i, it := range res.Results {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"key":`...)
		dst = appendJSONString(dst, it.Key)
		dst = append(dst, `,"data":`...)
		if len(it.Data) == 0 {
			dst = append(dst, "null"...)
		} else {
			dst = appendDataJSON(dst, it.Data)
		}
		if it.ETag != "" {
			dst = append(dst, `,"etag":`...)
			dst = appendJSONString(dst, it.ETag)
		}
		if it.Error != "" {
			dst = append(dst, `,"error":`...)
			dst = appendJSONString(dst, it.Error)
		}
		dst = append(dst, '}')
	}
	dst = append(dst, ']')
	if res.Token != "" {
		dst = append(dst, `,"token":`...)
		dst = appendJSONString(dst, res.Token)
	}
	if len(res.Metadata) > 0 {
		dst = append(dst, `,"metadata":{`...)
		for i, kv := range sortedMeta(res.Metadata) {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, kv[0])
			dst = append(dst, ':')
			dst = appendJSONString(dst, kv[1])
		}
		dst = append(dst, '}')
	}
	return append(dst, "}\n"...), false, nil
}

// query parses and runs a query; keys in the result are client keys.
func (s *State) query(ctx context.Context, e *storeEntry, body []byte, meta Metadata) (*QueryResult, *Error) {
	if e.querier == nil {
		return nil, errQueryNotSupported(e.name)
	}
	q, err := query.Parse(body)
	if err != nil {
		return nil, errQueryFailed(e.name, "failed to parse JSON query body: "+err.Error())
	}
	start := time.Now()
	resp, err := e.querier.Query(ctx, &component.QueryRequest{Query: q, Metadata: meta})
	e.record(opQuery, start, err == nil)
	if err != nil {
		return nil, errQueryFailed(e.name, err.Error())
	}
	out := &QueryResult{Token: resp.Token, Metadata: resp.Metadata, Results: make([]QueryItem, len(resp.Results))}
	for i, r := range resp.Results {
		out.Results[i] = QueryItem{Key: OriginalKey(r.Key), Data: r.Data, ETag: r.ETag, Error: r.Error}
	}
	return out, nil
}
