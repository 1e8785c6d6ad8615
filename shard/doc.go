// Package shard owns the N Pebble instances of a store: routing keys to
// them, their key spaces, the applied-sequence marker and the manifest
// that fixes N. It imports nothing from the project; package kv drives it.
//
// # Layout
//
//	<dir>/SHARDS          "statecar-kv v1 shards=<n>\n", written atomically
//	<dir>/shard-000/ ...  one Pebble per shard, opened with DisableWAL
//
// Inside each Pebble: 'd'+key -> value (format owned by kv), the expiry
// index 'x'+expireAt(BE)+seq(BE)+key -> "" and "mapplied" -> last applied
// WAL sequence number.
//
// # Invariants
//
//  1. Index(key, n) = xxhash64(key) mod n is frozen (testdata/routing.golden).
//  2. A shard's applied marker is written in the same Pebble batch as the
//     data it covers, so after a crash a shard holds exactly the writes up
//     to its marker (Pebble flushes memtables whole and in order).
//  3. N is fixed at creation and checked at every Open.
//
// # Goroutines
//
// Open and Close are called once by kv.Open/kv.DB.Close. The *pebble.DB
// handles are safe for concurrent use; kv decides who writes them.
package shard
