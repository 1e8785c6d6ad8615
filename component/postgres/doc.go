// Package postgres implements the "state.postgresql" state store (alias
// "state.postgres") on PostgreSQL with daprd 1.18's tables, so that daprd
// and statecar can share one database: see docs/stores.md and
// ../../../shared/spec/stores.md §3-§5.
//
// Versions (spec.version, lower-cased): "", "v0" and "v1" select v1 (jsonb value,
// isbinary flag, ETag = the row's xmin, query API); "v2" selects v2 (bytea
// value, ETag = a uuid column). Anything else fails with daprd's text.
//
// Invariants:
//  1. Schema: tables, columns, defaults and index names are those daprd
//     1.18 creates; the migration level lives in the metadata table
//     ("migrations" = 3 for v1, "migrations-state-v2-<prefix>" = 2 for v2)
//     and migrations run under the metadata table's "lock" row, taken with
//     SELECT ... FOR UPDATE, exactly as daprd does. A state table missing
//     although the level says it exists (daprd's quirk with a second
//     tableName) is created at the current level.
//  2. Every multi-item write (bulk save/delete with more than one item,
//     transaction with more than one operation) runs in one database
//     transaction: a failed condition or an error rolls everything back.
//     A transaction checks all its conditions against the state before it
//     (rows locked FOR UPDATE), then applies its operations in order.
//  3. Expired rows are invisible to reads, ETag checks and queries; they
//     stay until the cleanup deletes them, and a first-write save revives
//     them. Time is always the database's clock (CURRENT_TIMESTAMP/now()).
//  4. Cleanup runs every cleanupInterval on one goroutine; across sidecars
//     it is coordinated by the "last-cleanup" row of the metadata table (a
//     sidecar deletes only if it moved that row forward).
//  5. Server errors are returned as plain errors; pgxpool replaces broken
//     connections, so the store recovers when the server is back.
//
// Concurrency: a *Store is safe for concurrent use by any number of
// goroutines (the API layer calls it from event-loop and worker goroutines).
// The only goroutine it owns is the cleanup loop, stopped by Close. Close
// must be called once, after the last request.
//
// Configuration store: the package also implements "configuration.postgresql"
// (alias "configuration.postgres"), ConfigStore, as components-contrib
// 1.18's configuration/postgres: the items are the rows (key, value,
// version, metadata) of the table the "table" metadata names (it must
// exist; lower-case names only), Get keeps one row per key (the highest
// numeric version) and Subscribe holds one pool connection that LISTENs on
// notifyChannel (component metadata, else the request's pgNotifyChannel)
// for the JSON the table's trigger sends ({"data": row}). The connection
// metadata is the state store's. Differences from daprd: LISTEN has
// completed when Subscribe returns; Unsubscribe UNLISTENs on the
// subscription's own connection and waits for its goroutine, so the handler
// is not called after it returns; a notification with a field of the wrong
// JSON type is skipped (daprd panics); useAzureAD/useAWSIAM are refused.
//
// Metrics (VictoriaMetrics default set, labels sorted by name):
//
//	statecar_store_postgres_request_duration_seconds{component,op}  histogram
//	statecar_store_postgres_pool_conns{component,state}             gauge (total, idle, acquired, max)
//	statecar_store_postgres_cleanup_deleted_total{component}        counter
package postgres
