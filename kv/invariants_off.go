//go:build !invariants

package kv

// invariants enables costly self-checks (go test -tags invariants).
const invariants = false
