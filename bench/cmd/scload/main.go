// Command scload drives the Dapr State API of a sidecar (statecar or daprd)
// over HTTP or gRPC and reports throughput and latency percentiles.
//
// Typical use:
//
//	scload -target 127.0.0.1:3500 -mix get -c 32 -d 10s -size 1024 -keys 100000
//	scload -proto grpc -target 127.0.0.1:50001 -mix get:80,save:20 -rate 20000
//	scload -serve-trivial 127.0.0.1:18080     # a do-nothing HTTP server
//	scload -trivial -c 32 -d 5s               # the generator's own ceiling
//
// See bench/doc.go for what is measured and how.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"

	"github.com/statecar/statecar/bench"
)

func main() {
	os.Exit(run())
}

func run() int {
	var (
		target   = flag.String("target", "127.0.0.1:3500", "sidecar address host:port (HTTP or gRPC port, see -proto)")
		proto    = flag.String("proto", "http", "protocol: http, grpc, or redis (RESP to a redis-server, the raw-KV reference)")
		store    = flag.String("store", "statestore", "state store name")
		mix      = flag.String("mix", "get", "operation or weighted mix: get, save, msave, bulk, tx, query, delete; e.g. get:80,save:20")
		conns    = flag.Int("c", 32, "concurrent connections (one request in flight each)")
		channels = flag.Int("channels", 1, "gRPC channels (HTTP/2 connections) shared by the -c workers; default 1, as one SDK client")
		rate     = flag.Float64("rate", 0, "open loop: total requests per second (0 = closed loop, as fast as possible)")
		dur      = flag.Duration("d", bench.DefaultDuration, "measured duration")
		warmup   = flag.Duration("warmup", bench.DefaultWarmup, "unmeasured warm-up before the measured phase")
		size     = flag.Int("size", 100, "payload bytes per value")
		batch    = flag.Int("batch", 10, "items per msave, bulk and tx request")
		keys     = flag.Uint64("keys", 10000, "key-space size")
		dist     = flag.String("dist", "uniform", "key distribution: uniform or zipf (theta 0.99, scrambled)")
		query    = flag.String("query", "", "query body for the query op (default: EQ on a random value group, limit 10)")
		rsave    = flag.String("redis-save", "set", "with -proto redis, what a save sends: set (SET) or script (EVALSHA of statecar's state.redis write script on a hash: the raw round trip of a daprd-layout save)")
		kprefix  = flag.String("key-prefix", "k", "key text before the key number")
		preload  = flag.String("preload", "auto", "write every key once before the run: auto (when the mix reads), true, false")
		seed     = flag.Uint64("seed", 1, "random seed")
		label    = flag.String("label", "", "system label stored in the result")
		jsonOut  = flag.String("json", "", "write the result as JSON to this file ('-' = stdout)")
		progress = flag.String("progress", "auto", "progress bar on stderr: auto (when a terminal), true, false")
		serve    = flag.String("serve-trivial", "", "serve the trivial 204 responder on this address until interrupted")
		trivial  = flag.Bool("trivial", false, "start a trivial responder (HTTP, or gRPC with -proto grpc) in-process and drive it: the generator's ceiling")
		cpuprof  = flag.String("cpuprofile", "", "write a CPU profile of scload itself to this file")
	)
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if *serve != "" {
		s, err := bench.ServeTrivial(*serve)
		if err != nil {
			fmt.Fprintln(os.Stderr, "scload:", err)
			return 1
		}
		fmt.Fprintln(os.Stderr, "scload: trivial responder on", s.Addr())
		<-ctx.Done()
		_ = s.Close()
		return 0
	}

	m, err := bench.ParseMix(*mix)
	if err != nil {
		fmt.Fprintln(os.Stderr, "scload:", err)
		return 2
	}
	cfg := bench.Config{
		Target: *target, Proto: *proto, Store: *store, Mix: m, Conns: *conns, Channels: *channels,
		Rate: *rate, Duration: *dur, Warmup: *warmup, Size: *size, Batch: *batch, Keys: *keys,
		Dist: bench.Dist(*dist), Query: *query, Seed: *seed, Label: *label,
		RedisSave: *rsave, KeyPrefix: *kprefix,
	}
	switch *preload {
	case "auto":
		for _, op := range m.Ops() {
			cfg.Preload = cfg.Preload || op.NeedsData()
		}
	case "true":
		cfg.Preload = true
	case "false":
	default:
		fmt.Fprintln(os.Stderr, "scload: -preload must be auto, true or false")
		return 2
	}
	if *progress == "true" || (*progress == "auto" && isTerminal(os.Stderr)) {
		cfg.Progress = os.Stderr
	}
	if *trivial && cfg.Proto == "grpc" {
		s, addr, err := bench.ServeTrivialGRPC("127.0.0.1:0")
		if err != nil {
			fmt.Fprintln(os.Stderr, "scload:", err)
			return 1
		}
		defer s.Stop()
		cfg.Target, cfg.Preload = addr, false
	} else if *trivial {
		s, err := bench.ServeTrivial("127.0.0.1:0")
		if err != nil {
			fmt.Fprintln(os.Stderr, "scload:", err)
			return 1
		}
		defer s.Close()
		cfg.Target, cfg.Proto, cfg.Preload = s.Addr(), "http", false
	}
	if *trivial && cfg.Label == "" {
		cfg.Label = "trivial"
	}

	if *cpuprof != "" {
		f, err := os.Create(*cpuprof)
		if err != nil {
			fmt.Fprintln(os.Stderr, "scload:", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "scload:", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	res, err := bench.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "scload:", err)
		if res == nil {
			return 1
		}
	}
	fmt.Println(res.GoBenchLine())
	fmt.Println(bench.Summary(res))
	if *jsonOut != "" {
		out := os.Stdout
		if *jsonOut != "-" {
			f, err := os.Create(*jsonOut)
			if err != nil {
				fmt.Fprintln(os.Stderr, "scload:", err)
				return 1
			}
			defer f.Close()
			out = f
		}
		if err := bench.WriteJSON(out, []*bench.Result{res}); err != nil {
			fmt.Fprintln(os.Stderr, "scload:", err)
			return 1
		}
	}
	if err != nil {
		return 1
	}
	return 0
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0 && !strings.EqualFold(os.Getenv("TERM"), "dumb")
}
