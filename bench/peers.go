package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// Systems the peers runner knows. A sidecar system is driven by Run over
// HTTP or gRPC; "redis" is driven by redis-benchmark.
const (
	SysStatecar      = "statecar"       // statecar, embedded default store (durable: fsync before ack)
	SysStatecarMem   = "statecar-mem"   // statecar, state.in-memory
	SysStatecarRedis = "statecar-redis" // statecar, state.redis on a local redis-server
	SysRedis         = "redis"          // redis-server through redis-benchmark (raw KV reference)
	SysRedisScload   = "redis-scload"   // redis-server driven by scload's RESP driver (same client as the sidecars)
	SysDaprdRedis    = "daprd-redis"    // $DAPRD, state.redis on a local redis-server
	SysDaprdMem      = "daprd-mem"      // $DAPRD, state.in-memory
)

// PeersConfig describes one side-by-side comparison.
type PeersConfig struct {
	Load        Config   // the workload; Target and Label are set per system
	Systems     []string // in order; see the Sys* constants
	StatecarBin string   // statecar binary; "" = build ./cmd/statecar
	DaprdBin    string   // daprd binary for the daprd-* systems
	Dir         string   // work directory: binaries, logs, data
	// Scale, if "conns" or "keys", runs every system at each value of
	// Points (connection counts or key-space sizes) instead of once.
	Scale  string
	Points []uint64
	// Repeat runs the whole list of systems this many rounds (default 1),
	// interleaved (a, b, a, b, ...), and keeps for each system and point the
	// round with the median throughput, so that a burst of other work on a
	// shared machine does not decide a comparison.
	Repeat int
	Log    io.Writer // one line per step; nil = discard
}

// RunPeers starts each system in turn, drives the workload against it,
// samples its CPU time and peak RSS, stops it, and returns one Result per
// system (per point when scaling). A system that fails to start or run
// yields a Result with Note set and zero throughput; the comparison goes
// on with the next system. Every process started is stopped before
// RunPeers returns (Invariant 5).
func RunPeers(ctx context.Context, pc PeersConfig) ([]*Result, error) {
	logf := func(format string, a ...any) {
		if pc.Log != nil {
			fmt.Fprintf(pc.Log, format+"\n", a...)
		}
	}
	if err := pc.Load.setDefaults(); err != nil {
		return nil, err
	}
	points := []uint64{0}
	if pc.Scale != "" {
		if pc.Scale != "conns" && pc.Scale != "keys" {
			return nil, fmt.Errorf("cannot scale by %q: want conns or keys", pc.Scale)
		}
		points = pc.Points
	}
	rounds := max(pc.Repeat, 1)
	var all [][]*Result // per round, in system order
	for round := 1; round <= rounds && ctx.Err() == nil; round++ {
		var out []*Result
		for _, sys := range pc.Systems {
			if ctx.Err() != nil {
				break
			}
			if rounds > 1 {
				logf("== %s (round %d of %d)", sys, round, rounds)
			} else {
				logf("== %s", sys)
			}
			rs, err := runSystem(ctx, pc, sys, points, logf)
			if err != nil {
				logf("%s: %v", sys, err)
				out = append(out, &Result{System: sys, Workload: pc.Load.Mix.String(), Note: err.Error()})
				continue
			}
			out = append(out, rs...)
		}
		all = append(all, out)
	}
	if len(all) == 1 {
		return all[0], ctx.Err()
	}
	return medianRounds(all), ctx.Err()
}

// medianRounds returns, for each result position of the first round, the
// result with the median throughput over the rounds (the lower middle one
// for an even count), noting every round's throughput in Note.
func medianRounds(all [][]*Result) []*Result {
	var out []*Result
	for i := range all[0] {
		var same []*Result
		for _, round := range all {
			if i < len(round) {
				same = append(same, round[i])
			}
		}
		sort.SliceStable(same, func(a, b int) bool { return same[a].Throughput < same[b].Throughput })
		m := same[(len(same)-1)/2]
		var thr []string
		for _, round := range all {
			if i < len(round) {
				thr = append(thr, fmt.Sprintf("%.0f", round[i].Throughput))
			}
		}
		med := *m
		med.Note = strings.TrimSpace(fmt.Sprintf("median of %d rounds (req/s by round: %s) %s", len(same), strings.Join(thr, ", "), m.Note))
		out = append(out, &med)
	}
	return out
}

// runSystem starts sys, runs every point against it and stops it.
func runSystem(ctx context.Context, pc PeersConfig, sys string, points []uint64, logf func(string, ...any)) ([]*Result, error) {
	var helper *Proc // a backing redis-server
	defer func() { _ = helper.Stop() }()
	var main *Proc
	var err error
	needRedis := sys == SysRedis || sys == SysRedisScload || sys == SysStatecarRedis || sys == SysDaprdRedis
	if needRedis {
		name := "redis-server"
		if sys != SysRedis && sys != SysRedisScload {
			name = "redis-for-" + sys
		}
		helper, err = StartRedis(name, pc.Dir)
		if err != nil {
			return nil, err
		}
	}
	switch sys {
	case SysRedis, SysRedisScload:
		main, helper = helper, nil
	case SysStatecar, SysStatecarMem, SysStatecarRedis:
		if pc.StatecarBin == "" {
			return nil, errors.New("no statecar binary")
		}
		spec := SidecarSpec{Name: sys, Bin: pc.StatecarBin, Dir: pc.Dir, Statecar: true}
		switch sys {
		case SysStatecarMem:
			spec.StoreType = "state.in-memory"
		case SysStatecarRedis:
			spec.StoreType, spec.StoreMeta = "state.redis", map[string]string{"redisHost": helper.RedisAddr}
		}
		main, err = StartSidecar(spec)
	case SysDaprdRedis, SysDaprdMem:
		if pc.DaprdBin == "" {
			return nil, errors.New("no daprd binary (set DAPRD=/path/to/daprd)")
		}
		spec := SidecarSpec{Name: sys, Bin: pc.DaprdBin, Dir: pc.Dir, StoreType: "state.in-memory"}
		if sys == SysDaprdRedis {
			spec.StoreType, spec.StoreMeta = "state.redis", map[string]string{"redisHost": helper.RedisAddr}
		}
		main, err = StartSidecar(spec)
	default:
		return nil, fmt.Errorf("unknown system %q", sys)
	}
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := main.Stop(); err != nil {
			logf("%v", err)
		}
	}()
	logf("%s: ready in %v (pid %d, log %s)", sys, main.Startup.Round(time.Millisecond), main.Pid(), main.LogPath)

	var rs []*Result
	var loaded uint64 // keys already written
	for _, pt := range points {
		load := pc.Load
		switch pc.Scale {
		case "conns":
			load.Conns = int(pt)
		case "keys":
			load.Keys = pt
		}
		var r *Result
		var err error
		cpu := &cpuSampler{pids: []int{main.Pid()}}
		if helper != nil {
			cpu.pids = append(cpu.pids, helper.Pid())
		}
		if sys == SysRedis {
			r, err = runRedis(ctx, main, load, &loaded, cpu, logf)
		} else {
			r, err = runSidecar(ctx, main, load, &loaded, cpu)
		}
		if err != nil {
			if r == nil {
				return rs, err
			}
			r.Note = strings.TrimSpace(r.Note + " " + err.Error())
		}
		r.System = sys
		rss, _ := PeakRSS(main.Pid())
		ps := &ProcStats{PeakRSSBytes: rss, StartupMs: float64(main.Startup.Microseconds()) / 1e3, CPUSeconds: cpu.used(0)}
		if r.Requests > 0 {
			ps.CPUMsPer1kReq = ps.CPUSeconds * 1e3 / float64(r.Requests) * 1e3
		}
		if helper != nil {
			hrss, _ := PeakRSS(helper.Pid())
			hcpu := cpu.used(1)
			ps.Extra = fmt.Sprintf("backing redis-server: peak RSS %.1f MiB, CPU %.2f ms/1k req",
				float64(hrss)/(1<<20), hcpu*1e6/math.Max(float64(r.Requests), 1))
		}
		r.Proc = ps
		logf("%s", Summary(r))
		rs = append(rs, r)
	}
	return rs, nil
}

// cpuSampler records utime+stime of some processes at the start and end
// of the measured phase. begin/end may run on a timer goroutine.
type cpuSampler struct {
	pids       []int
	mu         sync.Mutex
	begin, end []float64
}

func (c *cpuSampler) sample(begin bool) {
	vals := make([]float64, len(c.pids))
	for i, pid := range c.pids {
		vals[i], _ = CPUTime(pid)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if begin {
		c.begin = vals
	} else {
		c.end = vals
	}
}

// used returns the CPU seconds process i used in the measured phase.
func (c *cpuSampler) used(i int) float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i >= len(c.begin) || i >= len(c.end) {
		return 0
	}
	return c.end[i] - c.begin[i]
}

func runSidecar(ctx context.Context, p *Proc, load Config, loaded *uint64, cpu *cpuSampler) (*Result, error) {
	switch {
	case p.RedisAddr != "":
		load.Target, load.Proto = p.RedisAddr, "redis"
	case load.Proto == "grpc":
		load.Target = p.GRPCAddr
	default:
		load.Target = p.HTTPAddr
	}
	if load.Preload {
		if *loaded >= load.Keys {
			load.Preload = false
		} else {
			load.PreloadFrom = *loaded
		}
	}
	load.OnMeasure = cpu.sample
	r, err := Run(ctx, load)
	if err == nil && load.Preload {
		*loaded = load.Keys
	}
	return r, err
}

// runRedis drives redis-server with redis-benchmark: a preload of the key
// space (one Lua loop) when the op reads, a short calibration run that
// also warms it up, then a run sized to last about load.Duration.
func runRedis(ctx context.Context, p *Proc, load Config, loaded *uint64, cpu *cpuSampler, logf func(string, ...any)) (*Result, error) {
	op := load.Mix.Ops()[0]
	if len(load.Mix.Ops()) > 1 {
		return nil, fmt.Errorf("redis-benchmark cannot run a mix (%s)", load.Mix)
	}
	if _, ok := RedisCommand(op, load.Batch, load.Size); !ok {
		return nil, fmt.Errorf("redis has no equivalent of %v", op)
	}
	if load.Preload && *loaded < load.Keys {
		t0 := time.Now()
		if err := redisPopulate(ctx, p.RedisAddr, *loaded, load.Keys, load.Size); err != nil {
			return nil, err
		}
		logf("redis: preloaded %d keys in %v", load.Keys, time.Since(t0).Round(time.Millisecond))
		*loaded = load.Keys
	}
	calib := 20000
	r0, err := RedisBenchmark(p.RedisAddr, op, load.Batch, load.Conns, load.Size, load.Keys, calib)
	if err != nil {
		return nil, err
	}
	n := int(r0.Throughput * load.Duration.Seconds())
	n = max(n, 1000)
	cpu.sample(true)
	r, err := RedisBenchmark(p.RedisAddr, op, load.Batch, load.Conns, load.Size, load.Keys, n)
	cpu.sample(false)
	if err != nil {
		return nil, err
	}
	r.Warmup = r0.Duration
	return r, nil
}

// redisPopulate writes keys key:%012d for [from, to), as redis-benchmark
// names them with -r, with values of size bytes, through redis-cli EVAL in
// slices of 100,000 keys.
func redisPopulate(ctx context.Context, addr string, from, to uint64, size int) error {
	host, port, _ := strings.Cut(addr, ":")
	const script = `local v = string.rep('x', tonumber(ARGV[3])) for i = tonumber(ARGV[1]), tonumber(ARGV[2]) - 1 do redis.call('SET', string.format('key:%012d', i), v) end return 1`
	for lo := from; lo < to; lo += 100000 {
		hi := min(lo+100000, to)
		cmd := exec.CommandContext(ctx, "redis-cli", "-h", host, "-p", port, "EVAL", script, "0",
			strconv.FormatUint(lo, 10), strconv.FormatUint(hi, 10), strconv.Itoa(max(size, 1)))
		out, err := cmd.CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "(integer) 1" && strings.TrimSpace(string(out)) != "1" {
			return fmt.Errorf("cannot populate redis: %v: %s", err, out)
		}
	}
	return nil
}

// PrintTable writes the comparison table: absolute figures and the ratio
// of each system's throughput to that of the first system measured at the
// same point (statecar when it is listed first).
func PrintTable(w io.Writer, rs []*Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "system\tproto\top\tconns\tkeys\treq/s\tratio\tp50 us\tp99 us\tp99.9 us\terrors\tpeak RSS MiB\tCPU ms/1k req\tstartup ms\tclient CPU ms/1k\t")
	for _, r := range rs {
		base := baseFor(rs, r)
		if r.Throughput == 0 {
			fmt.Fprintf(tw, "%s\t-\t%s\t\t\t-\t\t\t\t\t\t\t\t\t%s\n", r.System, r.Workload, firstLine(r.Note))
			continue
		}
		ratio := "-"
		if base > 0 {
			ratio = fmt.Sprintf("%.2fx", r.Throughput/base)
		}
		p999 := "-"
		if r.Latency.P999 > 0 {
			p999 = fmt.Sprintf("%.0f", r.Latency.P999)
		}
		rss, cpu, start := "-", "-", "-"
		if r.Proc != nil {
			rss = fmt.Sprintf("%.1f", float64(r.Proc.PeakRSSBytes)/(1<<20))
			cpu = fmt.Sprintf("%.1f", r.Proc.CPUMsPer1kReq)
			start = fmt.Sprintf("%.0f", r.Proc.StartupMs)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%.0f\t%s\t%.0f\t%.0f\t%s\t%d\t%s\t%s\t%s\t%s\t\n",
			r.System, r.Proto, r.Workload, r.Conns, r.Keys, r.Throughput, ratio,
			r.Latency.P50, r.Latency.P99, p999, r.Errors, rss, cpu, start, genCPU(r, "-"))
	}
	_ = tw.Flush()
}

// MarkdownTable renders the same table as PrintTable in Markdown.
func MarkdownTable(rs []*Result) string {
	var b strings.Builder
	b.WriteString("| system | proto | op | conns | keys | req/s | ratio | p50 µs | p99 µs | p99.9 µs | errors | peak RSS MiB | CPU ms/1k req | startup ms | client CPU ms/1k |\n")
	b.WriteString("|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, r := range rs {
		base := baseFor(rs, r)
		if r.Throughput == 0 {
			fmt.Fprintf(&b, "| %s | | %s | | | – | | | | | | | | | %s |\n", r.System, r.Workload, firstLine(r.Note))
			continue
		}
		p999 := "–"
		if r.Latency.P999 > 0 {
			p999 = fmt.Sprintf("%.0f", r.Latency.P999)
		}
		rss, cpu, start := "–", "–", "–"
		if r.Proc != nil {
			rss = fmt.Sprintf("%.1f", float64(r.Proc.PeakRSSBytes)/(1<<20))
			cpu = fmt.Sprintf("%.1f", r.Proc.CPUMsPer1kReq)
			start = fmt.Sprintf("%.0f", r.Proc.StartupMs)
		}
		ratio := "–"
		if base > 0 {
			ratio = fmt.Sprintf("%.2fx", r.Throughput/base)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %d | %d | %.0f | %s | %.0f | %.0f | %s | %d | %s | %s | %s | %s |\n",
			r.System, r.Proto, r.Workload, r.Conns, r.Keys, r.Throughput, ratio,
			r.Latency.P50, r.Latency.P99, p999, r.Errors, rss, cpu, start, genCPU(r, "–"))
	}
	return b.String()
}

// genCPU renders the generator's CPU per 1,000 requests, or none.
func genCPU(r *Result, none string) string {
	if r.GenCPUMsPer1k <= 0 {
		return none
	}
	return fmt.Sprintf("%.1f", r.GenCPUMsPer1k)
}

// baseFor returns the throughput r is compared with: that of the first
// result measured at the same point (connections and key-space size).
func baseFor(rs []*Result, r *Result) float64 {
	for _, b := range rs {
		if b.Throughput > 0 && b.Conns == r.Conns && b.Keys == r.Keys {
			return b.Throughput
		}
	}
	return 0
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return s
}

// WritePlots writes the charts of a comparison into files named
// prefix-throughput.svg and prefix-latency.svg (single runs), or
// prefix-throughput.svg and prefix-p99.svg (scale runs). It
// returns the file names written.
func WritePlots(prefix, title string, rs []*Result, scale string) ([]string, error) {
	var files []string
	write := func(name string, draw func(io.Writer) error) error {
		f, err := os.Create(name)
		if err != nil {
			return fmt.Errorf("cannot write plot: %w", err)
		}
		if err := draw(f); err != nil {
			f.Close()
			return fmt.Errorf("cannot write plot: %w", err)
		}
		files = append(files, name)
		return f.Close()
	}
	if scale == "" {
		var names []string
		thr := Series{Name: "req/s"}
		lat := []Series{{Name: "p50"}, {Name: "p90"}, {Name: "p99"}, {Name: "p99.9"}}
		for _, r := range rs {
			names = append(names, r.System)
			thr.Values = append(thr.Values, r.Throughput)
			vals := []float64{r.Latency.P50, r.Latency.P90, r.Latency.P99, r.Latency.P999}
			for i, v := range vals {
				if v <= 0 || r.Throughput == 0 {
					v = math.NaN()
				}
				lat[i].Values = append(lat[i].Values, v)
			}
		}
		if err := write(prefix+"-throughput.svg", func(w io.Writer) error {
			return BarChart(w, title+": throughput", "requests per second", names, []Series{thr}, false)
		}); err != nil {
			return files, err
		}
		err := write(prefix+"-latency.svg", func(w io.Writer) error {
			return BarChart(w, title+": latency percentiles", "microseconds (log scale)", names, lat, true)
		})
		return files, err
	}
	// Scale: one line per system over the points.
	var xs []float64
	seen := map[float64]bool{}
	order := []string{}
	bySys := map[string]map[float64]*Result{}
	for _, r := range rs {
		x := float64(r.Conns)
		if scale == "keys" {
			x = float64(r.Keys)
		}
		if r.Throughput == 0 {
			continue
		}
		if !seen[x] {
			seen[x] = true
			xs = append(xs, x)
		}
		if bySys[r.System] == nil {
			bySys[r.System] = map[float64]*Result{}
			order = append(order, r.System)
		}
		bySys[r.System][x] = r
	}
	var thr, p99 []Series
	for _, sys := range order {
		st, sp := Series{Name: sys}, Series{Name: sys}
		for _, x := range xs {
			if r := bySys[sys][x]; r != nil {
				st.Values = append(st.Values, r.Throughput)
				sp.Values = append(sp.Values, r.Latency.P99)
			} else {
				st.Values = append(st.Values, math.NaN())
				sp.Values = append(sp.Values, math.NaN())
			}
		}
		thr, p99 = append(thr, st), append(p99, sp)
	}
	xl := "connections"
	if scale == "keys" {
		xl = "keys in the key space"
	}
	if err := write(prefix+"-throughput.svg", func(w io.Writer) error {
		return LineChart(w, title+": throughput by "+xl, xl, "requests per second", xs, thr, true, false)
	}); err != nil {
		return files, err
	}
	err := write(prefix+"-p99.svg", func(w io.Writer) error {
		return LineChart(w, title+": p99 latency by "+xl, xl, "p99 microseconds (log scale)", xs, p99, true, true)
	})
	return files, err
}
