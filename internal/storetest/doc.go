// Package storetest is the test harness shared by the external state stores
// (component/redis, component/postgres): benchmark loops that report
// latency percentiles, and the kill-under-load durability check. It is
// imported by tests only.
//
// Invariants:
//  1. BenchSerial and BenchParallel report p50-us and p99-us over every
//     operation of the run, measured outside the benchmark's setup.
//  2. KillDuringWrites fails the test if any write that the store
//     acknowledged is missing or different after the server was killed
//     and started again; it never passes without having seen writes before
//     the kill, errors while the server was down, and writes after the
//     restart.
//
// Concurrency: each function is called from the test's (or benchmark's)
// goroutine; the op and write callbacks are called from several goroutines
// at once (BenchParallel, KillDuringWrites) and must be safe for that.
package storetest
