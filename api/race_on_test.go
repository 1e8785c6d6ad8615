//go:build race

package api_test

// raceEnabled: the race detector changes allocation counts (sync.Pool drops
// items at random), so allocation gates are skipped under -race.
const raceEnabled = true
