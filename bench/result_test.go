package bench

import (
	"bytes"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

func sampleResult() *Result {
	var h Histogram
	for i := int64(1); i <= 1000; i++ {
		h.Record(i * 1000)
	}
	return &Result{
		System: "statecar", Target: "127.0.0.1:3500", Proto: "http", Workload: "get:80,save:20",
		Conns: 32, Rate: 0, Duration: 5, Warmup: 1, ValueSize: 1024, Batch: 10, Keys: 100000,
		Dist: "zipf", Requests: 1000, Errors: 2, Status: map[string]int64{"200": 998, "500": 2},
		Throughput: 200, Latency: SummarizeLatency(&h), Buckets: h.Buckets(), PreloadSec: 1.5,
		Started: time.Date(2026, 11, 22, 4, 0, 0, 0, time.UTC),
		Host:    Host{CPUs: 2, GoVersion: "go1.26", OS: "linux/amd64", Model: "Xeon"},
		Proc:    &ProcStats{PeakRSSBytes: 50 << 20, CPUSeconds: 3, CPUMsPer1kReq: 3000, StartupMs: 12.5},
	}
}

func TestResultJSONRoundTrip(t *testing.T) {
	in := []*Result{sampleResult(), {Proto: "redis", Workload: "get", Status: map[string]int64{}, Buckets: nil}}
	var buf bytes.Buffer
	if err := WriteJSON(&buf, in); err != nil {
		t.Fatal(err)
	}
	out, err := ReadJSON(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip differs:\n in %+v\nout %+v", in[0], out[0])
	}
	if _, err := ReadJSON(strings.NewReader("{")); err == nil {
		t.Fatal("ReadJSON accepted broken JSON")
	}
}

func TestSummarizeLatency(t *testing.T) {
	r := sampleResult()
	// Values 1..1000 us: p50 = 500 us, p99 = 990 us, within 1/128.
	for _, c := range []struct {
		got, want float64
	}{{r.Latency.P50, 500}, {r.Latency.P99, 990}, {r.Latency.Min, 1}, {r.Latency.Max, 1000}, {r.Latency.Mean, 500.5}} {
		if c.got < c.want || c.got > c.want*(1+1.0/histSub) {
			t.Errorf("latency %v, want about %v", c.got, c.want)
		}
	}
}

// TestGoBenchLine checks the line has the shape benchstat parses:
// name-procs, iterations, then value/unit pairs.
func TestGoBenchLine(t *testing.T) {
	r := sampleResult()
	line := r.GoBenchLine()
	f := strings.Split(line, "\t")
	if !strings.HasPrefix(f[0], "BenchmarkState/sys=statecar/proto=http/op=get=80+save=20/conns=32/size=1KiB/keys=100000-2") {
		t.Fatalf("name %q", f[0])
	}
	if strings.ContainsAny(f[0], " ,") {
		t.Fatalf("name has spaces or commas: %q", f[0])
	}
	if n, err := strconv.Atoi(f[1]); err != nil || n != 1000 {
		t.Fatalf("iterations %q", f[1])
	}
	units := map[string]float64{}
	for _, p := range f[2:] {
		v, unit, ok := strings.Cut(p, " ")
		x, err := strconv.ParseFloat(v, 64)
		if !ok || err != nil || strings.Contains(unit, " ") {
			t.Fatalf("bad pair %q in %q", p, line)
		}
		units[unit] = x
	}
	if units["ns/op"] != 5e6 || units["req/s"] != 200 || units["errors"] != 2 || units["rss-MiB"] != 50 {
		t.Fatalf("units %v", units)
	}
}

func TestSizeName(t *testing.T) {
	for n, want := range map[int]string{0: "0B", 100: "100B", 1024: "1KiB", 1500: "1500B", 65536: "64KiB", 1 << 20: "1MiB"} {
		if got := SizeName(n); got != want {
			t.Errorf("SizeName(%d) = %q, want %q", n, got, want)
		}
	}
}
