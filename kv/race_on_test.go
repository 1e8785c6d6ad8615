//go:build race

package kv

// raceEnabled: sync.Pool drops items at random under -race, so
// allocation gates are skipped.
const raceEnabled = true
