// Package busypoll wraps a TCP connection so that a read waits for its data
// by busy-polling for a short budget before it blocks.
//
// At low load a sidecar's round trip to a remote store paid for a wake-up
// that a direct client does not: statecar writes the request, its goroutine
// parks on the netpoller, the thread finds nothing else to do and its CPU
// goes idle; the reply then has to wake that CPU again. On the virtual
// machines measured for this project that cost statecar about 80 µs p50
// per Redis GET at one request at a time: +172 µs over a raw Redis round
// trip without busy-polling, +92 µs with it, the same as a do-nothing TCP
// proxy (socat) in that run (docs/benchmarks.md, "Busy-polling the Redis
// reply").
//
// A wrapped connection reads with non-blocking read(2) calls for at most
// its budget before it falls back to the ordinary blocking read, the way
// SO_BUSY_POLL does in the kernel for devices that support it. The spin
// yields the processor (runtime.Gosched) between attempts, so runnable
// goroutines still run. Two bounds keep it cheap:
//
//   - at most one goroutine of the process spins at a time: under load the
//     CPUs are busy anyway and every other read blocks at once;
//   - a connection whose data keeps arriving after the budget (a server
//     farther away than the budget) stops spinning: its score falls by one
//     per miss and rises by one per hit, spinning stops at the floor and is
//     retried once every probe reads.
//
// Deadlines (SetReadDeadline) are enforced by the blocking read; the spin
// itself is far shorter than any sensible read timeout. Writes, Close and
// everything else are the TCP connection's own. A Conn must not be read by
// two goroutines at once (database clients never do).
package busypoll
