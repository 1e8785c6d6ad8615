// Package binding defines the output bindings behind the Bindings API
// (POST /v1.0/bindings/{name}; gRPC InvokeBinding), as components-contrib
// 1.18 defines them: a binding lists the operations it supports and runs an
// InvokeRequest (data bytes, metadata, operation), returning data and
// metadata or nothing.
//
// The bindings live beside the stores that share their connection code:
// bindings.redis in component/redis. Each registers itself with Register
// from an init function; Open creates one by type. Input bindings (events
// pushed to the app) are not implemented.
package binding
