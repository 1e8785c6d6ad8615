// Package http mirrors the request body types of daprd's pkg/api/http, with
// the same Go and JSON names, so that encoding/json produces daprd's exact
// error texts (e.g. "json: cannot unmarshal string into Go struct field
// BulkGetRequest.keys of type []string"). Only the api package decodes into
// it, from any goroutine.
//
// Invariants:
//  1. Type names, field names, field types and json tags match daprd v1.16;
//     the transaction operation's request is kept raw (json.RawMessage)
//     because daprd decodes it into an `any` and then uses mapstructure,
//     which the api package emulates.
package http

import "encoding/json"

// BulkGetRequest is the body of POST /v1.0/state/{store}/bulk.
type BulkGetRequest struct {
	Metadata    map[string]string `json:"metadata"`
	Keys        []string          `json:"keys"`
	Parallelism int               `json:"parallelism"`
}

// TransactionBody is the body of POST /v1.0/state/{store}/transaction.
type TransactionBody = stateTransactionRequestBody

// TransactionOperation is one operation of a TransactionBody.
type TransactionOperation = stateTransactionRequestBodyOperation

type stateTransactionRequestBody struct {
	Operations []stateTransactionRequestBodyOperation `json:"operations"`
	Metadata   map[string]string                      `json:"metadata,omitempty"`
}

type stateTransactionRequestBodyOperation struct {
	Operation string          `json:"operation"`
	Request   json.RawMessage `json:"request,omitempty"`
}
