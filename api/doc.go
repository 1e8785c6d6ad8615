// Package api is the transport-free Dapr State API: it decodes request
// bodies exactly like daprd (Go encoding/json semantics), validates keys and
// options, applies the key-prefix scheme, calls the component.Store, and
// renders results and errors (one catalogue, errors.go) for HTTP and gRPC.
//
// Two families of entry points share one implementation:
//   - the HTTP family (HTTPGet, HTTPSave, HTTPBulkGet, HTTPDelete,
//     HTTPTransaction, HTTPQuery) takes raw bodies and already-unescaped path
//     parameters, and produces daprd's HTTP bodies and messages;
//   - the typed family (Get, BulkGet, Save, Delete, BulkDelete, Transaction,
//     Query) takes decoded gRPC values and follows daprd's gRPC semantics
//     (raw bytes, contentType rule, gRPC messages).
//
// Every failure is an *Error that renders itself for both transports
// (AppendHTTPBody, HTTPStatus, GRPCStatus).
//
// The other building blocks follow the same shape, one type each: Secrets,
// Configuration, Locks, Bindings and InputBindings, PubSub and Subscriber,
// and Invoker (service invocation: the target rules, daprd's header
// conversions ToHTTPHeaders/ToGRPCMetadata, and DoHTTP for HTTP callees;
// the app channel implements InvokeApp).
//
// Invariants:
//  1. The order of checks is daprd's (state-http.md §3.3): store lookup,
//     (transaction support), body decode, empty shortcut, per-item checks in
//     order with the first failure aborting before anything is written,
//     then the store call.
//  2. Keys reach a store prefixed (state-http.md §4); keys returned to
//     clients are converted back with OriginalKey.
//  3. Values written through HTTP are stored as the canonical JSON that Go's
//     json.Marshal would produce from the decoded value, except that number
//     literals float64 cannot represent exactly are kept as sent.
//  4. A State's store set is fixed at New; nothing in State is mutated after
//     New, so all methods are safe for concurrent use from any goroutine
//     (gnet event loops call the HTTP family, gRPC handler goroutines the
//     typed family).
//  5. The HTTPGet hit path performs no allocation when the caller reuses its
//     GetResult and passes nil metadata.
//  6. Errors are never counted here: the transport calls CountError once per
//     error response.
//  7. No entry point retains its []byte arguments (bodies, path views) after
//     it returns; the transport may reuse its buffers at once. Results
//     appended to dst, and a GetResult's slices, belong to the caller.
//     In the other direction, the Value slices of the SetRequests that
//     HTTPSave hands a store are pooled memory, valid until the store call
//     returns (every store copies or sends them during the call); keys
//     handed to stores are ordinary strings that may be kept.
//  8. Entry points block until the store has answered; for writes on the
//     embedded stores that includes the fsync (durability "sync"), so
//     event-loop transports must call the write entry points off the loop.
package api
