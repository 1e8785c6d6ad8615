package torture

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Target is a running statecar process the torture loop can crash and
// restart on the same data. Methods are called from Run's goroutine only.
type Target interface {
	// BaseURL is "http://host:port" of the HTTP API; fixed across restarts.
	BaseURL() string
	// Kill sends SIGKILL and waits until the process is gone.
	Kill() error
	// Restart starts the process again on the same data dir and ports and
	// returns once GET /v1.0/healthz answered 204, with the time that took
	// (from exec to the first 204).
	Restart() (time.Duration, error)
}

// Config says how to torture a Target. Zero values get the defaults noted.
type Config struct {
	// Cycles is the number of kill/restart cycles (default 3).
	Cycles int
	// Duration is the maximum load time of one cycle; the kill comes at a
	// uniformly random moment in [Duration/4, Duration] (default 2s).
	Duration time.Duration
	// Workers is the number of concurrent client goroutines (default 8),
	// split round-robin between the roles: single-key writers (saves and
	// deletes), ETag counter incrementers (two per counter) and
	// transaction writers.
	Workers int
	// MaxRecovery is the bound on time-to-healthy after a restart; a
	// slower restart is a violation (default 10s).
	MaxRecovery time.Duration
	// Store is the state store name (default "statestore").
	Store string
	// Seed seeds the random kill moments and operation choices (0: time).
	Seed uint64
	// Logf, if set, receives one progress line per cycle.
	Logf func(format string, args ...any)
}

// Report is the result of Run, also the JSON report of cmd/sctorture.
type Report struct {
	Cycles  int     `json:"cycles"`
	Workers int     `json:"workers"`
	Seconds float64 `json:"seconds"`
	// Acked operations by kind: "save", "delete", "increment", "tx".
	Acked map[string]int64 `json:"acked"`
	// Refused is the number of 409 answers (ETag races, retried).
	Refused int64 `json:"refused"`
	// InFlight is the number of operations cut by a kill (no answer); each
	// may or may not have been applied, both are accepted.
	InFlight int64 `json:"inFlight"`
	// Unexpected counts answers other than success/409 (should be 0).
	Unexpected int64 `json:"unexpected"`
	// Recovery times (exec to first healthz 204), in milliseconds.
	RecoveryMsMin float64 `json:"recoveryMsMin"`
	RecoveryMsP50 float64 `json:"recoveryMsP50"`
	RecoveryMsMax float64 `json:"recoveryMsMax"`
	// Violations lists every broken guarantee (goal: none).
	Violations []string `json:"violations"`
	// Samples of unexpected answers (at most 20).
	UnexpectedSamples []string `json:"unexpectedSamples,omitempty"`
}

// OK reports whether the run found no violation and no unexpected answer.
func (r *Report) OK() bool { return len(r.Violations) == 0 && r.Unexpected == 0 }

// Run loads t, kills it at a random moment, restarts it and checks the
// ledger, Cycles times. The target must be running and healthy on a fresh
// data dir when Run is called. The returned error reports an environment
// failure (the target could not be restarted or read); broken guarantees
// are in Report.Violations.
func Run(ctx context.Context, t Target, cfg Config) (*Report, error) {
	if cfg.Cycles <= 0 {
		cfg.Cycles = 3
	}
	if cfg.Duration <= 0 {
		cfg.Duration = 2 * time.Second
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 8
	}
	if cfg.MaxRecovery <= 0 {
		cfg.MaxRecovery = 10 * time.Second
	}
	if cfg.Store == "" {
		cfg.Store = "statestore"
	}
	if cfg.Seed == 0 {
		cfg.Seed = uint64(time.Now().UnixNano())
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x70727475))
	r := &run{cfg: cfg, rep: &Report{Workers: cfg.Workers, Acked: map[string]int64{}}}
	r.build()
	start := time.Now()
	var recov []float64
	for cycle := 1; cycle <= cfg.Cycles; cycle++ {
		if err := ctx.Err(); err != nil {
			return r.rep, err
		}
		c := newClient(t.BaseURL(), cfg.Store, cfg.Workers)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for _, w := range r.workers {
			wrng := rand.New(rand.NewPCG(rng.Uint64(), uint64(cycle))) // drawn here: rng is Run's
			wg.Add(1)
			go func() {
				defer wg.Done()
				w.run(ctx, c, stop, wrng)
			}()
		}
		killAt := cfg.Duration/4 + time.Duration(rng.Int64N(int64(cfg.Duration-cfg.Duration/4)+1))
		select {
		case <-time.After(killAt):
		case <-ctx.Done():
		}
		if err := t.Kill(); err != nil {
			close(stop)
			wg.Wait()
			return r.rep, fmt.Errorf("cannot kill target: %w", err)
		}
		close(stop)
		wg.Wait()
		c.close()
		d, err := t.Restart()
		if err != nil {
			return r.rep, fmt.Errorf("cycle %d: cannot restart target: %w", cycle, err)
		}
		recov = append(recov, float64(d.Microseconds())/1000)
		if d > cfg.MaxRecovery {
			r.violate(cycle, "healthz took %v after restart, bound %v", d, cfg.MaxRecovery)
		}
		c = newClient(t.BaseURL(), cfg.Store, 1)
		if err := r.verify(ctx, c, cycle); err != nil {
			c.close()
			return r.rep, fmt.Errorf("cycle %d: cannot verify: %w", cycle, err)
		}
		c.close()
		r.rep.Cycles = cycle
		cfg.Logf("cycle %d/%d: killed after %v, healthy after %v, acked %v, in flight %d, violations %d",
			cycle, cfg.Cycles, killAt.Round(time.Millisecond), d.Round(time.Millisecond), r.snapshotAcked(), r.inFlight.Load(), len(r.rep.Violations))
	}
	r.rep.Seconds = time.Since(start).Seconds()
	r.finish(recov)
	return r.rep, nil
}

// run is the state of one Run: the workers and their ledgers.
type run struct {
	cfg      Config
	rep      *Report // Violations and samples guarded by mu
	mu       sync.Mutex
	workers  []worker
	kvs      []*kvWorker
	counters []*counter
	txs      []*txWorker

	// Counters updated by workers concurrently.
	ackedSave, ackedDelete, ackedInc, ackedTx atomic.Int64
	refused, inFlight, unexpected             atomic.Int64
}

type worker interface {
	run(ctx context.Context, c *client, stop <-chan struct{}, rng *rand.Rand)
}

func (r *run) build() {
	nCounterWorkers := 0
	for i := range r.cfg.Workers {
		if i%4 == 1 || i%4 == 3 {
			nCounterWorkers++
		}
	}
	nCounters := max(1, nCounterWorkers/2)
	for i := range nCounters {
		r.counters = append(r.counters, &counter{key: "c" + strconv.Itoa(i)})
	}
	ci := 0
	for i := range r.cfg.Workers {
		switch i % 4 {
		case 0:
			w := &kvWorker{r: r, id: i, state: make([]keyState, kvKeys)}
			r.kvs = append(r.kvs, w)
			r.workers = append(r.workers, w)
		case 1, 3:
			w := &counterWorker{r: r, c: r.counters[ci%nCounters]}
			ci++
			r.workers = append(r.workers, w)
		case 2:
			w := &txWorker{r: r, id: i}
			r.txs = append(r.txs, w)
			r.workers = append(r.workers, w)
		}
	}
}

func (r *run) violate(cycle int, format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rep.Violations = append(r.rep.Violations, fmt.Sprintf("cycle %d: ", cycle)+fmt.Sprintf(format, args...))
}

func (r *run) unexpectedAnswer(what, msg string) {
	r.unexpected.Add(1)
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.rep.UnexpectedSamples) < 20 {
		r.rep.UnexpectedSamples = append(r.rep.UnexpectedSamples, what+": "+msg)
	}
}

func (r *run) snapshotAcked() string {
	return fmt.Sprintf("save=%d delete=%d inc=%d tx=%d", r.ackedSave.Load(), r.ackedDelete.Load(), r.ackedInc.Load(), r.ackedTx.Load())
}

func (r *run) finish(recov []float64) {
	r.rep.Acked["save"] = r.ackedSave.Load()
	r.rep.Acked["delete"] = r.ackedDelete.Load()
	r.rep.Acked["increment"] = r.ackedInc.Load()
	r.rep.Acked["tx"] = r.ackedTx.Load()
	r.rep.Refused = r.refused.Load()
	r.rep.InFlight = r.inFlight.Load()
	r.rep.Unexpected = r.unexpected.Load()
	if len(recov) > 0 {
		slices.Sort(recov)
		r.rep.RecoveryMsMin = recov[0]
		r.rep.RecoveryMsP50 = recov[len(recov)/2]
		r.rep.RecoveryMsMax = recov[len(recov)-1]
	}
}

// stopped reports whether the cycle's load phase is over.
func stopped(stop <-chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}

// ---- single-key writers: saves and deletes ----

const kvKeys = 8

// keyState is what a key must read as: absent, or val.
type keyState struct {
	present bool
	val     int64
}

// kvWorker owns kvKeys keys; each operation saves the next value of its
// strictly increasing sequence to one of them, or deletes one. At most one
// operation is in flight; after a kill it is the pending one.
//
// Fields are owned by the worker goroutine during the load phase and by
// Run's goroutine during verification (the WaitGroup orders them).
type kvWorker struct {
	r     *run
	id    int
	seq   int64
	state []keyState // last acknowledged state of each key

	hasPending bool
	pendingKey int
	pending    keyState // the state if the pending op was applied
}

func (w *kvWorker) key(j int) string { return "w" + strconv.Itoa(w.id) + "-k" + strconv.Itoa(j) }

func (w *kvWorker) run(ctx context.Context, c *client, stop <-chan struct{}, rng *rand.Rand) {
	for !stopped(stop) {
		j := rng.IntN(kvKeys)
		var o outcome
		var msg string
		var next keyState
		if rng.IntN(5) == 0 {
			next = keyState{}
			o, msg = c.del(ctx, w.key(j), "")
		} else {
			w.seq++
			next = keyState{present: true, val: w.seq}
			o, msg = c.save(ctx, saveItem{Key: w.key(j), Value: json.RawMessage(strconv.FormatInt(w.seq, 10))})
		}
		switch o {
		case acked:
			w.state[j] = next
			if next.present {
				w.r.ackedSave.Add(1)
			} else {
				w.r.ackedDelete.Add(1)
			}
		default:
			if msg != "" {
				w.r.unexpectedAnswer(w.key(j), msg)
			}
			w.r.inFlight.Add(1)
			w.hasPending, w.pendingKey, w.pending = true, j, next
			return
		}
	}
}

// ---- ETag read-modify-write counters ----

// counter is one counter key shared by two workers. Its value is the number
// of successful increments.
type counter struct {
	key     string
	acked   atomic.Int64 // acknowledged increments since the last baseline
	pending atomic.Int64 // increments cut by the kill
	base    int64        // value verified after the last restart (Run's goroutine)
}

type counterWorker struct {
	r *run
	c *counter
}

func (w *counterWorker) run(ctx context.Context, c *client, stop <-chan struct{}, rng *rand.Rand) {
	for !stopped(stop) {
		found, raw, etag, err := c.get(ctx, w.c.key)
		if err != nil {
			// No answer: the read changed nothing; the cycle is over.
			return
		}
		var n int64
		it := saveItem{Key: w.c.key}
		if found {
			if n, err = parseInt(raw); err != nil {
				w.r.unexpectedAnswer(w.c.key, "value "+string(raw))
				return
			}
			it.ETag = etag
		} else {
			it.Options = &saveOptions{Concurrency: "first-write"}
		}
		it.Value = json.RawMessage(strconv.FormatInt(n+1, 10))
		o, msg := c.save(ctx, it)
		switch o {
		case acked:
			w.c.acked.Add(1)
			w.r.ackedInc.Add(1)
		case refused:
			w.r.refused.Add(1)
			// Let the other incrementer finish its round trip.
			time.Sleep(time.Duration(rng.IntN(1000)) * time.Microsecond)
		default:
			if msg != "" {
				w.r.unexpectedAnswer(w.c.key, msg)
			}
			w.r.inFlight.Add(1)
			w.c.pending.Add(1)
			return
		}
	}
}

// ---- multi-key transactions ----

const txKeys = 5

// txWorker writes transactions over its own txKeys keys: transaction t
// upserts keys 0..3 with value t and upserts key 4 with t when t is even,
// deletes it when t is odd. After a crash the keys must show exactly one
// transaction: all of it.
type txWorker struct {
	r          *run
	id         int
	next       int64 // id of the next transaction
	acked      int64 // last acknowledged transaction (0: none)
	hasPending bool
	pending    int64
}

func (w *txWorker) key(j int) string { return "x" + strconv.Itoa(w.id) + "-" + strconv.Itoa(j) }

func (w *txWorker) run(ctx context.Context, c *client, stop <-chan struct{}, _ *rand.Rand) {
	ops := make([]txOp, txKeys)
	for !stopped(stop) {
		w.next++
		t := w.next
		v := json.RawMessage(strconv.FormatInt(t, 10))
		for j := range txKeys {
			ops[j] = txOp{Operation: "upsert", Request: saveItemT{Key: w.key(j), Value: v}}
		}
		if t%2 == 1 {
			ops[txKeys-1] = txOp{Operation: "delete", Request: saveItemT{Key: w.key(txKeys - 1)}}
		}
		o, msg := c.transaction(ctx, ops)
		if o == acked {
			w.acked = t
			w.r.ackedTx.Add(1)
			continue
		}
		if msg != "" {
			w.r.unexpectedAnswer(w.key(0), msg)
		}
		w.r.inFlight.Add(1)
		w.hasPending, w.pending = true, t
		return
	}
}

// ---- verification ----

// verify reads every key after a restart, checks it against the ledgers and
// makes what it read the new baseline.
func (r *run) verify(ctx context.Context, c *client, cycle int) error {
	var keys []string
	for _, w := range r.kvs {
		for j := range kvKeys {
			keys = append(keys, w.key(j))
		}
	}
	for _, w := range r.txs {
		for j := range txKeys {
			keys = append(keys, w.key(j))
		}
	}
	for _, k := range r.counters {
		keys = append(keys, k.key)
	}
	got, err := c.bulkGet(ctx, keys)
	if err != nil {
		return err
	}
	read := func(k string) (keyState, bool) {
		raw, ok := got[k]
		if !ok {
			return keyState{}, true
		}
		v, err := parseInt(raw)
		if err != nil {
			r.violate(cycle, "key %s holds %q, not a value the workload wrote", k, raw)
			return keyState{}, false
		}
		return keyState{present: true, val: v}, true
	}
	for _, w := range r.kvs {
		for j := range kvKeys {
			s, ok := read(w.key(j))
			if !ok {
				continue
			}
			want := w.state[j]
			switch {
			case s == want:
			case w.hasPending && w.pendingKey == j && s == w.pending:
			default:
				r.violate(cycle, "key %s: read %s, acknowledged %s%s", w.key(j), fmtState(s), fmtState(want), pendingText(w, j))
			}
			w.state[j] = s
		}
		w.hasPending = false
	}
	for _, k := range r.counters {
		s, ok := read(k.key)
		if !ok {
			continue
		}
		lo := k.base + k.acked.Load()
		hi := lo + k.pending.Load()
		if s.val < lo || s.val > hi {
			r.violate(cycle, "counter %s = %d, want %d..%d (base %d, acknowledged increments %d, in flight %d)", k.key, s.val, lo, hi, k.base, k.acked.Load(), k.pending.Load())
		}
		k.base = s.val
		k.acked.Store(0)
		k.pending.Store(0)
	}
	for _, w := range r.txs {
		var vals [txKeys]keyState
		bad := false
		for j := range txKeys {
			s, ok := read(w.key(j))
			bad = bad || !ok
			vals[j] = s
		}
		if bad {
			continue
		}
		t := vals[0].val
		whole := vals[0].present
		for j := 1; j < txKeys-1; j++ {
			if vals[j] != vals[0] {
				whole = false
			}
		}
		last := vals[txKeys-1]
		if whole {
			if t%2 == 0 {
				whole = last == keyState{present: true, val: t}
			} else {
				whole = !last.present
			}
		}
		switch {
		case !vals[0].present && !vals[1].present && !vals[2].present && !vals[3].present && !last.present:
			if w.acked != 0 {
				r.violate(cycle, "transaction group %s: all keys gone, acknowledged tx %d", w.key(0), w.acked)
			}
			w.acked = 0
		case !whole:
			r.violate(cycle, "transaction group %s is partial: %s %s %s %s %s (acknowledged tx %d)", w.key(0),
				fmtState(vals[0]), fmtState(vals[1]), fmtState(vals[2]), fmtState(vals[3]), fmtState(last), w.acked)
		case t == w.acked || (w.hasPending && t == w.pending):
			w.acked = t
		default:
			r.violate(cycle, "transaction group %s shows tx %d, acknowledged %d, in flight %v/%d", w.key(0), t, w.acked, w.hasPending, w.pending)
			w.acked = t
		}
		w.hasPending = false
	}
	return nil
}

func fmtState(s keyState) string {
	if !s.present {
		return "<absent>"
	}
	return strconv.FormatInt(s.val, 10)
}

func pendingText(w *kvWorker, j int) string {
	if w.hasPending && w.pendingKey == j {
		return ", in flight " + fmtState(w.pending)
	}
	return ""
}
