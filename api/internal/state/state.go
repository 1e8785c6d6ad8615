// Package state mirrors the request types of components-contrib's state
// package, with the same Go and JSON names, so that encoding/json produces
// daprd's exact error texts (e.g. "json: cannot unmarshal object into Go
// value of type []state.SetRequest"). Only the api package decodes into it,
// from any goroutine; the types carry no behaviour.
//
// Invariants:
//  1. Type names, field names, field types and json tags match
//     components-contrib v1.16 (Value is a json.RawMessage instead of any,
//     which accepts exactly the same inputs).
package state

import "encoding/json"

// SetRequest is one item of an HTTP save body.
type SetRequest struct {
	Key         string            `json:"key"`
	Value       json.RawMessage   `json:"value"`
	ETag        *string           `json:"etag,omitempty"`
	Metadata    map[string]string `json:"metadata"`
	Options     SetStateOption    `json:"options,omitempty"`
	ContentType *string           `json:"contentType,omitempty"`
}

// SetStateOption are the options of a SetRequest.
type SetStateOption struct {
	Concurrency string `json:"concurrency,omitempty"`
	Consistency string `json:"consistency"`
}
