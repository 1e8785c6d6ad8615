// Package embedded provides the state stores built on statecar's own
// engine (package kv): "state.pebble" (durable, on disk) and
// "state.in-memory" (the same engine on Pebble's in-memory vfs). Both
// register themselves with component.RegisterState from init.
//
// Behaviour (texts are daprd's in-memory store's; see spec/stores.md §6):
//   - ETag = decimal sequence number of the write that produced the value
//     (monotonic, never reused). A non-numeric or "0" ETag never matches.
//   - ETag given, key absent or expired: "state not exist or expired for
//     key=<stored key>"; different ETag: "state etag not match for
//     key=<k>: current=<e>, expect=<given>"; first-write without ETag on a
//     live key (save and delete): "item already exists and no etag was
//     passed".
//   - TTL: metadata ttlInSeconds parsed with strconv.Atoi (bad value →
//     plain error `strconv.Atoi: parsing "abc": invalid syntax`); empty or
//     <= 0 means no expiry; every write replaces the expiry. Expired keys
//     are hidden at once and swept in the background.
//   - BulkSet, BulkDelete and Multi are one atomic kv batch: every condition
//     is checked against the state before the batch, and nothing is written
//     if any fails (daprd's multi-item save is not atomic).
//   - Query: a scan of all live keys evaluated with query.Execute.
//
// Component metadata (names case-insensitive; state.in-memory ignores
// dataDir):
//
//	dataDir        directory of the store (default <Env.DataDir>/<component name>)
//	shards         number of engine shards, fixed at creation (default 4)
//	durability     "sync" (default: acknowledge after fsync) or "relaxed"
//	               (acknowledge after write(2), fsync every syncInterval)
//	syncInterval   Go duration, relaxed mode fsync period (default 10ms)
//	sweepInterval  Go duration, TTL sweeper period (default 1s; negative disables)
//	cacheSize      block cache bytes, a quantity such as 64Mi (default 64Mi)
//	readCacheSize  bytes of recently read values kept in front of the
//	               shards, a quantity (default 32Mi; 0 turns it off)
//	walSegmentSize WAL segment size, a quantity of at least 1Mi (default
//	               64Mi); each segment is preallocated, so the store needs
//	               that much free disk for its first write, and the engine
//	               checkpoints once per segment written
//
// Invariants:
//  1. An acknowledged write (nil error) is in the kv engine; with durability
//     "sync" it survives a crash.
//  2. Store methods are safe for concurrent use from any goroutine; the Store
//     itself holds no mutable state besides the kv.DB.
//  3. Get does not allocate when the caller's buffers have room.
package embedded
