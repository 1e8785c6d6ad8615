package api

import (
	"context"
	"net/http"

	"google.golang.org/grpc/codes"
)

var errNotImplemented = basic(http.StatusNotImplemented, codes.Unimplemented, "ERR_NOT_IMPLEMENTED", "not implemented yet")

// HTTPGet reads one key (GET /v1.0/state/{store}/{key}). store and key are
// already path-unescaped; consistency is the "consistency" query parameter
// (may be nil); meta holds the metadata.* query parameters. out is filled
// and may be reused across calls: the hit path does not allocate then.
func (s *State) HTTPGet(ctx context.Context, store, key []byte, consistency []byte, meta Metadata, out *GetResult) *Error {
	return errNotImplemented
}

// HTTPSave saves items (POST|PUT /v1.0/state/{store}); body is the raw
// request body; bodyTooLarge reports that the body exceeded
// --max-body-size. Success is 204.
func (s *State) HTTPSave(ctx context.Context, store []byte, body []byte, bodyTooLarge bool, meta Metadata) *Error {
	return errNotImplemented
}

// HTTPBulkGet reads keys (POST|PUT /v1.0/state/{store}/bulk) and appends
// the JSON response body (ending in "\n") to dst. Success is 200.
func (s *State) HTTPBulkGet(ctx context.Context, store []byte, body []byte, bodyTooLarge bool, meta Metadata, dst []byte) ([]byte, *Error) {
	return dst, errNotImplemented
}

// HTTPDelete deletes one key (DELETE /v1.0/state/{store}/{key}); ifMatch
// is the If-Match header (nil or empty = none), concurrency and
// consistency the query parameters. Success is 204.
func (s *State) HTTPDelete(ctx context.Context, store, key []byte, ifMatch []byte, concurrency, consistency []byte, meta Metadata) *Error {
	return errNotImplemented
}

// HTTPTransaction executes a transaction (POST|PUT
// /v1.0/state/{store}/transaction). Success is 204.
func (s *State) HTTPTransaction(ctx context.Context, store []byte, body []byte, bodyTooLarge bool, meta Metadata) *Error {
	return errNotImplemented
}

// HTTPQuery runs a query (POST|PUT /v1.0-alpha1/state/{store}/query) and
// appends the JSON response (ending in "\n") to dst. noResults reports that
// the answer must be 204 with an empty body (resp is then dst unchanged).
func (s *State) HTTPQuery(ctx context.Context, store []byte, body []byte, meta Metadata, dst []byte) (resp []byte, noResults bool, err *Error) {
	return dst, false, errNotImplemented
}
