package bench

import (
	"bytes"
	"encoding/xml"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseRedisCSV(t *testing.T) {
	out := `"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
"GET","19665.68","0.270","0.008","0.047","1.591","3.983","14.351"
`
	r, err := parseRedisCSV([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if r.Throughput != 19665.68 || r.Latency.P50 != 47 || r.Latency.P99 != 3983 || r.Latency.Max != 14351 || r.Latency.Mean != 270 {
		t.Fatalf("parsed %+v", r)
	}
	for _, bad := range []string{"", `"test","rps"`, "\"test\",\"rps\"\n\"GET\",\"x\"\n"} {
		if _, err := parseRedisCSV([]byte(bad)); err == nil {
			t.Errorf("parseRedisCSV(%q) accepted", bad)
		}
	}
}

func TestRedisCommand(t *testing.T) {
	f := func(op Op, want string, ok bool) {
		t.Helper()
		args, got := RedisCommand(op, 3, 2)
		if got != ok || strings.Join(args, " ") != want {
			t.Errorf("RedisCommand(%v) = %q, %v", op, strings.Join(args, " "), got)
		}
	}
	f(OpGet, "-t get", true)
	f(OpSave, "-t set", true)
	f(OpBulk, "MGET key:__rand_int__ key:__rand_int__ key:__rand_int__", true)
	f(OpMSave, "MSET key:__rand_int__ xx key:__rand_int__ xx key:__rand_int__ xx", true)
	f(OpDelete, "DEL key:__rand_int__", true)
	f(OpQuery, "", false)
}

func TestComponentYAML(t *testing.T) {
	y := componentYAML("state.redis", map[string]string{"redisHost": "127.0.0.1:6379"})
	for _, want := range []string{"kind: Component", "name: statestore", "type: state.redis", `value: "127.0.0.1:6379"`} {
		if !strings.Contains(y, want) {
			t.Errorf("component YAML lacks %q:\n%s", want, y)
		}
	}
	if y := componentYAML("state.in-memory", nil); !strings.Contains(y, "metadata:\n  []") {
		t.Errorf("empty metadata not rendered as a list:\n%s", y)
	}
}

func checkSVG(t *testing.T, b []byte, wants ...string) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		_, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("invalid SVG: %v\n%s", err, b)
		}
	}
	for _, w := range wants {
		if !bytes.Contains(b, []byte(w)) {
			t.Errorf("SVG lacks %q", w)
		}
	}
}

func TestCharts(t *testing.T) {
	var b bytes.Buffer
	if err := BarChart(&b, "get <c=32>", "req/s", []string{"statecar", "redis & co"},
		[]Series{{Name: "p50", Values: []float64{120, 80}}, {Name: "p99", Values: []float64{900, math.NaN()}}}, true); err != nil {
		t.Fatal(err)
	}
	checkSVG(t, b.Bytes(), "get &lt;c=32&gt;", "redis &amp; co", ">900<", "p99")
	if bytes.Count(b.Bytes(), []byte("<rect x=")) != 3+2 { // 3 bars (NaN skipped) + 2 legend boxes
		t.Errorf("want 3 bars and 2 legend entries:\n%s", b.String())
	}
	b.Reset()
	if err := LineChart(&b, "scale", "connections", "req/s", []float64{1, 8, 32},
		[]Series{{Name: "statecar", Values: []float64{1e4, 5e4, 9e4}}, {Name: "redis", Values: []float64{2e4, math.NaN(), 1e5}}}, true, false); err != nil {
		t.Fatal(err)
	}
	checkSVG(t, b.Bytes(), "<polyline", "statecar", ">32<")
	if bytes.Count(b.Bytes(), []byte("<circle")) != 5 {
		t.Errorf("want 5 points:\n%s", b.String())
	}
}

func TestNiceMaxAndFmtNum(t *testing.T) {
	for v, want := range map[float64]float64{0: 1, 7: 8, 104000: 125000, 95: 100, 1: 1} {
		if top, _ := niceMax(v); top != want {
			t.Errorf("niceMax(%v) = %v, want %v", v, top, want)
		}
	}
	for v, want := range map[float64]string{0.5: "0.5", 12.34: "12.3", 766: "766", 103990: "104k", 2.5e6: "2.5M"} {
		if got := fmtNum(v); got != want {
			t.Errorf("fmtNum(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestRatioIsPerPoint(t *testing.T) {
	mk := func(sys string, conns int, thr float64) *Result {
		return &Result{System: sys, Conns: conns, Keys: 10, Throughput: thr}
	}
	rs := []*Result{mk("statecar", 1, 100), mk("statecar", 8, 400), mk("redis", 1, 50), mk("redis", 8, 800)}
	want := []float64{100, 400, 100, 400}
	for i, r := range rs {
		if got := baseFor(rs, r); got != want[i] {
			t.Errorf("%s c=%d: base %v, want %v", r.System, r.Conns, got, want[i])
		}
	}
	md := MarkdownTable(rs)
	if !strings.Contains(md, "| redis | | get | 8 | 10 | 800 | 2.00x |") && !strings.Contains(md, "800 | 2.00x") {
		t.Errorf("ratio not per point:\n%s", md)
	}
}

func TestTablesAndPlots(t *testing.T) {
	a, b := sampleResult(), sampleResult()
	b.System, b.Throughput, b.Proc = "redis", 400, nil
	failed := &Result{System: "daprd-mem", Workload: "get", Note: "no daprd binary (set DAPRD=/path/to/daprd)"}
	rs := []*Result{a, b, failed}
	var buf bytes.Buffer
	PrintTable(&buf, rs)
	out := buf.String()
	for _, want := range []string{"statecar", "1.00x", "2.00x", "no daprd binary", "50.0"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	md := MarkdownTable(rs)
	if strings.Count(md, "\n") != 5 || !strings.Contains(md, "| redis |") {
		t.Errorf("markdown table:\n%s", md)
	}
	dir := t.TempDir()
	files, err := WritePlots(filepath.Join(dir, "x"), "get", rs, "")
	if err != nil || len(files) != 2 {
		t.Fatalf("plots %v, %v", files, err)
	}
	c := *a
	c.Conns = 8
	files, err = WritePlots(filepath.Join(dir, "y"), "get", []*Result{a, &c, b}, "conns")
	if err != nil || len(files) != 2 {
		t.Fatalf("scale plots %v, %v", files, err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		checkSVG(t, data, "statecar")
	}
}

// TestPeersAgainstRedis runs the peers runner end to end with the redis
// system only (a real redis-server and redis-benchmark, short runs), plus
// a daprd system without a binary, which must be reported, not fatal.
func TestPeersAgainstRedis(t *testing.T) {
	for _, bin := range []string{"redis-server", "redis-benchmark", "redis-cli"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not installed", bin)
		}
	}
	mix, _ := ParseMix("get")
	var log bytes.Buffer
	rs, err := RunPeers(t.Context(), PeersConfig{
		Load:    Config{Mix: mix, Conns: 4, Duration: 200 * time.Millisecond, Keys: 500, Size: 10, Preload: true},
		Systems: []string{SysRedis, SysDaprdMem},
		Dir:     t.TempDir(),
		Log:     &log,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 {
		t.Fatalf("%d results\n%s", len(rs), log.String())
	}
	r := rs[0]
	if r.System != SysRedis || r.Throughput <= 0 || r.Latency.P50 <= 0 || r.Proc == nil || r.Proc.PeakRSSBytes <= 0 || r.Proc.StartupMs <= 0 {
		t.Fatalf("redis result %+v %+v\n%s", r, r.Proc, log.String())
	}
	if !strings.Contains(rs[1].Note, "DAPRD") || rs[1].Throughput != 0 {
		t.Fatalf("daprd without binary: %+v", rs[1])
	}
	if !strings.Contains(log.String(), "preloaded 500 keys") {
		t.Fatalf("no preload in log:\n%s", log.String())
	}
}

func TestRedisPopulateMatchesBenchmarkKeys(t *testing.T) {
	for _, bin := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not installed", bin)
		}
	}
	p, err := StartRedis("redis", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	if err := redisPopulate(t.Context(), p.RedisAddr, 0, 250, 7); err != nil {
		t.Fatal(err)
	}
	host, port, _ := strings.Cut(p.RedisAddr, ":")
	out, err := exec.Command("redis-cli", "-h", host, "-p", port, "DBSIZE").Output()
	if err != nil || strings.TrimSpace(string(out)) != "250" {
		t.Fatalf("DBSIZE %q, %v", out, err)
	}
	// redis-benchmark -r names keys key:%012d.
	out, err = exec.Command("redis-cli", "-h", host, "-p", port, "GET", "key:000000000249").Output()
	if err != nil || strings.TrimSpace(string(out)) != "xxxxxxx" {
		t.Fatalf("GET key:000000000249 = %q, %v", out, err)
	}
}

// TestPeersStartsAndStopsSidecars runs the statecar and daprd paths of the
// peers runner with the test binary standing in for both (see TestMain).
func TestPeersStartsAndStopsSidecars(t *testing.T) {
	dir := t.TempDir()
	argsFile := filepath.Join(dir, "args")
	t.Setenv("BENCH_FAKE_SIDECAR", "1")
	t.Setenv("BENCH_FAKE_ARGS", argsFile)
	mix, _ := ParseMix("get")
	for _, sys := range []string{SysStatecarMem, SysDaprdMem} {
		rs, err := RunPeers(t.Context(), PeersConfig{
			Load:        Config{Mix: mix, Conns: 2, Duration: 100 * time.Millisecond, Keys: 100, Preload: true},
			Systems:     []string{sys},
			StatecarBin: os.Args[0],
			DaprdBin:    os.Args[0],
			Dir:         dir,
		})
		if err != nil {
			t.Fatal(err)
		}
		r := rs[0]
		if r.Note != "" || r.Throughput <= 0 || r.Status["204"] != r.Requests {
			t.Fatalf("%s: %+v", sys, r)
		}
		if r.Proc == nil || r.Proc.StartupMs <= 0 || r.Proc.PeakRSSBytes <= 0 || r.Proc.CPUSeconds < 0 {
			t.Fatalf("%s: process figures %+v", sys, r.Proc)
		}
		args, err := os.ReadFile(argsFile)
		if err != nil {
			t.Fatal(err)
		}
		a := string(args)
		for _, want := range []string{"--app-id\nbench\n", "--dapr-grpc-port\n", "--metrics-port\n", "--resources-path\n"} {
			if !strings.Contains(a, want) {
				t.Errorf("%s: arguments lack %q:\n%s", sys, want, a)
			}
		}
		if got := strings.Contains(a, "--data-dir\n"); got != (sys == SysStatecarMem) {
			t.Errorf("%s: --data-dir given = %v", sys, got)
		}
		comp, err := os.ReadFile(filepath.Join(dir, "resources-"+sys, "statestore.yaml"))
		if err != nil || !strings.Contains(string(comp), "type: state.in-memory") {
			t.Errorf("%s: component file %q, %v", sys, comp, err)
		}
	}
	// A sidecar that exits before it is healthy is reported, not fatal.
	rs, err := RunPeers(t.Context(), PeersConfig{
		Load:    Config{Mix: mix, Duration: 100 * time.Millisecond},
		Systems: []string{SysStatecar}, StatecarBin: "/bin/false", Dir: dir,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rs[0].Note, "exited") {
		t.Fatalf("failed start not reported: %+v", rs[0])
	}
}

func TestMedianRounds(t *testing.T) {
	mk := func(sys string, thr float64) *Result { return &Result{System: sys, Throughput: thr} }
	all := [][]*Result{
		{mk("statecar", 100), mk("redis", 50)},
		{mk("statecar", 300), mk("redis", 70)},
		{mk("statecar", 200), mk("redis", 10)},
	}
	got := medianRounds(all)
	if len(got) != 2 || got[0].Throughput != 200 || got[1].Throughput != 50 {
		t.Fatalf("medians %v %v", got[0].Throughput, got[1].Throughput)
	}
	if !strings.Contains(got[0].Note, "median of 3 rounds (req/s by round: 100, 300, 200)") {
		t.Fatalf("note %q", got[0].Note)
	}
	if all[2][0].Note != "" {
		t.Fatal("medianRounds changed its input")
	}
}
