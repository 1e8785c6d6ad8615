package torture

import (
	"context"
	"flag"
	"testing"
	"time"

	"github.com/statecar/statecar/internal/testutil"
)

var (
	long       = flag.Bool("long", false, "run the long torture variants (hundreds of cycles, big WAL)")
	longCycles = flag.Int("cycles", 200, "cycles of the long crash torture (with -long)")
)

// sidecarTarget adapts a testutil.Sidecar to Target.
type sidecarTarget struct{ s *testutil.Sidecar }

func (t sidecarTarget) BaseURL() string { return "http://" + t.s.Addr() }
func (t sidecarTarget) Kill() error     { t.s.Kill(); return nil }
func (t sidecarTarget) Restart() (time.Duration, error) {
	t0 := time.Now()
	t.s.CrashRestart() // the process is already dead: this relaunches and waits for healthz
	return time.Since(t0), nil
}

// TestCrashTorture drives the real binary with saves, deletes, ETag
// counters and transactions, kills it with SIGKILL at random moments and
// checks after every restart that nothing acknowledged was lost, no
// transaction is partial and no acknowledged delete came back.
func TestCrashTorture(t *testing.T) {
	cfg := Config{Cycles: 3, Duration: 1500 * time.Millisecond, Workers: 8, Logf: t.Logf}
	if *long {
		cfg.Cycles, cfg.Duration = *longCycles, 3*time.Second
	}
	s := testutil.Start(t, testutil.Options{})
	rep, err := Run(context.Background(), sidecarTarget{s}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("report: cycles %d acked %v refused %d in flight %d unexpected %d recovery ms min/p50/max %.1f/%.1f/%.1f",
		rep.Cycles, rep.Acked, rep.Refused, rep.InFlight, rep.Unexpected, rep.RecoveryMsMin, rep.RecoveryMsP50, rep.RecoveryMsMax)
	for _, v := range rep.Violations {
		t.Error(v)
	}
	for _, u := range rep.UnexpectedSamples {
		t.Error("unexpected answer:", u)
	}
	if rep.Cycles != cfg.Cycles {
		t.Errorf("ran %d cycles, want %d", rep.Cycles, cfg.Cycles)
	}
	if rep.Acked["save"] == 0 || rep.Acked["increment"] == 0 || rep.Acked["tx"] == 0 || rep.Acked["delete"] == 0 {
		t.Errorf("workload did not exercise every operation: %v", rep.Acked)
	}
}

// TestCrashTortureRelaxed is the same torture with durability "relaxed"
// (acknowledge after write(2), fsync every 10 ms): a process crash must
// still lose nothing (only a machine crash may; kv/doc.go).
func TestCrashTortureRelaxed(t *testing.T) {
	cfg := Config{Cycles: 2, Duration: 1500 * time.Millisecond, Workers: 8, Logf: t.Logf}
	if *long {
		cfg.Cycles, cfg.Duration = *longCycles, 3*time.Second
	}
	res := t.TempDir()
	testutil.WriteFile(t, res, "statestore.yaml", PebbleComponent("relaxed"))
	s := testutil.Start(t, testutil.Options{ResourcesDir: res})
	rep, err := Run(context.Background(), sidecarTarget{s}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("report: cycles %d acked %v in flight %d unexpected %d recovery ms p50 %.1f", rep.Cycles, rep.Acked, rep.InFlight, rep.Unexpected, rep.RecoveryMsP50)
	for _, v := range rep.Violations {
		t.Error(v)
	}
	for _, u := range rep.UnexpectedSamples {
		t.Error("unexpected answer:", u)
	}
	if rep.Acked["save"] == 0 || rep.Acked["tx"] == 0 {
		t.Errorf("workload did not run: %v", rep.Acked)
	}
}
