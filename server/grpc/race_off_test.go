//go:build !race

package grpcserver

const raceEnabled = false
