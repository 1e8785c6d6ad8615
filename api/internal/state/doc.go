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
