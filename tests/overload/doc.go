// Package overload attacks a real statecar process with hostile and
// excessive clients and checks that it stays up and keeps serving
// well-behaved clients (issue #7). Short variants run by default in
// `go test ./tests/overload/`; `-long` makes every phase bigger and longer,
// and `-soak` runs the soak test (mixed load for -soaktime at a fraction of
// the measured maximum rate).
//
// What the tests drive, concurrently, for the duration of a phase:
//   - thousands of idle connections (held open),
//   - slowloris heads (a header line every 200 ms) and slowloris bodies,
//   - heads larger than MaxHeaderBytes and bodies larger than
//     --max-body-size,
//   - pipelined floods (1000 requests in one write),
//   - clients that vanish: half a request then close, a request then close
//     without reading, a request then RST;
//
// while one well-behaved client saves and reads in a loop.
//
// Invariants checked (failures are test errors):
//  1. The process never exits; /v1.0/healthz answers 204 after the attack.
//  2. Every request of the well-behaved client succeeds (its latency
//     percentiles are logged, never asserted).
//  3. Limits answer with Go net/http's statuses: 431 for a head over the
//     limit, 400 ERR_MALFORMED_REQUEST for a body over --max-body-size.
//  4. Every pipelined request is answered, in order.
//  5. Peak RSS (VmHWM from /proc) stays under 1 GiB, and the open fd count
//     returns near its baseline once the hostile clients are gone.
//
// Goroutines: each attack runs in its own goroutines, stopped by closing a
// channel; the test goroutine owns the process (tests/torture.Process, for
// its pid) and the assertions.
package overload
