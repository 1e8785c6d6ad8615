// Package wal is statecar's write-ahead log: a segmented, append-only log
// with group commit, checksums, optional s2 compression, recovery and
// truncation. It imports nothing from the project; package kv drives it.
//
// # Files
//
// Segments live in one directory and are named %016x.wal after the sequence
// number of their first record. The record format is drawn in record.go.
// A segment is started when the current one reaches Options.SegmentSize
// (records never span segments): the flusher creates prealloc.tmp,
// preallocates it, fsyncs it, renames it to its final name and fsyncs the
// directory, so a segment name never appears before its file is durable.
// Preallocation reserves the blocks and, on Linux with an OS file, sets the
// file size to the whole segment (setSize), so that group writes
// never change the inode size and an fdatasync flushes data only. While it
// is written, a segment on disk is therefore Options.SegmentSize bytes (more
// if its last group ran past it), its records followed by zeros; once done
// with (rolled over, closed, or found by recovery) it is cut back to its
// records (setSize). A zero header ends a segment's
// data (that tail, a torn tail zeroed at recovery, or a filesystem that
// extends files with zeros); in-memory filesystems keep the written size.
//
// # Invariants
//
//  1. A record is acknowledged (Options.OnAck) only after an fsync covers
//     it, unless Options.SyncInterval selects relaxed mode, where it is
//     acknowledged after write(2) and fsynced within SyncInterval.
//  2. Records are written, acknowledged and replayed in sequence-number
//     order; sequence numbers increase by exactly one per record, across
//     segments.
//  3. A segment is deleted (Truncate) only after every shard has flushed
//     past its last record; the caller states that by the seq it passes.
//  4. Fail-stop: once a write or fsync fails, the log accepts nothing more
//     (every Append returns the failure) and OnFail reports it once;
//     nothing above the last OnAck is ever acknowledged. Reopen to recover.
//  5. Nothing is silently skipped at recovery: a bad record in any segment
//     but the last, or a gap in sequence numbers, fails Open with an error
//     wrapping ErrCorruption that names the segment and offset. A bad
//     record in the last segment is the torn tail of an unsynced write: it
//     and everything after it are zeroed (durably) and logged. As in
//     Pebble, damage to synced records of the last segment is therefore
//     indistinguishable from a torn tail.
//
// # Goroutines
//
// Append is called by the writer (kv calls it under its commit mutex, so
// sequence numbers arrive in order); it only copies the record into the
// queue under Log.mu and wakes the flusher. One flusher goroutine owns the
// segment file: it takes the whole queue, writes it with one write(2),
// issues one fsync and calls OnAck once for the group. Nobody holds Log.mu
// across a write or fsync. Truncate and Metrics may be called from any
// goroutine. Close drains the queue, syncs and stops the flusher.
package wal
