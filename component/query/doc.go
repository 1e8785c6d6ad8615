// Package query is the alpha State query language of Dapr (components-contrib
// state/query): Parse turns a query document into a small tree (Query,
// Filter, Sort) that stores translate to their native language (the
// PostgreSQL store builds SQL from it), and Execute evaluates it over JSON
// values for stores without a query engine (the embedded stores).
//
// Language: "filter" is a tree of single-key objects: EQ, NEQ, GT, GTE, LT,
// LTE ({"path": scalar}), IN ({"path": [values]}), AND/OR ([two or more
// filters]); operator names are case-sensitive. "sort" is a list of
// {"key": path, "order": "ASC"|"DESC"}; "page" is {"limit": n, "token": s}.
// A path is a dot-separated path into the stored value ("person.org").
//
// Evaluation semantics (Execute, Filter.Match), where daprd leaves them to
// each store:
//   - EQ and IN compare numbers numerically, everything else by deep
//     equality of the decoded JSON; NEQ is "not EQ" (a missing path matches).
//   - GT, GTE, LT, LTE compare two numbers numerically or two strings
//     byte-wise; a missing path or mixed types never match. (MongoDB and
//     PostgreSQL reject string operands; we accept them.)
//   - Sorting orders missing < null < numbers < strings < booleans < arrays
//     < objects; ASC puts missing values first, DESC last; ties keep the
//     input order (key order for the embedded stores).
//   - The page token is the decimal offset of the page's first item; the
//     token returned is the next offset, only when limit > 0 and the page is
//     not empty.
//
// Invariants:
//  1. Parse returns exactly components-contrib's error texts (daprd wraps
//     them in "failed to parse JSON query body: ").
//  2. A parsed Query is immutable after Parse; it may be shared between
//     goroutines. Parse and Execute are safe for concurrent use.
package query
