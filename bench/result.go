package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Result is what one load run measured. It is written as JSON (WriteJSON)
// and as one Go benchmark line (GoBenchLine).
type Result struct {
	System     string           `json:"system,omitempty"` // label, e.g. "statecar"
	Target     string           `json:"target"`           // host:port driven
	Proto      string           `json:"proto"`            // "http", "grpc" or "redis"
	Workload   string           `json:"workload"`         // the mix, e.g. "get" or "get:80,save:20"
	Conns      int              `json:"conns"`
	Rate       float64          `json:"rate,omitempty"` // open-loop target req/s; 0 = closed loop
	Duration   float64          `json:"duration_s"`     // measured phase
	Warmup     float64          `json:"warmup_s"`
	ValueSize  int              `json:"value_size"`
	Batch      int              `json:"batch"`
	Keys       uint64           `json:"keys"`
	Dist       string           `json:"dist"`
	Requests   int64            `json:"requests"`         // completed in the measured phase
	Errors     int64            `json:"errors"`           // transport errors, non-success statuses and Unsent
	Unsent     int64            `json:"unsent,omitempty"` // open loop: planned but not sent when the run ended (overload)
	Status     map[string]int64 `json:"status"`           // "204", "grpc:OK", "error" -> count
	Throughput float64          `json:"throughput_rps"`
	Latency    Latency          `json:"latency_us"`
	// Service is, for open-loop runs, the latency measured from when each
	// request was actually written rather than planned: the round trip
	// without the generator's own lateness (Go timers wake a sleeping
	// worker up to about a millisecond late on an idle machine) and
	// without queueing behind a stall. Latency is the figure that
	// charges stalls (no coordinated omission); Service is the one to
	// compare round trips with.
	Service    *Latency   `json:"service_us,omitempty"`
	Buckets    [][2]int64 `json:"buckets_ns,omitempty"` // histogram: (upper bound ns, count)
	PreloadSec float64    `json:"preload_s,omitempty"`
	// GenCPUMsPer1k is the load generator's own CPU time (this process,
	// all threads) per 1,000 measured requests: what the client cost on a
	// machine where it shares the cores with the system under test.
	GenCPUMsPer1k float64    `json:"generator_cpu_ms_per_1k,omitempty"`
	Started       time.Time  `json:"started"`
	Host          Host       `json:"host"`
	Proc          *ProcStats `json:"process,omitempty"` // filled by the peers runner
	Note          string     `json:"note,omitempty"`
}

// Latency summarises a latency histogram, in microseconds.
type Latency struct {
	Min   float64 `json:"min"`
	Mean  float64 `json:"mean"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p99_9"`
	P9999 float64 `json:"p99_99"`
	Max   float64 `json:"max"`
}

// Host describes the machine a result was measured on.
type Host struct {
	CPUs      int    `json:"cpus"`
	GoVersion string `json:"go"`
	OS        string `json:"os"`
	Model     string `json:"cpu_model,omitempty"`
	// LoadAvg is the 1-minute load average when the result was taken: on
	// a shared machine, anything near or above CPUs means other work
	// competed for the cores.
	LoadAvg float64 `json:"loadavg_1m,omitempty"`
}

// ProcStats are the resource figures of the system under test.
type ProcStats struct {
	PeakRSSBytes  int64   `json:"peak_rss_bytes"`  // VmHWM at the end of the run
	CPUSeconds    float64 `json:"cpu_s"`           // utime+stime during the measured phase
	CPUMsPer1kReq float64 `json:"cpu_ms_per_1k"`   // CPU ms per 1,000 requests
	StartupMs     float64 `json:"startup_ms"`      // process start to first healthy reply
	Extra         string  `json:"extra,omitempty"` // e.g. a backing redis-server's figures
}

// SummarizeLatency fills a Latency from h (values in ns).
func SummarizeLatency(h *Histogram) Latency {
	us := func(v int64) float64 { return float64(v) / 1e3 }
	return Latency{
		Min: us(h.Min()), Mean: h.Mean() / 1e3,
		P50: us(h.Quantile(0.50)), P90: us(h.Quantile(0.90)), P99: us(h.Quantile(0.99)),
		P999: us(h.Quantile(0.999)), P9999: us(h.Quantile(0.9999)), Max: us(h.Max()),
	}
}

// ThisHost describes the current machine.
func ThisHost() Host {
	h := Host{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			h.LoadAvg, _ = strconv.ParseFloat(f[0], 64)
		}
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if name, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(name) == "model name" {
				h.Model = strings.TrimSpace(v)
				break
			}
		}
	}
	return h
}

// WriteJSON writes results as an indented JSON array.
func WriteJSON(w io.Writer, rs []*Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rs); err != nil {
		return fmt.Errorf("cannot write results: %w", err)
	}
	return nil
}

// ReadJSON reads results written by WriteJSON.
func ReadJSON(r io.Reader) ([]*Result, error) {
	var rs []*Result
	if err := json.NewDecoder(r).Decode(&rs); err != nil {
		return nil, fmt.Errorf("cannot read results: %w", err)
	}
	return rs, nil
}

// BenchName returns the Go benchmark name of r, e.g.
// "BenchmarkState/sys=statecar/proto=http/op=get/conns=32/size=1KiB".
func (r *Result) BenchName() string {
	var b strings.Builder
	b.WriteString("BenchmarkState")
	if r.System != "" {
		b.WriteString("/sys=" + benchSafe(r.System))
	}
	fmt.Fprintf(&b, "/proto=%s/op=%s/conns=%d/size=%s/keys=%d", r.Proto, benchSafe(r.Workload), r.Conns, SizeName(r.ValueSize), r.Keys)
	if r.Rate > 0 {
		fmt.Fprintf(&b, "/rate=%g", r.Rate)
	}
	return b.String()
}

// GoBenchLine formats r as one line of Go benchmark output, readable by
// benchstat: iterations are requests, ns/op is the inverse of throughput,
// and the latency percentiles are extra units.
func (r *Result) GoBenchLine() string {
	nsPerOp := 0.0
	if r.Throughput > 0 {
		nsPerOp = 1e9 / r.Throughput
	}
	line := fmt.Sprintf("%s-%d\t%d\t%.1f ns/op\t%.0f req/s\t%.1f p50-us\t%.1f p99-us\t%.1f p99.9-us\t%d errors",
		r.BenchName(), max(r.Host.CPUs, 1), r.Requests, nsPerOp, r.Throughput,
		r.Latency.P50, r.Latency.P99, r.Latency.P999, r.Errors)
	if r.Proc != nil {
		line += fmt.Sprintf("\t%.1f rss-MiB\t%.2f cpu-ms/1k", float64(r.Proc.PeakRSSBytes)/(1<<20), r.Proc.CPUMsPer1kReq)
	}
	return line
}

// benchSafe makes s usable inside a benchmark name (no spaces, '/' or ',').
func benchSafe(s string) string {
	return strings.NewReplacer(" ", "_", "/", "_", ",", "+", ":", "=").Replace(s)
}

// SizeName renders a byte count as in benchmark names: 100B, 1KiB, 64KiB.
func SizeName(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	default:
		return fmt.Sprintf("%dB", n)
	}
}

// statusMap turns a status table into Result.Status keys.
func statusMap(t *[numStatus]int64, transportErrors int64) map[string]int64 {
	m := map[string]int64{}
	for i, c := range t {
		if c == 0 {
			continue
		}
		m[statusName(i)] = c
	}
	if transportErrors > 0 {
		m["error"] = transportErrors
	}
	return m
}

// statusName renders a status table index: "204" or "grpc:Unavailable".
func statusName(st int) string {
	switch {
	case st == redisStatusBase:
		return "redis:OK"
	case st > redisStatusBase:
		return "redis:ERR"
	}
	if st >= grpcStatusBase {
		return "grpc:" + grpcCodeName(st-grpcStatusBase)
	}
	return fmt.Sprint(st)
}

// SortedStatus renders a status map as "204=123 409=2" in key order.
func SortedStatus(m map[string]int64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, " ")
}

// Defaults of the command-line tools.
const (
	DefaultDuration = 5 * time.Second
	DefaultWarmup   = 1 * time.Second
)

// Summary renders r for people: one line of figures and one of statuses.
func Summary(r *Result) string {
	s := fmt.Sprintf("%s %s %s c=%d size=%s keys=%d: %.0f req/s, latency us p50 %.1f p90 %.1f p99 %.1f p99.9 %.1f max %.1f; %d requests, %d errors",
		r.System, r.Proto, r.Workload, r.Conns, SizeName(r.ValueSize), r.Keys, r.Throughput,
		r.Latency.P50, r.Latency.P90, r.Latency.P99, r.Latency.P999, r.Latency.Max, r.Requests, r.Errors)
	if r.Service != nil {
		s += fmt.Sprintf("; from the actual send: p50 %.1f p90 %.1f p99 %.1f", r.Service.P50, r.Service.P90, r.Service.P99)
	}
	if r.GenCPUMsPer1k > 0 {
		s += fmt.Sprintf("; generator CPU %.1f ms/1k req", r.GenCPUMsPer1k)
	}
	if r.PreloadSec > 0 {
		s += fmt.Sprintf(" (preload of %d keys took %.1fs)", r.Keys, r.PreloadSec)
	}
	s += "\nstatus: " + SortedStatus(r.Status)
	if r.Note != "" {
		s += "\nnote: " + r.Note
	}
	return s
}
