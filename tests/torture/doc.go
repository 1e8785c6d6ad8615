// Package torture proves that statecar loses nothing: it crashes the real
// binary with SIGKILL under load and checks a ledger of acknowledged
// operations after every restart, and (in its tests) covers recovery from
// a large WAL, a corrupted WAL segment, a torn WAL tail and a full disk.
//
// What it owns:
//   - Run: the crash-torture loop over a Target (a process that can be
//     killed and restarted on the same data). Workers drive, concurrently,
//     single-key saves and deletes (per-writer increasing values), ETag
//     read-modify-write counters (GET, then save with the ETag, retry on
//     409) and five-key transactions (all keys carry the transaction id;
//     the fifth is upserted by even and deleted by odd transactions).
//   - Process: a Target that execs a statecar binary (cmd/sctorture uses
//     it; the tests use internal/testutil).
//
// Checked after every restart (each failure is a Report violation):
//  1. Every acknowledged write is there, or the single later write of the
//     same writer that was in flight at the kill.
//  2. No acknowledged delete comes back.
//  3. A transaction group shows exactly one whole transaction: the last
//     acknowledged one or the one in flight at the kill.
//  4. A counter is at least its acknowledged increments and at most those
//     plus the increments in flight at the kill.
//  5. /v1.0/healthz answers 204 within Config.MaxRecovery of the restart.
//
// Ledger invariants: every worker has at most one operation without an
// answer (it stops at the first one), so "acknowledged state or in-flight
// state" is exact. What verification reads becomes the next baseline.
//
// Goroutines: Run's caller goroutine owns the Target, kills, restarts and
// verifies; one goroutine per worker runs during the load phase, and the
// phases are separated by a WaitGroup, which is what lets the ledger fields
// go unlocked (shared counters are atomics).
//
// Short variants run with plain `go test ./tests/torture/`; `-long` runs
// the long ones (see the test files and docs/reliability.md).
package torture
