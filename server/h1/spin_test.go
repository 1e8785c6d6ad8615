package h1

import (
	"bufio"
	"fmt"
	"github.com/VictoriaMetrics/metrics"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestSpinSlotExactlyOnce races offers against spinning waiters: every
// task must end up with exactly one owner, the offerer (offer returned
// false) or the waiter that wait returned it to, and none may be left in
// the slot.
func TestSpinSlotExactlyOnce(t *testing.T) {
	var sp spinSlot
	set := metrics.NewSet()
	sp.hits, sp.misses = set.NewCounter("hits"), set.NewCounter("misses")
	defer func() {
		t.Logf("hits %d misses %d tries %d score %d", sp.hits.Get(), sp.misses.Get(), sp.tries.Load(), sp.score.Load())
	}()
	var stop atomic.Bool
	const producers, waiters = 4, 3
	per := scale(20000)
	tasks := make([]task, producers*per)
	index := make(map[*task]int, len(tasks))
	for i := range tasks {
		index[&tasks[i]] = i
	}
	owners := make([]atomic.Int32, len(tasks))
	var taken atomic.Int64
	var wwg sync.WaitGroup
	for w := 0; w < waiters; w++ {
		wwg.Add(1)
		go func() {
			defer wwg.Done()
			for !stop.Load() {
				if tk := sp.wait(50*time.Microsecond, &stop); tk != nil {
					owners[index[tk]].Add(1)
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
				if !sp.offer(&tasks[i]) {
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
	if tk := sp.hot.Load(); tk != nil {
		t.Fatalf("task %d left in the slot", index[tk])
	}
	for i := range owners {
		if n := owners[i].Load(); n != 1 {
			t.Fatalf("task %d has %d owners, want 1", i, n)
		}
	}
	if taken.Load() == 0 {
		t.Fatal("no task went to a spinning waiter: the race was not exercised")
	}
	t.Logf("%d of %d tasks taken by spinners", taken.Load(), len(tasks))
}

// TestSpinWorkerServes runs blocking requests through a server whose
// workers spin: one connection at a time (where the spinner takes nearly
// every request) and many at once; every response must be right, and the
// spinner must have taken some requests.
func TestSpinWorkerServes(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.SpinWorker = MaxSpinWorker })
	if ts.cfg.SpinWorker != MaxSpinWorker || ts.spin.hits == nil {
		t.Fatalf("SpinWorker = %v, counters %v", ts.cfg.SpinWorker, ts.spin.hits)
	}
	hits0 := ts.spin.hits.Get()
	c := dial(t, ts.addr)
	br := bufio.NewReader(c)
	for i := 0; i < scale(200); i++ {
		body := fmt.Sprintf("one-%d", i)
		fmt.Fprintf(c, "POST /becho HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		resp, got := readResp(t, br, "POST")
		if resp.StatusCode != 200 || got != "B:"+body {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, got)
		}
	}
	if ts.spin.hits.Get() == hits0 {
		t.Fatal("200 sequential blocking requests, none taken by the spinning worker")
	}

	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			c := dial(t, ts.addr)
			br := bufio.NewReader(c)
			for i := 0; i < scale(50); i++ {
				body := fmt.Sprintf("g%d-%d", g, i)
				// Pipelined pairs too: the second waits for the first task.
				fmt.Fprintf(c, "POST /becho HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
				fmt.Fprintf(c, "POST /becho HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s!", len(body)+1, body)
				for _, want := range []string{"B:" + body, "B:" + body + "!"} {
					resp, got := readResp(t, br, "POST")
					if resp.StatusCode != 200 || got != want {
						errs <- fmt.Errorf("g%d request %d: %d %q, want %q", g, i, resp.StatusCode, got, want)
						return
					}
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestSpinWorkerOffByDefault: without SpinWorker no worker spins and no
// counter is registered for the server.
func TestSpinWorkerOffByDefault(t *testing.T) {
	ts := startServer(t, nil)
	c := dial(t, ts.addr)
	br := bufio.NewReader(c)
	for i := 0; i < 20; i++ {
		fmt.Fprintf(c, "POST /becho HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
		if resp, got := readResp(t, br, "POST"); resp.StatusCode != 200 || !strings.HasPrefix(got, "B:hi") {
			t.Fatalf("%d %q", resp.StatusCode, got)
		}
		if ts.spin.spinning.Load() {
			t.Fatal("a worker spins with SpinWorker 0")
		}
	}
	if ts.spin.hits != nil || ts.spin.tries.Load() != 0 {
		t.Fatal("spin slot used with SpinWorker 0")
	}
}

// TestSpinSlotBackOff: a slot whose waits keep missing stops spinning (wait
// returns at once without taking the token) except once every spinProbe tries,
// and an offer nobody waits for is refused.
func TestSpinSlotBackOff(t *testing.T) {
	var sp spinSlot
	var stop atomic.Bool
	if sp.offer(&task{}) {
		t.Fatal("offer taken with nobody spinning")
	}
	for i := 0; i < -spinMinScore; i++ {
		if sp.wait(time.Microsecond, &stop) != nil {
			t.Fatal("wait returned a task nobody offered")
		}
	}
	if sp.score.Load() != spinMinScore {
		t.Fatalf("score %d after %d misses, want %d", sp.score.Load(), -spinMinScore, spinMinScore)
	}
	// At the floor wait returns without spinning: with a 1 s budget it
	// would take a second if it spun.
	start := time.Now()
	for sp.tries.Load()%spinProbe != spinProbe-1 {
		sp.wait(time.Second, &stop)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Fatalf("waits at the floor spun (%v)", d)
	}
	// The probe spins; stop ends it early.
	stop.Store(true)
	if sp.wait(time.Second, &stop) != nil {
		t.Fatal("probe returned a task")
	}
	if sp.spinning.Load() {
		t.Fatal("still spinning after wait returned")
	}
}
