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
