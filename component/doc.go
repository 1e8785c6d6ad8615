// Package component holds what every state store shares: the Store
// interface the API layer calls, the typed errors stores return (whose texts
// match daprd's reference stores), the features a store advertises, the
// Component resource Spec, and the registry of store types
// ("state.pebble", "state.in-memory", "state.redis", "state.postgresql").
//
// Implementations live in subpackages and register themselves from an init
// function; cmd/statecar imports them for their side effect.
//
// Invariants:
//  1. Keys handed to a Store are stored (already prefixed) keys; the API layer
//     owns the key scheme.
//  2. Values handed to a Store are the bytes to store; the API layer owns
//     JSON re-serialisation.
//  3. A Store never returns an error that the API layer would map to a 4xx
//     unless it is an *ETagError (or a *BulkError made of them).
package component
