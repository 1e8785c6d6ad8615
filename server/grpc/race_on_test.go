//go:build race

package grpcserver

// raceEnabled skips allocation assertions: the race detector makes
// sync.Pool drop items at random.
const raceEnabled = true
