// Command peers runs one State API workload against statecar and its peers
// in turn — statecar (built from ./cmd/statecar or $STATECAR_BIN, on free
// ports with a temporary data dir), redis-server (the raw-KV reference,
// persistence off) driven by scload's own RESP client and by
// redis-benchmark, and, when $DAPRD names a daprd
// binary, daprd with state.redis on a local redis-server and with
// state.in-memory — and prints a table of absolute figures and ratios,
// peak RSS, CPU time per 1,000 requests and time to first healthy reply.
// It writes the results as JSON and the plots as SVG.
//
// Run it from the module root:
//
//	go run ./bench/cmd/peers -workload get
//	go run ./bench/cmd/peers -workload save -c 64 -size 1024 -d 10s
//	go run ./bench/cmd/peers -workload get -scale conns            # 1, 8, 32, 128, 512
//	go run ./bench/cmd/peers -workload get -scale keys -keys-max 1e6
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/statecar/statecar/bench"
)

func main() { os.Exit(run()) }

func run() int {
	var (
		workload = flag.String("workload", "get", "operation or mix: get, save, msave, bulk, tx, query, delete (mixes skip redis)")
		proto    = flag.String("proto", "http", "sidecar protocol: http or grpc")
		conns    = flag.Int("c", 32, "concurrent connections (also redis-benchmark -c)")
		dur      = flag.Duration("d", bench.DefaultDuration, "measured duration per system and point")
		warmup   = flag.Duration("warmup", bench.DefaultWarmup, "warm-up per system and point")
		size     = flag.Int("size", 100, "payload bytes per value (also redis-benchmark -d)")
		batch    = flag.Int("batch", 10, "items per msave, bulk and tx request")
		keys     = flag.Uint64("keys", 10000, "key-space size")
		dist     = flag.String("dist", "uniform", "key distribution for the sidecars: uniform or zipf (redis-benchmark is uniform)")
		rate     = flag.Float64("rate", 0, "open-loop total req/s for the sidecars (0 = closed loop)")
		systems  = flag.String("systems", "", "comma-separated systems (default: statecar,redis-scload,redis, plus daprd-redis,daprd-mem when $DAPRD is set); also statecar-mem, statecar-redis")
		scale    = flag.String("scale", "", "scale curve: conns (1,8,32,128,512) or keys (1e3..-keys-max)")
		points   = flag.String("points", "", "override the scale points, comma-separated")
		keysMax  = flag.Float64("keys-max", 1e6, "largest key-space size of -scale keys (1e7 takes minutes per system)")
		outDir   = flag.String("out", "bench/results", "directory for the JSON results ('' = none)")
		imgDir   = flag.String("img", "docs/img", "directory for the SVG plots ('' = none)")
		name     = flag.String("name", "", "file name stem of the results and plots (default: peers-<workload>[-scale-<x>])")
		keep     = flag.Bool("keep", false, "keep the work directory (logs, data) instead of deleting it")
		repeat   = flag.Int("repeat", 1, "rounds over all systems, interleaved; the median-throughput round of each is kept")
	)
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	mix, err := bench.ParseMix(*workload)
	if err != nil {
		fmt.Fprintln(os.Stderr, "peers:", err)
		return 2
	}
	load := bench.Config{
		Proto: *proto, Mix: mix, Conns: *conns, Duration: *dur, Warmup: *warmup, Size: *size,
		Batch: *batch, Keys: *keys, Dist: bench.Dist(*dist), Rate: *rate, Seed: 1,
	}
	for _, op := range mix.Ops() {
		load.Preload = load.Preload || op.NeedsData()
	}
	if fi, err := os.Stderr.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		load.Progress = os.Stderr
	}

	pc := bench.PeersConfig{Load: load, DaprdBin: os.Getenv("DAPRD"), StatecarBin: os.Getenv("STATECAR_BIN"), Scale: *scale, Repeat: *repeat, Log: os.Stderr}
	if *systems != "" {
		pc.Systems = strings.Split(*systems, ",")
	} else {
		pc.Systems = []string{bench.SysStatecar, bench.SysRedisScload, bench.SysRedis}
		if pc.DaprdBin != "" {
			pc.Systems = append(pc.Systems, bench.SysDaprdRedis, bench.SysDaprdMem)
		}
	}
	switch *scale {
	case "conns":
		pc.Points = []uint64{1, 8, 32, 128, 512}
	case "keys":
		for k := 1e3; k <= *keysMax; k *= 10 {
			pc.Points = append(pc.Points, uint64(k))
		}
	}
	if *points != "" {
		pc.Points = nil
		for _, p := range strings.Split(*points, ",") {
			f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
			if err != nil || f < 1 {
				fmt.Fprintf(os.Stderr, "peers: bad point %q\n", p)
				return 2
			}
			pc.Points = append(pc.Points, uint64(f))
		}
	}

	dir, err := os.MkdirTemp("", "statecar-peers-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "peers:", err)
		return 1
	}
	if *keep {
		fmt.Fprintln(os.Stderr, "peers: work directory", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	pc.Dir = dir
	needStatecar := false
	for _, s := range pc.Systems {
		needStatecar = needStatecar || strings.HasPrefix(s, "statecar")
	}
	if needStatecar && pc.StatecarBin == "" {
		fmt.Fprintln(os.Stderr, "peers: building ./cmd/statecar")
		if pc.StatecarBin, err = bench.BuildStatecar(dir); err != nil {
			fmt.Fprintln(os.Stderr, "peers:", err)
			// go on: the statecar rows report the failure
		}
	}

	t0 := time.Now()
	rs, err := bench.RunPeers(ctx, pc)
	if err != nil {
		fmt.Fprintln(os.Stderr, "peers:", err)
	}
	fmt.Printf("\n%s, %s, c=%d, size=%s, keys=%d, %s keys, %v per run (+%v warm-up); %d CPUs; total %v\n\n",
		*workload, *proto, *conns, bench.SizeName(*size), *keys, *dist, *dur, *warmup, bench.ThisHost().CPUs, time.Since(t0).Round(time.Second))
	bench.PrintTable(os.Stdout, rs)
	fmt.Println()
	for _, r := range rs {
		if r.Throughput > 0 {
			fmt.Println(r.GoBenchLine())
		}
	}
	for _, r := range rs {
		if r.Proc != nil && r.Proc.Extra != "" {
			fmt.Printf("%s: %s\n", r.System, r.Proc.Extra)
		}
	}

	stem := *name
	if stem == "" {
		stem = "peers-" + strings.NewReplacer(":", "", ",", "-").Replace(*workload)
		if *proto != "http" {
			stem += "-" + *proto
		}
		if *scale != "" {
			stem += "-scale-" + *scale
		}
	}
	if *outDir != "" {
		if err := os.MkdirAll(*outDir, 0o755); err == nil {
			// The histograms stay out of the comparison files (they are in
			// scload -json); summaries are enough to redraw tables and plots.
			for _, r := range rs {
				r.Buckets = nil
			}
			p := filepath.Join(*outDir, stem+".json")
			if f, err := os.Create(p); err == nil {
				_ = bench.WriteJSON(f, rs)
				_ = f.Close()
				fmt.Println("results:", p)
			}
			h := bench.ThisHost()
			md := fmt.Sprintf("`%s` — %s, %d CPUs, load average %.1f at the end, %s\n\n%s",
				strings.Join(os.Args, " "), h.Model, h.CPUs, h.LoadAvg, time.Now().UTC().Format(time.RFC3339), bench.MarkdownTable(rs))
			p = filepath.Join(*outDir, stem+".md")
			if err := os.WriteFile(p, []byte(md), 0o644); err == nil {
				fmt.Println("table:", p)
			}
		}
	}
	if *imgDir != "" {
		if err := os.MkdirAll(*imgDir, 0o755); err == nil {
			title := *workload + " (" + *proto + ", c=" + strconv.Itoa(*conns) + ")"
			if *scale == "conns" {
				title = *workload + " (" + *proto + ", " + strconv.FormatUint(*keys, 10) + " keys)"
			}
			files, err := bench.WritePlots(filepath.Join(*imgDir, stem), title, rs, *scale)
			if err != nil {
				fmt.Fprintln(os.Stderr, "peers:", err)
			}
			for _, f := range files {
				fmt.Println("plot:", f)
			}
		}
	}
	if err != nil {
		return 1
	}
	return 0
}
