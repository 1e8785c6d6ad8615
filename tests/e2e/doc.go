// Package e2e is the end-to-end conformance suite of statecar's State HTTP
// API: it starts the real statecar binary (internal/testutil) and replays
// raw HTTP/1.1 exchanges taken from shared/spec/state-http.md (every rule,
// every error row of §3.2, the observed examples of §8 and the checklist of
// §13), comparing status, headers and body bytes.
//
// The package holds only tests. Layout:
//   - harness_test.go: the raw-socket client and the step/row machinery with
//     its template language ({{var}} substitution, {{~time}}-style
//     wildcards); harness_self_test.go proves it detects mismatches;
//   - stores_test.go: store profiles (state.pebble, state.in-memory,
//     state.redis, state.postgresql): component YAML, capabilities, and how
//     the store renders values (jsonb_test.go for PostgreSQL's jsonb text);
//   - conformance_test.go: the table, run once per store profile on one
//     shared sidecar; custom_test.go: rows on that sidecar that need Go code
//     (metadata JSON, racing clients, gRPC writes, TTL values);
//   - sidecars_test.go: rules that need a sidecar of their own (key
//     prefixes, body limit, no state store, error-code metrics, API token,
//     restart and crash durability).
//
// Profiles: state.pebble and state.in-memory always; state.redis and
// state.postgresql when cmd/statecar links their packages (or when listed in
// STATECAR_E2E_STORES for a prebuilt STATECAR_BIN); their servers come from
// internal/testsrv and a missing server binary skips them, except under CI.
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
// build; -long for the long concurrency variants). Each row's name says
// which spec rule it checks.
package e2e
