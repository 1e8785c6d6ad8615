// Package server wires statecar's listeners to the State API: the daprd
// route table on the gnet HTTP/1.1 router (server/h1), the public health and
// metadata port, the Prometheus metrics listener, the pprof listener, and the
// runtime state they share with the gRPC server (server/grpc): readiness,
// the /v1.0/metadata document, extended metadata and the shutdown trigger.
//
// Transports: the HTTP API runs on server/h1 (gnet) with the route table of
// api_h1.go; with --unix-domain-socket, and on the public port, the same
// handlers run behind Go's net/http (nethttp.go). Both reach the handlers
// through the small request/response interfaces of routes.go, so the route
// glue is written and tested once (server_test.go drives it with fakes).
//
// What it owns:
//   - Runtime: the sidecar's runtime surface (runtime-http.md §1–§5);
//   - the HTTP route table and the glue from h1 requests to api.State's
//     HTTP family (state-http.md §1–§3, §8): path parameters, metadata.*
//     query parameters, If-Match, response headers, error bodies;
//   - the DAPR_API_TOKEN check, API allow/deny lists, API logging and the
//     dapr_http_server_* metrics middleware;
//   - the metrics exposition (VictoriaMetrics' default set, so api/ and
//     server/grpc register into it too; Configuration pathMatching,
//     increasedCardinality and excludeVerbs) plus statecar_* engine figures
//     (EngineMetricser, KVEngine).
//
// Invariants:
//  1. GET /v1.0/healthz answers 204 only after MarkReady (components loaded,
//     every listener up) and, with an app port, after that port accepted a
//     TCP connection; /v1.0/healthz/outbound needs MarkReady only.
//  2. The HTTP API never answers a request with a wrong or missing
//     dapr-api-token when a token is configured, except the two healthz
//     routes (401 text/plain "invalid api token\n").
//  3. Every error response of a state route is the *api.Error's status,
//     content type and body, and is counted once with api.CountError.
//  4. The GET state hot path (hit or miss, no metadata.* parameters) does
//     not allocate: per-request scratch comes from a sync.Pool and metric
//     series are found with an allocation-free map lookup.
//  5. Shutdown is requested at most once (Runtime.Shutdown is idempotent);
//     Stop drains in-flight requests before returning.
//
// Goroutines: New, Start, MarkReady and Stop are called by the main
// goroutine of cmd/statecar. Route handlers run on h1's event loops
// (non-blocking routes) or its worker goroutines (blocking routes), and the
// public, metrics and pprof listeners run on net/http goroutines; everything
// they touch is either read-only after Start or guarded as documented on the
// field. Metadata, SetExtended and Shutdown are safe for concurrent use (the
// gRPC server calls them from RPC goroutines).
package server
