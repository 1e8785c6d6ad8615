package overload

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/statecar/statecar/tests/torture"
)

var (
	soak     = flag.Bool("soak", false, "run TestSoak (mixed load at -soakload of the measured maximum for -soaktime)")
	soakTime = flag.Duration("soaktime", 30*time.Minute, "TestSoak duration")
	soakLoad = flag.Float64("soakload", 0.7, "TestSoak rate as a fraction of the measured maximum")
)

// mixedOp runs one operation of the soak mix on hc: 60% GET, 30% save,
// 10% two-key transaction, over 1000 keys of 256-byte values.
func mixedOp(hc *http.Client, base string, rng *rand.Rand, val string) error {
	k := "soak" + strconv.Itoa(rng.IntN(1000))
	var resp *http.Response
	var err error
	want := 204
	switch r := rng.IntN(10); {
	case r < 6:
		resp, err = hc.Get(base + "/v1.0/state/statestore/" + k)
		want = 0
	case r < 9:
		resp, err = hc.Post(base+"/v1.0/state/statestore", "application/json",
			strings.NewReader(`[{"key":"`+k+`","value":"`+val+`"}]`))
	default:
		k2 := "soak" + strconv.Itoa(rng.IntN(1000))
		resp, err = hc.Post(base+"/v1.0/state/statestore/transaction", "application/json",
			strings.NewReader(`{"operations":[{"operation":"upsert","request":{"key":"`+k+`","value":"`+val+`"}},{"operation":"delete","request":{"key":"`+k2+`"}}]}`))
	}
	if err != nil {
		return err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want == 0 && (resp.StatusCode == 200 || resp.StatusCode == 204) || resp.StatusCode == want {
		return nil
	}
	return fmt.Errorf("status %d: %.200s", resp.StatusCode, b)
}

func newHTTPClient(conns int) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns}}
}

// goroutines reads the total from the pprof goroutine profile.
func goroutines(profileURL string) int {
	resp, err := http.Get(profileURL + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	line, _ := bufio.NewReader(resp.Body).ReadString('\n')
	// "goroutine profile: total 42"
	f := strings.Fields(line)
	if len(f) == 0 {
		return -1
	}
	n, err := strconv.Atoi(f[len(f)-1])
	if err != nil {
		return -1
	}
	return n
}

// TestSoak measures the maximum closed-loop rate of the mix, then runs it
// open-loop at -soakload of that for -soaktime, sampling RSS, open fds and
// goroutines (pprof, --enable-profiling) every 10 s. Wanted: no error
// answer, and no growth of RSS, fds or goroutines: after warm-up (the
// first fifth of the samples), the peak of the second half may exceed the
// peak of the first half by at most 50% (RSS) or 20 (fds, goroutines).
func TestSoak(t *testing.T) {
	if !*soak {
		t.Skip("soak test: run with -soak [-soaktime 30m]")
	}
	pport, err := torture.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	p := startProcess(t, "--enable-profiling", "--profile-port", strconv.Itoa(pport))
	base := "http://127.0.0.1:" + strconv.Itoa(p.HTTPPort)
	prof := "http://127.0.0.1:" + strconv.Itoa(pport)
	pid := p.Pid()
	val := strings.Repeat("v", 256)

	// 1. Maximum: 16 closed-loop workers for 10 s.
	const workers = 16
	hc := newHTTPClient(workers * 2)
	var ops, errs atomic.Int64
	var lastErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 9))
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := mixedOp(hc, base, rng, val); err != nil {
					errs.Add(1)
					lastErr.Store(err.Error())
				}
				ops.Add(1)
			}
		}()
	}
	time.Sleep(10 * time.Second)
	close(stop)
	wg.Wait()
	maxRate := float64(ops.Load()) / 10
	rate := maxRate * *soakLoad
	t.Logf("measured maximum %.0f ops/s (16 closed-loop workers); soaking at %.0f ops/s for %v", maxRate, rate, *soakTime)
	if errs.Load() > 0 {
		t.Errorf("%d errors while measuring the maximum; last: %v", errs.Load(), lastErr.Load())
	}

	// 2. Open loop at rate: a ticker hands out tokens; 64 workers take them.
	ops.Store(0)
	errs.Store(0)
	var dropped atomic.Int64
	tokens := make(chan struct{}, 4096)
	stop = make(chan struct{})
	for w := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 10))
			for range tokens {
				if err := mixedOp(hc, base, rng, val); err != nil {
					errs.Add(1)
					lastErr.Store(err.Error())
				}
				ops.Add(1)
			}
		}()
	}
	go func() {
		const tick = 10 * time.Millisecond
		per := rate * tick.Seconds()
		acc := 0.0
		tk := time.NewTicker(tick)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				close(tokens)
				return
			case <-tk.C:
				acc += per
				for ; acc >= 1; acc-- {
					select {
					case tokens <- struct{}{}:
					default:
						dropped.Add(1) // the server fell behind: counted, not hidden
					}
				}
			}
		}
	}()
	type sample struct {
		at              time.Duration
		rss             int64
		fds, goroutines int
		ops, errs       int64
	}
	var samples []sample
	start := time.Now()
	for time.Since(start) < *soakTime {
		time.Sleep(min(10*time.Second, *soakTime-time.Since(start)))
		s := sample{time.Since(start).Round(time.Second), procStatus(pid, "VmRSS"), fdCount(pid), goroutines(prof), ops.Load(), errs.Load()}
		samples = append(samples, s)
		t.Logf("t=%v rss=%d KiB fds=%d goroutines=%d ops=%d errors=%d", s.at, s.rss, s.fds, s.goroutines, s.ops, s.errs)
		if exited, err := p.Exited(); exited {
			t.Fatalf("statecar exited during the soak: %v", err)
		}
	}
	close(stop)
	wg.Wait()
	t.Logf("soak: %d ops in %v (%.0f/s), %d errors, %d ticks' tokens dropped (server behind), VmHWM %d KiB",
		ops.Load(), time.Since(start).Round(time.Second), float64(ops.Load())/time.Since(start).Seconds(), errs.Load(), dropped.Load(), procStatus(pid, "VmHWM"))
	if errs.Load() > 0 {
		t.Errorf("%d error answers during the soak; last: %v", errs.Load(), lastErr.Load())
	}
	if len(samples) < 3 {
		return
	}
	// fds and goroutines oscillate with the connections in use; a leak is a
	// trend, so compare the peaks of the two halves after warm-up (the
	// first fifth). RSS: the block cache fills during warm-up.
	warmEnd := max(1, len(samples)/5)
	mid := warmEnd + (len(samples)-warmEnd)/2
	peak := func(s []sample) (rss int64, fds, gs int) {
		for _, x := range s {
			rss, fds, gs = max(rss, x.rss), max(fds, x.fds), max(gs, x.goroutines)
		}
		return
	}
	r1, f1, g1 := peak(samples[warmEnd:mid])
	r2, f2, g2 := peak(samples[mid:])
	t.Logf("peaks after warm-up, first half vs second half: RSS %d/%d KiB, fds %d/%d, goroutines %d/%d", r1, r2, f1, f2, g1, g2)
	if r2 > r1*3/2 {
		t.Errorf("RSS grew: peak %d KiB in the first half, %d KiB in the second", r1, r2)
	}
	if f2 > f1+20 {
		t.Errorf("open fds grew: peak %d in the first half, %d in the second", f1, f2)
	}
	if g2 > g1+20 {
		t.Errorf("goroutines grew: peak %d in the first half, %d in the second", g1, g2)
	}
}
