// Package h1 is statecar's HTTP/1.1 transport: a hand-written request parser,
// a chi-compatible router and a response writer on a gnet event-loop engine.
// It owns the wire only; Dapr semantics live in the handlers that package
// server registers.
//
// # Goroutines
//
//   - gnet event loops (Config.EventLoops) run OnOpen, OnTraffic and OnClose:
//     they parse requests in place, run non-blocking handlers inline and write
//     their responses directly.
//   - A blocking route runs on a worker goroutine (reused; one per in-flight
//     request), on a copy of the request. The worker writes the response to
//     the socket itself when it can (Invariant 8), else hands it to the event
//     loop with Conn.AsyncWrite, whose callback resumes the connection; it
//     wakes the loop (Conn.Wake) when pipelined requests wait. With
//     Config.SpinWorker a worker that finished spins briefly for the next
//     blocking request instead of parking (spinSlot: at most one spins, and
//     the event loop hands it the task with two atomic operations, no
//     wake-up).
//   - gnet's ticker goroutine runs OnTick: it refreshes the coarse clock and
//     the cached Date header, and wakes (Conn.Wake) connections whose deadline
//     passed or that wait for their output to drain.
//   - Start and Shutdown are called by the owner (package server) from any
//     goroutine.
//
// # Invariants
//
//  1. Responses on a connection leave in request order. While a blocking
//     request of a connection is in flight, later pipelined requests of that
//     connection stay unread in gnet's inbound buffer; they are resumed by a
//     Conn.Wake once the blocking request's response is written (by its worker
//     or by the AsyncWrite callback).
//  2. A Request's views point into gnet's inbound buffer (or a Peek copy when
//     the buffered bytes are not contiguous) only until its handler returns;
//     the bytes are discarded after that. Anything that outlives OnTraffic (a
//     blocking request, a head waiting for its body) is copied first.
//  3. The event loop never blocks: no disk or network I/O other than the
//     connection's own non-blocking socket runs inline.
//  4. A request the parser rejects gets Go net/http's exact reply (400, 431,
//     501, 505) and the connection is closed; it never reaches a handler and
//     never disturbs another connection. A handler panic answers 500 and closes
//     that connection.
//  5. A connection that must close after its response first lets gnet send
//     all output; unless the request was fully read, it then shuts down its
//     write side and discards input until the peer closes or lingerTime passes,
//     so that the peer reads the reply instead of a reset.
//  6. Timeouts: ReadHeaderTimeout runs from accept (first request) or from the
//     first byte of a request; ReadBodyTimeout from the end of the head;
//     IdleTimeout between requests. None runs while a handler runs. They are
//     checked against the ticker's coarse clock, so they fire up to one tick
//     late (tick = min(1s, smallest timeout/4)).
//  7. No goroutine other than an event loop calls into gnet (AsyncWrite, Wake)
//     after the engine began stopping: such calls write to the poller's
//     eventfd, which gnet closes (its number may then belong to another file).
//     They hold Server.gate's read lock; OnShutdown closes the gate.
//  8. A worker writes its response directly (one write(2)) only if gnet held
//     no unsent output for the connection when the request was dispatched;
//     the event loop does not write to a connection while its blocking
//     request runs, so bytes cannot interleave. The write happens under
//     connState.wmu, which OnClose also takes, and is skipped once OnClose
//     ran: the fd is never written after gnet may have closed it.
//
// # Failure of the engine
//
// gnet stops the whole engine when accept(2) fails (for instance EMFILE).
// MaxConns is therefore kept RLIMIT_NOFILE-256 or lower, and Server.Done and
// Server.Err let the owner notice an engine that stopped on its own and exit.
//
// # Compatibility with daprd (Go net/http + chi)
//
// Replies to malformed requests are byte-identical to Go's (see
// TestDifferentialAgainstNetHTTP), and so is error precedence (Host count,
// transfer coding, Content-Length, version, Host, header names). "OPTIONS *"
// is answered by the server like Go's globalOptionsHandler; up to 4 CR/LF
// bytes are tolerated before a request only after a POST. The request line
// and headers may use MaxHeaderBytes+4096 bytes, as with Go's bufio slop.
//
// The router matches path.Clean(EscapedPath), static segments before
// {params}, falls back to other patterns on a method mismatch, and decodes
// params with url.QueryUnescape. Responses carry the handler's headers
// (canonicalised and sorted like Go), Date, Content-Length, a sniffed
// Content-Type when the handler set none, and Connection when needed.
//
// Deliberate differences: no HTTP/2 (h2c prior knowledge gets 505) and no
// Upgrade; obs-fold, bare LF, Content-Length together with Transfer-Encoding,
// and Transfer-Encoding on HTTP/1.0 are rejected with a plain 400 (Go accepts
// them); a malformed chunked body is a 400 before the handler instead of a
// body read error inside it; "100 Continue" is sent only while the body is
// still missing; a client that half-closes while its blocking request runs
// loses the response (gnet closes on EOF); IdleTimeout (120s) and
// ReadBodyTimeout (60s) exist where daprd has none; MaxHeaderCount (100) is
// a limit Go does not have.
package h1
