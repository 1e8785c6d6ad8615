// Command sctorture is statecar's long-running crash torture: it starts the
// real binary on a fresh data dir, drives saves, deletes, ETag counters and
// multi-key transactions over HTTP, kills the process with SIGKILL at random
// moments, restarts it on the same data and checks that every acknowledged
// write survived, no transaction is partial and no acknowledged delete came
// back (package tests/torture). It prints a text or JSON report and exits 1
// on any violation.
//
//	go run ./cmd/sctorture -cycles 200 -duration 3s -workers 8 -json report.json
//
// Flags: -bin, -cycles, -duration, -workers, -max-recovery, -data-dir,
// -keep, -seed, -json, -q. Exit codes: 0 clean, 1 violations or unexpected
// answers, 2 environment failure (build, start, restart).
//
// Invariants:
//  1. The data dir is fresh at the first start and kept across every cycle.
//  2. The statecar process is always killed before sctorture exits.
//
// One goroutine drives the process; the workers are tests/torture's.
package main
