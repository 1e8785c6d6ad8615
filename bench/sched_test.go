package bench

import (
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

func TestScheduleUnionIsEvenlySpaced(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := func(rate float64, workers, perWorker int) {
		t.Helper()
		var all []time.Duration
		for i := range workers {
			s := NewSchedule(start, rate, i, workers)
			prev := time.Duration(-1)
			for k := range perWorker {
				d := s.At(int64(k)).Sub(start)
				if d <= prev {
					t.Fatalf("rate %v: worker %d plan not increasing at %d", rate, i, k)
				}
				prev = d
				all = append(all, d)
			}
		}
		slices.Sort(all)
		step := time.Duration(1e9 / rate)
		for j, d := range all {
			want := time.Duration(float64(j) / rate * 1e9)
			if diff := d - want; diff < -time.Nanosecond || diff > time.Nanosecond {
				t.Fatalf("rate %v, %d workers: slot %d at %v, want %v (step %v)", rate, workers, j, d, want, step)
			}
		}
	}
	f(1000, 1, 100)
	f(1000, 4, 250)
	f(30000, 7, 1000)
	f(3, 2, 10)
}

func TestScheduleNoDrift(t *testing.T) {
	start := time.Unix(0, 0)
	s := NewSchedule(start, 7, 0, 3) // interval 3/7 s: not a whole number of ns
	k := int64(7_000_000)            // 3,000,000 s later
	want := start.Add(3_000_000 * time.Second)
	if got := s.At(k); got.Sub(want).Abs() > time.Microsecond {
		t.Fatalf("At(%d) = %v, want %v", k, got, want)
	}
}

func TestOpenLoopLatencyFromIntendedTime(t *testing.T) {
	planned := time.Unix(100, 0)
	if got := OpenLoopLatency(planned, planned.Add(3*time.Millisecond)); got != 3*time.Millisecond {
		t.Fatalf("latency %v", got)
	}
	if got := OpenLoopLatency(planned, planned.Add(-time.Millisecond)); got != 0 {
		t.Fatalf("negative latency %v", got)
	}
}

// stallDriver answers at once except for call number stallAt, which
// sleeps for stall.
type stallDriver struct {
	calls   int
	stallAt int
	stall   time.Duration
}

func (d *stallDriver) do(Op, *KeyGen) (int, error) {
	d.calls++
	if d.calls == d.stallAt {
		time.Sleep(d.stall)
	}
	return 204, nil
}
func (d *stallDriver) close() {}

// TestOpenLoopChargesStallToDelayedRequests checks that a stall is charged
// to every request it delayed (no coordinated omission) in open loop, and
// only to the stalled request in closed loop. The open-loop assertion is a
// lower bound that a slow machine can only make easier to meet (more
// requests delayed); the closed-loop bound leaves room for a GC pause.
func TestOpenLoopChargesStallToDelayedRequests(t *testing.T) {
	const stall = 60 * time.Millisecond
	mix, _ := ParseMix("get")
	g, _ := NewKeyGen(DistUniform, 10, 1, nil)
	now := time.Now()
	run := func(open bool) *worker {
		w := &worker{}
		d := &stallDriver{stallAt: 20, stall: stall}
		var sched *Schedule
		start := now
		if open {
			s := NewSchedule(start, 1000, 0, 1) // one request per ms
			sched = &s
		} else {
			start = time.Now()
		}
		var done atomic.Int64
		w.loop(t.Context(), d, g, &mix, sched, start, start.Add(200*time.Millisecond), &done)
		return w
	}
	slow := func(w *worker) (n int) {
		// requests whose latency is at least half the stall
		for i, c := range w.hist.counts {
			if histUpper(i) >= int64(stall/2) {
				n += int(c)
			}
		}
		return n
	}
	open := run(true)
	if got := slow(open); got < 25 {
		t.Errorf("open loop: %d requests slower than %v, want >= 25 (all delayed by the stall)", got, stall/2)
	}
	if open.status[204] != open.requests || open.requests == 0 {
		t.Errorf("open loop: %d requests, %d with 204", open.requests, open.status[204])
	}
	closed := run(false)
	if got := slow(closed); got < 1 || got > 4 {
		t.Errorf("closed loop: %d requests slower than %v, want the stalled one (a few at most)", got, stall/2)
	}
}

// TestOpenLoopCountsUnsentBacklog checks that planned requests the run had
// no time to send are counted and recorded, not silently dropped.
func TestOpenLoopCountsUnsentBacklog(t *testing.T) {
	mix, _ := ParseMix("get")
	g, _ := NewKeyGen(DistUniform, 10, 1, nil)
	start := time.Now()
	s := NewSchedule(start, 1000, 0, 1) // 100 requests planned in 100ms
	w := &worker{}
	d := &stallDriver{stallAt: 50, stall: 120 * time.Millisecond}
	var done atomic.Int64
	w.loop(t.Context(), d, g, &mix, &s, start, start.Add(100*time.Millisecond), &done)
	if w.requests+w.unsent != 100 || w.unsent < 50 {
		t.Fatalf("completed %d + unsent %d, want 100 planned with at least 50 unsent", w.requests, w.unsent)
	}
	if w.hist.Count() != 100 {
		t.Fatalf("histogram holds %d values, want all 100 planned", w.hist.Count())
	}
	// Every unsent request waited at least until the stall ended (>= 20ms
	// after the end of the plan for the last one planned).
	if w.hist.Max() < int64(120*time.Millisecond) {
		t.Fatalf("max latency %v, want at least the stall", time.Duration(w.hist.Max()))
	}
}
