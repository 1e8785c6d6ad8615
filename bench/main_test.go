package bench

import (
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
)

// TestMain lets the test binary stand in for a sidecar: started with
// BENCH_FAKE_SIDECAR=1 it serves the trivial 204 responder on the port of
// --dapr-http-port (so GET /v1.0/healthz answers 204), records its
// arguments in $BENCH_FAKE_ARGS, and exits 0 on SIGTERM.
func TestMain(m *testing.M) {
	if os.Getenv("BENCH_FAKE_SIDECAR") == "1" {
		os.Exit(fakeSidecar(os.Args[1:]))
	}
	os.Exit(m.Run())
}

func fakeSidecar(args []string) int {
	port := ""
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "--dapr-http-port" {
			port = args[i+1]
		}
	}
	if f := os.Getenv("BENCH_FAKE_ARGS"); f != "" {
		_ = os.WriteFile(f, []byte(strings.Join(args, "\n")+"\n"), 0o644)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	s, err := ServeTrivial("127.0.0.1:" + port)
	if err != nil {
		return 3
	}
	<-sig
	_ = s.Close()
	return 0
}
