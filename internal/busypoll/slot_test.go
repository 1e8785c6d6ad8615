package busypoll

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

type item struct{ n int }

// TestSlotExactlyOnce races offers against spinning waiters: every item
// must end up with exactly one owner, the offerer (Offer returned false) or
// the waiter that Wait returned it to, and none may be left in the slot.
func TestSlotExactlyOnce(t *testing.T) {
	var sp Slot[item]
	set := metrics.NewSet()
	sp.Hits, sp.Misses = set.NewCounter("hits"), set.NewCounter("misses")
	defer func() {
		t.Logf("hits %d misses %d tries %d score %d", sp.Hits.Get(), sp.Misses.Get(), sp.Tries(), sp.score.Load())
	}()
	var stop atomic.Bool
	const producers, waiters = 4, 3
	per := 20000
	if testing.Short() {
		per = 2000
	}
	items := make([]item, producers*per)
	for i := range items {
		items[i].n = i
	}
	owners := make([]atomic.Int32, len(items))
	var taken atomic.Int64
	var wwg sync.WaitGroup
	for w := 0; w < waiters; w++ {
		wwg.Add(1)
		go func() {
			defer wwg.Done()
			for !stop.Load() {
				if it := sp.Wait(50*time.Microsecond, &stop); it != nil {
					owners[it.n].Add(1)
					taken.Add(1)
				} else {
					runtime.Gosched() // another waiter spins: let the offers run
				}
			}
		}()
	}
	var pwg sync.WaitGroup
	for p := 0; p < producers; p++ {
		pwg.Add(1)
		go func(p int) {
			defer pwg.Done()
			for i := p * per; i < (p+1)*per; i++ {
				if !sp.Offer(&items[i]) {
					owners[i].Add(1)
				}
				if i%64 == 0 {
					time.Sleep(time.Microsecond) // let waiters give up and come back
				}
			}
		}(p)
	}
	pwg.Wait()
	stop.Store(true)
	wwg.Wait()
	if it := sp.hot.Load(); it != nil {
		t.Fatalf("item %d left in the slot", it.n)
	}
	for i := range owners {
		if n := owners[i].Load(); n != 1 {
			t.Fatalf("item %d has %d owners, want 1", i, n)
		}
	}
	if taken.Load() == 0 {
		t.Fatal("no item went to a spinning waiter: the race was not exercised")
	}
	if got := sp.Hits.Get() + sp.Misses.Get(); got == 0 || sp.Hits.Get() != uint64(taken.Load()) {
		t.Fatalf("hits %d (taken %d), misses %d", sp.Hits.Get(), taken.Load(), sp.Misses.Get())
	}
	t.Logf("%d of %d items taken by spinners", taken.Load(), len(items))
}

// TestSlotBackOff: a slot whose waits keep missing stops spinning (Wait
// returns at once without taking the token) except once every probe tries,
// and an offer nobody waits for is refused.
func TestSlotBackOff(t *testing.T) {
	var sp Slot[item]
	var stop atomic.Bool
	if sp.Offer(&item{}) {
		t.Fatal("Offer taken with nobody spinning")
	}
	for i := 0; i < -minScore; i++ {
		if sp.Wait(time.Microsecond, &stop) != nil {
			t.Fatal("Wait returned an item nobody offered")
		}
	}
	if sp.score.Load() != minScore {
		t.Fatalf("score %d after %d misses, want %d", sp.score.Load(), -minScore, minScore)
	}
	// At the floor Wait returns without spinning: with a 1 s budget it
	// would take a second if it spun.
	start := time.Now()
	for sp.Tries()%probe != probe-1 {
		sp.Wait(time.Second, &stop)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Fatalf("waits at the floor spun (%v)", d)
	}
	// The probe spins; stop ends it early.
	stop.Store(true)
	if sp.Wait(time.Second, &stop) != nil {
		t.Fatal("probe returned an item")
	}
	if sp.Spinning() {
		t.Fatal("still spinning after Wait returned")
	}
}

// TestSlotAllocs: handing an item over allocates nothing.
func TestSlotAllocs(t *testing.T) {
	var sp Slot[item]
	var stop atomic.Bool
	it := &item{}
	done := make(chan struct{})
	var got atomic.Int64
	go func() {
		defer close(done)
		for !stop.Load() {
			if sp.Wait(time.Millisecond, &stop) != nil {
				got.Add(1)
			}
		}
	}()
	allocs := testing.AllocsPerRun(200, func() {
		for !sp.Offer(it) && !stop.Load() {
			runtime.Gosched()
		}
	})
	stop.Store(true)
	<-done
	if allocs != 0 {
		t.Fatalf("%v allocs per hand-off, want 0", allocs)
	}
	if got.Load() == 0 {
		t.Fatal("no hand-off happened")
	}
}
