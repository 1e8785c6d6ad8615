package bench

import "time"

// Schedule is the open-loop send plan of one worker. With a total rate R
// spread over W workers, worker i sends its k-th request at
//
//	start + (i + k*W) / R
//
// so the union of all workers' plans is one evenly spaced stream at rate R.
// Latency of an open-loop request is measured from its planned time, not
// from when it was actually written, so a stall that delays later sends is
// charged to every request it delayed (no coordinated omission).
//
// A Schedule is a value owned by one worker goroutine.
type Schedule struct {
	start   time.Time
	rateNum float64 // R, requests per second over all workers
	worker  int64   // i
	workers int64   // W
}

// NewSchedule returns the plan of worker i of workers for a total rate of
// rate requests per second (rate > 0) starting at start.
func NewSchedule(start time.Time, rate float64, i, workers int) Schedule {
	return Schedule{
		start:   start,
		rateNum: rate,
		worker:  int64(i),
		workers: int64(workers),
	}
}

// At returns the planned send time of the worker's k-th request (k >= 0).
// It is computed from k directly, so rounding never accumulates.
func (s Schedule) At(k int64) time.Time {
	slot := float64(s.worker + k*s.workers) // global slot number
	return s.start.Add(time.Duration(slot / s.rateNum * 1e9))
}

// OpenLoopLatency returns the open-loop latency of a request planned at intended
// and completed at done: done - intended, never negative.
func OpenLoopLatency(intended, done time.Time) time.Duration {
	d := done.Sub(intended)
	if d < 0 {
		return 0
	}
	return d
}
