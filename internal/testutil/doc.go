// Package testutil builds the statecar binary and runs it as a real sidecar
// process for end-to-end tests: free loopback ports, readiness polling,
// captured output, stop/kill/restart, and helpers that write Component and
// Configuration YAML files.
//
// What it owns:
//   - the one build of ./cmd/statecar per test process (BuildBinary), or the
//     prebuilt binary named by the environment variable STATECAR_BIN;
//   - the lifetime of every process started with Start: a started sidecar is
//     always killed at test cleanup, and its stdout/stderr is written to the
//     test log when the test failed.
//
// Invariants:
//  1. BuildBinary runs `go build` at most once per process; a build failure
//     is remembered and fails every later caller with the same output.
//  2. Start returns only once GET /v1.0/healthz answered 204 (polled every
//     10 ms, up to 30 s, like the Dapr launchers of process-contract.md); a
//     process that exits or never becomes ready fails the test with its
//     output, except that a process that exits because another one bound
//     a picked port first (between FreePort and its bind) is started again
//     on new ports, up to portAttempts times.
//  3. A Sidecar keeps its ports, data dir and arguments across Restart, so a
//     restarted sidecar serves the same stores at the same URLs.
//
// Concurrency: Start, BuildBinary and FreePort may be called from parallel
// tests. The methods of one Sidecar (Stop, Kill, Restart) must be called from
// one goroutine at a time; URL, Addr and the port fields are safe to read
// concurrently while no Restart is running.
package testutil
