//go:build !race

package h1

// raceEnabled: the race detector adds allocations, so allocation gates skip.
const raceEnabled = false
