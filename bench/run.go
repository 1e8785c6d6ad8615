package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
)

// Config describes one load run.
type Config struct {
	Target    string        // host:port of the sidecar's HTTP or gRPC port
	Proto     string        // "http" (default), "grpc", or "redis" (RESP to a redis-server: the raw-KV reference)
	Store     string        // state store name; default "statestore"
	Mix       Mix           // what to send
	Conns     int           // concurrent connections (workers); default 1
	Channels  int           // gRPC channels (HTTP/2 connections) shared by the workers; 0 = 1, as one SDK client
	Rate      float64       // open loop: total requests per second; 0 = closed loop
	Duration  time.Duration // measured phase; default 5s
	Warmup    time.Duration // unmeasured phase before it
	Size      int           // payload bytes per value (the "p" field)
	Batch     int           // items per msave, bulk and tx request; default 10
	Keys      uint64        // key-space size; default 10000
	Dist      Dist          // key distribution; default uniform
	Query     string        // query body for OpQuery; "" = EQ on a random group
	KeyPrefix string        // key text before the number; default "k"
	Seed      uint64        // RNG seed; workers derive theirs from it
	Preload   bool          // write every key once before the run (msave of 100, over HTTP or gRPC)
	// PreloadFrom skips keys below it in the preload (they were written by
	// an earlier run against the same store).
	PreloadFrom uint64
	// RedisSave is what a save sends with Proto "redis": "set" (default, a
	// plain SET) or "script" (EVALSHA of statecar's state.redis write
	// script with a plain save's arguments on a hash key: the raw Redis
	// round trip of the work a daprd-layout save does).
	RedisSave string
	Label     string // Result.System
	// Progress, if not nil, receives a progress bar (rewritten with '\r'
	// every 200ms) during warm-up and the measured phase.
	Progress io.Writer
	// OnMeasure, if not nil, is called once when the measured phase starts
	// and once when it ends (begin=false), from a timer goroutine or, when
	// that is late, from Run's goroutine after the workers stopped; the
	// peers runner samples the target's CPU time there.
	OnMeasure func(begin bool)
}

func (c *Config) setDefaults() error {
	if c.Proto == "" {
		c.Proto = "http"
	}
	if c.RedisSave != "" && c.RedisSave != "set" && c.RedisSave != "script" {
		return fmt.Errorf("cannot run: unknown redis save %q (want set or script)", c.RedisSave)
	}
	if c.Proto != "http" && c.Proto != "grpc" && c.Proto != "redis" {
		return fmt.Errorf("cannot run: unknown proto %q (want http, grpc or redis)", c.Proto)
	}
	if c.Store == "" {
		c.Store = "statestore"
	}
	if len(c.Mix.ops) == 0 {
		return errors.New("cannot run: empty mix")
	}
	if c.Conns <= 0 {
		c.Conns = 1
	}
	if c.Duration <= 0 {
		c.Duration = 5 * time.Second
	}
	if c.Batch <= 0 {
		c.Batch = 10
	}
	if c.Keys == 0 {
		c.Keys = 10000
	}
	if c.Dist == "" {
		c.Dist = DistUniform
	}
	if c.Dist != DistUniform && c.Dist != DistZipf {
		return fmt.Errorf("cannot run: unknown distribution %q (want uniform or zipf)", c.Dist)
	}
	if c.KeyPrefix == "" {
		c.KeyPrefix = "k"
	}
	if c.Size < 0 {
		return errors.New("cannot run: negative size")
	}
	return nil
}

// worker is the state of one load goroutine; only the runner reads it,
// after the goroutine has finished.
type worker struct {
	hist     Histogram
	svc      Histogram // open loop: from the actual send, not the planned time
	status   [numStatus]int64
	terrs    int64 // transport errors
	requests int64 // completed in the measured phase
	unsent   int64 // open loop: planned in the measured phase, never sent (run over)
	lastErr  error
}

// success reports whether a status counts as a successful request.
func success(st int) bool { return st/100 == 2 || st == grpcStatusBase || st == redisStatusBase }

// Run performs one load run against a running target and returns what it
// measured. It returns an error only when the run could not be carried out
// (for example no connection could be made); request failures are counted
// in the result.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Target == "" {
		return nil, errors.New("cannot run: no target")
	}
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	shape := &reqShape{
		store: cfg.Store, keyPrefix: cfg.KeyPrefix, batch: cfg.Batch,
		query: cfg.Query, pay: NewPayload(cfg.Size, cfg.Seed),
		redisScript: cfg.RedisSave == "script",
	}
	var zt *ZipfTable
	if cfg.Dist == DistZipf {
		zt = NewZipfTable(cfg.Keys, ZipfTheta)
	}

	// Connections first, so that dial errors abort before any load.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	drivers := make([]driver, cfg.Conns)
	var channels []*grpc.ClientConn
	defer func() {
		for _, d := range drivers {
			if d != nil {
				d.close()
			}
		}
		for _, cc := range channels {
			_ = cc.Close()
		}
	}()
	for i := range drivers {
		switch cfg.Proto {
		case "http":
			d, err := newHTTPDriver(cfg.Target, shape)
			if err != nil {
				return nil, err
			}
			drivers[i] = d
		case "redis":
			d, err := newRedisDriver(cfg.Target, shape)
			if err != nil {
				return nil, err
			}
			drivers[i] = d
		case "grpc":
			nch := min(max(cfg.Channels, 1), cfg.Conns)
			if i < nch {
				cc, err := DialGRPC(cfg.Target)
				if err != nil {
					return nil, err
				}
				channels = append(channels, cc)
			}
			drivers[i] = newGRPCDriver(ctx, channels[i%len(channels)], shape)
		}
	}

	res := &Result{
		System: cfg.Label, Target: cfg.Target, Proto: cfg.Proto, Workload: cfg.Mix.String(),
		Conns: cfg.Conns, Rate: cfg.Rate, Duration: cfg.Duration.Seconds(), Warmup: cfg.Warmup.Seconds(),
		ValueSize: cfg.Size, Batch: cfg.Batch, Keys: cfg.Keys, Dist: string(cfg.Dist), Host: ThisHost(),
	}

	if cfg.Preload {
		t0 := time.Now()
		if err := preload(ctx, drivers, cfg.PreloadFrom, cfg.Keys, shape, cfg.Progress); err != nil {
			return nil, err
		}
		res.PreloadSec = time.Since(t0).Seconds()
	}

	start := time.Now()
	res.Started = start
	measureFrom := start.Add(cfg.Warmup)
	end := measureFrom.Add(cfg.Duration)
	workers := make([]*worker, cfg.Conns)
	var done atomic.Int64 // completed requests, for the progress bar
	var wg sync.WaitGroup
	for i := range workers {
		w := &worker{}
		workers[i] = w
		g, err := NewKeyGen(cfg.Dist, cfg.Keys, cfg.Seed*1000003+uint64(i)+1, zt)
		if err != nil {
			return nil, err
		}
		var sched *Schedule
		if cfg.Rate > 0 {
			s := NewSchedule(start, cfg.Rate, i, cfg.Conns)
			sched = &s
		}
		wg.Add(1)
		go func(d driver) {
			defer wg.Done()
			w.loop(ctx, d, g, &cfg.Mix, sched, measureFrom, end, &done)
		}(drivers[i])
	}

	// OnMeasure is called exactly once with true and then once with false:
	// by the timer goroutine at measureFrom and end, or, if it was late,
	// by this goroutine once the workers are done.
	var timers sync.WaitGroup
	var beginOnce, endOnce sync.Once
	var genCPU [2]float64 // this process's CPU seconds at begin and end
	onMeasure := func(begin bool) {
		if begin {
			genCPU[0], _ = CPUTime(os.Getpid())
		} else {
			genCPU[1], _ = CPUTime(os.Getpid())
		}
		if cfg.OnMeasure != nil {
			cfg.OnMeasure(begin)
		}
	}
	stopTimers := make(chan struct{})
	timers.Add(1)
	go func() {
		defer timers.Done()
		select {
		case <-time.After(time.Until(measureFrom)):
			beginOnce.Do(func() { onMeasure(true) })
		case <-stopTimers:
			return
		}
		select {
		case <-time.After(time.Until(end)):
			endOnce.Do(func() { onMeasure(false) })
		case <-stopTimers:
		}
	}()
	if cfg.Progress != nil {
		timers.Add(1)
		go func() {
			defer timers.Done()
			progress(cfg.Progress, start, measureFrom, end, &done, stopTimers)
		}()
	}
	wg.Wait()
	close(stopTimers)
	timers.Wait()
	beginOnce.Do(func() { onMeasure(true) })
	endOnce.Do(func() { onMeasure(false) })

	var h, svc Histogram
	var st [numStatus]int64
	var terrs, unsent int64
	var lastErr error
	for _, w := range workers {
		unsent += w.unsent
		h.Merge(&w.hist)
		svc.Merge(&w.svc)
		for i, c := range w.status {
			st[i] += c
		}
		terrs += w.terrs
		res.Requests += w.requests
		if w.lastErr != nil {
			lastErr = w.lastErr
		}
	}
	for i, c := range st {
		if !success(i) {
			res.Errors += c
		}
	}
	res.Errors += terrs + unsent
	res.Status = statusMap(&st, terrs)
	if unsent > 0 {
		res.Status["unsent"] = unsent
		res.Unsent = unsent
	}
	res.Throughput = float64(res.Requests) / cfg.Duration.Seconds()
	res.Latency = SummarizeLatency(&h)
	if svc.Count() > 0 {
		l := SummarizeLatency(&svc)
		res.Service = &l
	}
	if res.Requests > 0 {
		res.GenCPUMsPer1k = (genCPU[1] - genCPU[0]) * 1e6 / float64(res.Requests)
	}
	res.Buckets = h.Buckets()
	if lastErr != nil {
		res.Note = "last transport error: " + lastErr.Error()
	}
	if res.Requests == 0 && lastErr != nil {
		return res, fmt.Errorf("cannot complete any request: %w", lastErr)
	}
	return res, ctx.Err()
}

// loop runs one worker until end (or ctx is done). A request planned (open
// loop) or started (closed loop) before measureFrom is not measured.
func (w *worker) loop(ctx context.Context, d driver, g *KeyGen, mix *Mix, sched *Schedule,
	measureFrom, end time.Time, done *atomic.Int64) {
	single := len(mix.ops) == 1
	for k := int64(0); ctx.Err() == nil; k++ {
		var t0 time.Time
		if sched != nil {
			t0 = sched.At(k)
			if !t0.Before(end) {
				return
			}
			if wait := time.Until(t0); wait > 0 {
				time.Sleep(wait)
			}
		} else {
			t0 = time.Now()
			if !t0.Before(end) {
				return
			}
		}
		op := mix.ops[0]
		if !single {
			op = mix.Pick(g.Float64())
		}
		ts := t0
		if sched != nil {
			ts = time.Now()
		}
		st, err := d.do(op, g)
		t1 := time.Now()
		done.Add(1)
		if t0.Before(measureFrom) {
			continue
		}
		w.requests++
		w.hist.Record(int64(OpenLoopLatency(t0, t1)))
		if sched != nil {
			w.svc.Record(int64(t1.Sub(ts)))
		}
		if err != nil {
			w.terrs++
			w.lastErr = err
		} else if st >= 0 && st < numStatus {
			w.status[st]++
		}
		if sched != nil && !t1.Before(end) {
			w.dropLate(sched, k+1, measureFrom, end, t1)
			return
		}
	}
}

// dropLate ends an open-loop worker that is still behind its plan when the
// run is over: every request planned from slot k on (before end, after
// measureFrom) is counted as unsent and recorded with the latency it had
// already accumulated at now, a lower bound of what it would have had, so
// an overloaded target cannot hide its backlog (Invariant 1).
func (w *worker) dropLate(sched *Schedule, k int64, measureFrom, end, now time.Time) {
	for ; ; k++ {
		t := sched.At(k)
		if !t.Before(end) {
			return
		}
		if t.Before(measureFrom) {
			continue
		}
		w.unsent++
		w.hist.Record(int64(OpenLoopLatency(t, now)))
	}
}

// preloadBatch is the number of items per preload request.
const preloadBatch = 100

// preload writes keys [from, n) once, split over the drivers.
func preload(ctx context.Context, drivers []driver, from, n uint64, shape *reqShape, progress io.Writer) error {
	var next atomic.Uint64 // next unwritten key, claimed preloadBatch at a time
	next.Store(from)
	var written atomic.Uint64
	written.Store(from)
	errc := make(chan error, len(drivers))
	stop := make(chan struct{})
	var pw sync.WaitGroup
	if progress != nil {
		pw.Add(1)
		go func() {
			defer pw.Done()
			t := time.NewTicker(200 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-stop:
					fmt.Fprintf(progress, "\rpreload %d/%d keys\n", written.Load(), n)
					return
				case <-t.C:
					fmt.Fprintf(progress, "\rpreload %d/%d keys", written.Load(), n)
				}
			}
		}()
	}
	var wg sync.WaitGroup
	for _, d := range drivers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			seq := &seqKeys{}
			local := *shape
			local.batch = preloadBatch
			for ctx.Err() == nil {
				from := next.Add(preloadBatch) - preloadBatch
				if from >= n {
					return
				}
				seq.next, seq.end = from, min(from+preloadBatch, n)
				local.batch = int(seq.end - from)
				st, err := preloadOne(d, &local, seq)
				if err != nil {
					errc <- fmt.Errorf("cannot preload keys: %w", err)
					return
				}
				if !success(st) {
					errc <- fmt.Errorf("cannot preload keys: status %s", statusName(st))
					return
				}
				written.Add(uint64(local.batch))
			}
		}()
	}
	wg.Wait()
	close(stop)
	pw.Wait()
	select {
	case err := <-errc:
		return err
	default:
		return ctx.Err()
	}
}

// seqKeys hands out consecutive key numbers for the preload.
type seqKeys struct{ next, end uint64 }

// preloadOne sends one msave of the keys in seq through d, whose request
// shape is temporarily replaced by shape.
func preloadOne(d driver, shape *reqShape, seq *seqKeys) (int, error) {
	g := &KeyGen{seq: seq}
	switch d := d.(type) {
	case *httpDriver:
		old := d.shape
		d.shape = shape
		defer func() { d.shape = old }()
	case *grpcDriver:
		old := d.shape
		d.shape = shape
		defer func() { d.shape = old }()
		d.ensure(shape.batch)
	case *redisDriver:
		old := d.shape
		d.shape = shape
		defer func() { d.shape = old }()
	}
	return d.do(OpMSave, g)
}

// progress draws a progress bar until stop is closed.
func progress(w io.Writer, start, measureFrom, end time.Time, done *atomic.Int64, stop <-chan struct{}) {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	total := end.Sub(start)
	var lastN int64
	lastT := start
	for {
		select {
		case <-stop:
			fmt.Fprintf(w, "\r%-78s\r", "")
			return
		case now := <-t.C:
			n := done.Load()
			rate := float64(n-lastN) / now.Sub(lastT).Seconds()
			lastN, lastT = n, now
			frac := float64(now.Sub(start)) / float64(total)
			frac = min(max(frac, 0), 1)
			const width = 30
			bar := make([]byte, width)
			for i := range bar {
				if float64(i) < frac*width {
					bar[i] = '='
				} else {
					bar[i] = ' '
				}
			}
			phase := "run   "
			if now.Before(measureFrom) {
				phase = "warmup"
			}
			fmt.Fprintf(w, "\r%s [%s] %3.0f%% %6.1fs %10d req %9.0f req/s", phase, bar, frac*100,
				now.Sub(start).Seconds(), n, rate)
		}
	}
}
