// Package kv is statecar's embedded, durable, sharded key-value engine: a
// write-ahead log (package wal) in front of N Pebble instances (package
// shard) with Pebble's own WAL disabled. It is importable on its own.
//
// # Guarantees
//
//   - Durability. With Sync (the default) Apply returns only after the
//     fsync covering the batch: an acknowledged batch survives a crash or
//     power loss. With Relaxed, Apply returns after write(2) and the WAL is
//     fsynced every SyncInterval: a process crash loses nothing, a machine
//     crash or power loss may lose the batches acknowledged in the last
//     SyncInterval (never part of a batch). Close makes every acknowledged
//     batch durable in both modes.
//   - Atomicity. A batch is one WAL record: after a crash it is present in
//     full or not at all, across shards. Readers (Get, GetMany, Scan) never
//     see part of a batch, and in Sync mode never see a batch before it is
//     durable.
//   - Conditions. Every condition of a batch is checked against the state
//     before the batch, including batches sequenced but not yet applied; if
//     any fails nothing is written and Apply returns a *ConditionError.
//     Of two concurrent CondNotExists creates of one key exactly one wins.
//   - ETags. A value's ETag is the sequence number of the batch that wrote
//     it: >= 1, strictly increasing, never reused, also across restarts
//     (except that, in Relaxed mode, a sequence number acknowledged but lost
//     in a machine crash may be handed out again).
//   - TTL. A value with ExpireAt <= Options.Now() is invisible at once to
//     every read and condition. A background sweeper deletes expired keys
//     through the normal write path, each delete conditional on the expired
//     value still being current.
//   - Recovery. Open replays the WAL above each shard's applied sequence
//     number. A torn tail of the last WAL segment is truncated. Damage
//     anywhere else makes Open fail with an error wrapping ErrCorruption
//     that names the file and offset; restore from a backup or remove the
//     named segment and the ones after it, accepting the loss.
//   - Fail-stop. If a WAL write or fsync fails, or a shard cannot flush
//     (disk full), the batches not yet applied and every later one fail with
//     the error; reads keep working; reopen the store to continue.
//
// # Invariants
//
//  1. A batch is acknowledged only after the WAL acknowledged it (fsynced in
//     Sync mode) and it was applied to the shards.
//  2. Batches reach the shards in sequence order; one applier goroutine
//     applies them, holding the visibility write lock of every shard a group
//     touches, so a group becomes visible at once.
//  3. A key's pending entry (DB.commit.pending) is removed only after the
//     write it describes is visible in its shard.
//  4. WAL segments are deleted only after every shard flushed past them.
//  5. A shard never persists a batch the WAL may still lose: in Sync mode
//     only fsynced batches are applied; in Relaxed mode Pebble's flush hook
//     fsyncs the WAL before any memtable reaches disk. Otherwise a power
//     loss could leave part of a cross-shard batch in one shard.
//
// # Goroutines
//
// All DB methods are safe for concurrent use. Apply runs its condition
// checks and sequencing under DB.commit (short; Pebble point reads only),
// then waits for the applier. Behind the API: the WAL flusher (write +
// fsync), the applier, the checkpointer (shard flushes, WAL truncation) and
// the TTL sweeper. Get takes one shard's read lock; GetMany the locks of the
// shards it reads; Scan all of them briefly to open its iterators.
package kv
