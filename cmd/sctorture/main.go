package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"time"

	"github.com/statecar/statecar/tests/torture"
)

func main() {
	os.Exit(run())
}

func run() int {
	var (
		bin         = flag.String("bin", "", "statecar binary (default: go build ./cmd/statecar into a temp dir)")
		cycles      = flag.Int("cycles", 200, "kill/restart cycles")
		duration    = flag.Duration("duration", 3*time.Second, "maximum load time per cycle; the kill comes at a random moment in [duration/4, duration]")
		workers     = flag.Int("workers", 8, "concurrent client goroutines")
		maxRecovery = flag.Duration("max-recovery", 10*time.Second, "bound on time-to-healthy after a restart")
		dataDir     = flag.String("data-dir", "", "data dir (default: a fresh temp dir, removed at the end unless -keep)")
		keep        = flag.Bool("keep", false, "keep the data dir and process log")
		seed        = flag.Uint64("seed", 0, "random seed (0: time)")
		jsonOut     = flag.String("json", "", "write the JSON report to this file (\"-\": stdout)")
		quiet       = flag.Bool("q", false, "no per-cycle progress lines")
		durability  = flag.String("durability", "", "state.pebble durability metadata (\"sync\" or \"relaxed\"); empty: the binary's default store")
	)
	flag.Parse()
	tmp, err := os.MkdirTemp("", "sctorture-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "cannot create temp dir:", err)
		return 2
	}
	if !*keep {
		defer os.RemoveAll(tmp)
	}
	if *bin == "" {
		*bin = filepath.Join(tmp, "statecar")
		cmd := exec.Command("go", "build", "-o", *bin, "./cmd/statecar")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "cannot build ./cmd/statecar (run from the module root or pass -bin):", err)
			return 2
		}
	}
	if *dataDir == "" {
		*dataDir = filepath.Join(tmp, "data")
	}
	logf, err := os.Create(filepath.Join(tmp, "statecar.log"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "cannot create log:", err)
		return 2
	}
	defer logf.Close()
	p := &torture.Process{Bin: *bin, DataDir: *dataDir, Log: logf}
	if *durability != "" {
		res := filepath.Join(tmp, "resources")
		if err := os.MkdirAll(res, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "cannot create resources dir:", err)
			return 2
		}
		if err := os.WriteFile(filepath.Join(res, "statestore.yaml"), []byte(torture.PebbleComponent(*durability)), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "cannot write component:", err)
			return 2
		}
		p.Args = append(p.Args, "--resources-path", res)
	}
	d, err := p.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "cannot start statecar:", err, "(log:", logf.Name()+")")
		return 2
	}
	defer p.Kill()
	fmt.Fprintf(os.Stderr, "statecar %s pid %d healthy after %v; data %s; log %s\n", *bin, p.Pid(), d.Round(time.Millisecond), *dataDir, logf.Name())

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancel()
	cfg := torture.Config{Cycles: *cycles, Duration: *duration, Workers: *workers, MaxRecovery: *maxRecovery, Seed: *seed}
	if !*quiet {
		cfg.Logf = func(f string, a ...any) { fmt.Fprintf(os.Stderr, time.Now().UTC().Format("15:04:05 ")+f+"\n", a...) }
	}
	rep, err := torture.Run(ctx, p, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "torture stopped:", err, "(log:", logf.Name()+")")
	}
	fmt.Printf("sctorture: %d cycles, %d workers, %.0fs on %s/%s %d CPUs\n", rep.Cycles, rep.Workers, rep.Seconds, runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
	fmt.Printf("acked: %v; refused (409, retried): %d; cut by kill: %d; unexpected answers: %d\n", rep.Acked, rep.Refused, rep.InFlight, rep.Unexpected)
	fmt.Printf("time to healthy after SIGKILL (ms): min %.1f p50 %.1f max %.1f\n", rep.RecoveryMsMin, rep.RecoveryMsP50, rep.RecoveryMsMax)
	fmt.Printf("violations: %d\n", len(rep.Violations))
	for _, v := range rep.Violations {
		fmt.Println("  VIOLATION", v)
	}
	for _, u := range rep.UnexpectedSamples {
		fmt.Println("  UNEXPECTED", u)
	}
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		b = append(b, '\n')
		if *jsonOut == "-" {
			os.Stdout.Write(b)
		} else if err := os.WriteFile(*jsonOut, b, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "cannot write report:", err)
			return 2
		}
	}
	if err != nil {
		return 2
	}
	if !rep.OK() {
		return 1
	}
	return 0
}
