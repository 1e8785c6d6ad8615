// Command statecar is the drop-in replacement of the Dapr sidecar (daprd):
// it accepts daprd's flags, environment variables and resource files, loads
// the state store components, and serves the HTTP API (package server), the
// gRPC API (package server/grpc), metrics and pprof until SIGTERM/SIGINT or
// POST /v1.0/shutdown.
//
// Exit codes:
//   - 0: --version, --build-info, --help, or a graceful shutdown;
//   - 1: a fatal start-up error (bad flag value, missing --config file, a
//     component that cannot be loaded without ignoreErrors, a port in use),
//     printed as daprd's `level=fatal msg="Fatal error from runtime: ..."`,
//     or a second SIGTERM/SIGINT during the graceful shutdown (immediate exit,
//     as dapr/kit's signal handler does);
//   - 2: an unknown flag or an unparsable typed flag value (pflag's
//     ExitOnError behaviour).
//
// Invariants:
//  1. Stores are closed (making every acknowledged write durable) only
//     after the HTTP and gRPC servers stopped accepting and drained, or the
//     --dapr-graceful-shutdown-seconds budget ran out.
//  2. The process never needs HOME, PATH or TMPDIR: without HOME the data
//     directory defaults to ./.statecar/data/<app-id>.
//  3. /v1.0/healthz turns 204 only after every listener (HTTP, gRPC,
//     metrics, public, profiling) is accepting connections.
//
// Everything runs on the main goroutine except the signal watcher and the
// servers' own goroutines.
package main
