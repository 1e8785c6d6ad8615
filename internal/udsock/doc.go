// Package udsock opens the --unix-domain-socket listeners (daprd's
// dapr-{appid}-http.socket and dapr-{appid}-grpc.socket).
//
// Invariants:
//  1. A socket someone accepts on is never removed: Listen fails with the
//     kernel's "bind: address already in use", as daprd does and as a TCP
//     port in use does (runtime-http.md §1), so that a second sidecar with
//     the same app id and directory cannot take the first one's sockets.
//  2. Beyond daprd, a socket file nothing accepts on (connection refused:
//     left by a process that was killed) is removed first, so that a
//     restart after a crash works; any other file at the path is left
//     alone and makes Listen fail.
//  3. The listener unlinks its file on Close (Go's default for a listener
//     it created), which is daprd's clean-up of its sockets on exit.
package udsock
