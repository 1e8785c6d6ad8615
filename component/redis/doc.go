// Package redis implements the "state.redis" state store on Redis with
// daprd's data layout (components-contrib state/redis, "hash mode"), so that
// daprd and statecar can share one Redis: see docs/stores.md and
// ../../../shared/spec/stores.md §2.
//
// Layout: one hash per stored key with fields "data" (the value bytes,
// verbatim), "version" (decimal integer, 1 on creation, +1 per write: the
// ETag) and "first-write" ("0", added when a key is saved with
// concurrency=first-write outside a transaction, never removed). TTL is the
// key's Redis expiry. A key that is a plain string (daprd's legacy layout) is
// read with GET and has no ETag.
//
// Invariants:
//  1. Every write (single save, bulk save/delete, transaction) is one Lua
//     script execution: conditions are checked and the writes applied
//     atomically on the server. A failed condition writes nothing.
//  2. Conditions follow the reference semantics (state-http.md §5), not
//     daprd's Redis quirks: an ETag on an absent key fails, first-write on a
//     live key fails for save and delete, last-write with an ETag still
//     checks it.
//  3. A save without ttlInSeconds (and no component default) removes any
//     expiry (PERSIST); ttlInSeconds > 0 sets EXPIRE; <= 0 removes it.
//  4. On a Redis Cluster, a multi-key operation is atomic only when all keys
//     hash to one slot. Otherwise a transaction fails with ErrCrossSlot
//     before anything is written, and a bulk save/delete falls back to
//     independent per-key scripts (each atomic, the whole not).
//  5. Reads never run a script on the hot path: Get pipelines HMGET and
//     PEXPIRETIME; BulkGet wraps all reads in MULTI/EXEC on a single node
//     (a consistent snapshot).
//  6. Server errors (connection refused, timeouts, ...) are returned as
//     plain errors; go-redis reconnects on the next request.
//
// Concurrency: a *Store is safe for concurrent use by any number of
// goroutines (the API layer calls it from event-loop and worker goroutines);
// it holds no mutable state besides the go-redis client and its pool.
// Close must be called once, after the last request.
//
// Metrics (VictoriaMetrics default set, labels sorted by name):
//
//	statecar_store_redis_request_duration_seconds{component,op}  histogram
//	statecar_store_redis_pool_conns{component,state}             gauge (total, idle, stale)
//	statecar_store_redis_pool_events{component,event}            gauge (hits, misses, timeouts)
//
// Configuration store: the package also implements "configuration.redis"
// (ConfigStore, OpenConfiguration; components-contrib configuration/redis)
// on the same connection code and metadata, with daprd's retry defaults for
// a configuration store (3 retries, backoff 8 ms to 2 s). A configuration
// item is a Redis string "value||version" (no separator: version ""); Get
// reads keys with GET (all keys with KEYS *, on every master of a cluster)
// and skips missing keys, non-string keys (WRONGTYPE) and empty values.
// Subscribe enables keyspace notifications (CONFIG SET
// notify-keyspace-events Kg$xe), subscribes to __keyspace@<db>__:<key>
// (or the pattern __keyspace@<db>__:*) and, per notification, delivers the
// key's current item, or an empty item when it is gone. It returns once
// Redis has acknowledged the subscription, so no write made after it
// returns is missed; events of one subscription are delivered one at a
// time. On a cluster it subscribes on the node that owns each key (every
// master for all keys), since keyspace notifications are node-local.
//
// Lock store: "lock.redis" (LockStore, OpenLock; components-contrib
// lock/redis StandaloneRedisLock) on the same metadata with the state
// store's defaults. A lock is a string holding its owner, taken with SET NX
// EX and released by a compare-and-delete script. Redis Cluster is refused,
// and so is a master with replicas outside failover mode.
//
// Output binding: "bindings.redis" (Binding, OpenBinding; components-contrib
// bindings/redis): create, get, delete and increment of the request's
// "key" metadata, with an optional ttl.
package redis
