// Package e2e is the end-to-end conformance suite of statecar's State HTTP
// API: it starts the real statecar binary (internal/testutil) and replays
// raw HTTP/1.1 exchanges taken from shared/spec/state-http.md (every rule,
// every error row of §3.2, the observed examples of §8 and the checklist of
// §13), comparing status, headers and body bytes.
//
// The package holds only tests. Layout:
//   - harness_test.go: the raw-socket client and the step/row machinery with
//     its template language ({{var}} substitution, {{~time}}-style wildcards);
//   - stores_test.go: store profiles (state.pebble, state.in-memory, and the
//     hook for state.redis / state.postgresql): component YAML + capabilities;
//   - conformance_test.go: the table, run once per store profile;
//   - the other *_test.go files: rows that need their own sidecar (key
//     prefixes, body limits, no state store, metrics, restarts) or several
//     clients (concurrency).
//
// Invariants:
//  1. A row never weakens the spec to pass: where statecar deliberately
//     differs from daprd, the row follows docs/compatibility.md and says so
//     in its name ("statecar:" prefix) and a comment.
//  2. Rows of one store share one sidecar and run in parallel; each row uses
//     only keys that start with its own unique prefix {{k}}, so rows cannot
//     see each other's data (query rows filter on a per-row value).
//  3. No row asserts timing: TTL rows wait for expiry by polling with a
//     generous deadline.
//
// Run: go test ./tests/e2e/ (STATECAR_BIN=/path/to/statecar to skip the
// build). Each row's name says which spec rule it checks.
package e2e
