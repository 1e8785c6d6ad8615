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
