// Package bench is statecar's load generator and the library behind the
// side-by-side peer comparison (bench/cmd/scload, bench/cmd/peers).
//
// It owns: a hand-rolled keep-alive HTTP/1.1 client (RespReader, HTTPConn)
// and a gRPC driver for the Dapr State API (get, save, multi-item save,
// bulk get, transaction, query, delete, and weighted mixes of them); key
// generators (uniform, scrambled zipfian); the open-loop send Schedule; a
// log-linear latency Histogram; the Result file format (JSON and a Go
// benchmark line); /proc readers for peak RSS and CPU time; a trivial 204
// responder that shows the generator's own ceiling; process management for
// the systems under test (sidecar.go); and a small SVG chart writer.
//
// Invariants:
//  1. Latency is measured from the planned send time in open loop
//     (Schedule.At), and from the actual send time in closed loop; a
//     request planned or started before the end of warm-up is never
//     measured, one planned after the end is never sent.
//  2. A Histogram's Quantile is never below the true order statistic and
//     exceeds it by less than 1/128 of it.
//  3. The HTTP hot path (build request, write, read and parse response)
//     does not allocate once buffers have grown to the workload's size.
//  4. Results never mix phases: Requests, Errors, Status and the histogram
//     count only requests planned (open loop) or started (closed loop) in
//     the measured phase. The histogram holds Requests + Unsent values: in
//     open loop, requests still unsent when the run ends are recorded with
//     the latency they had accrued by then, so a backlog is never hidden.
//  5. Every process the peers runner starts is stopped (SIGTERM, then
//     SIGKILL after a grace period) before the runner returns.
//
// Goroutines: Run starts one goroutine per connection (each owns its
// driver, KeyGen, Histogram and status table; nothing is shared while the
// run lasts except one atomic progress counter), plus a progress-bar and a
// measure-phase timer goroutine. Results are merged by Run's caller
// goroutine after every worker has returned. Everything else in the
// package is called from one goroutine at a time.
package bench
