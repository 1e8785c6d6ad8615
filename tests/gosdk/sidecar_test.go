package gosdk

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Readiness and stop limits (process-contract.md: launchers poll healthz
// every 10 ms for up to 30 s).
const (
	readyPoll    = 10 * time.Millisecond
	readyTimeout = 30 * time.Second
	exitTimeout  = 30 * time.Second
)

// componentsYAML is the resources folder every sidecar of this suite gets:
// the embedded engine as "statestore" (ETAG, TRANSACTIONAL, TTL, QUERY_API).
// A second store, querystore, holds only the query test's JSON documents
// (a query scans the whole store). envsecrets is a secretstores.local.env
// store for the Secrets API test.
const componentsYAML = `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: envsecrets
spec:
  type: secretstores.local.env
  version: v1
---
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: statestore
spec:
  type: state.pebble
  version: v1
  metadata: []
---
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: querystore
spec:
  type: state.pebble
  version: v1
  metadata: []
`

// binary is the statecar executable under test: $STATECAR_BIN, or built
// once from the repository root by TestMain.
var binary string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if p := os.Getenv("STATECAR_BIN"); p != "" {
		binary = p
		return m.Run()
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		fmt.Fprintln(os.Stderr, "cannot find the repository root:", err)
		return 1
	}
	if _, err := os.Stat(filepath.Join(root, "cmd", "statecar")); err != nil {
		fmt.Fprintln(os.Stderr, "cannot find cmd/statecar (set STATECAR_BIN):", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "statecar-gosdk-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "cannot create a temp dir:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "statecar")
	cmd := exec.Command("go", "build", "-o", binary, "./cmd/statecar")
	cmd.Dir = root
	// The sidecar is built in its own module; do not let this module's
	// settings leak into that build.
	cmd.Env = append(os.Environ(), "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "cannot build ./cmd/statecar: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// sidecar is one running statecar process.
type sidecar struct {
	AppID                           string
	HTTPPort, GRPCPort, MetricsPort int

	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{} // closed when the process has exited
	err  error         // cmd.Wait's result, valid after done
}

// syncBuffer collects the process output from exec's copying goroutines.
type syncBuffer struct {
	mu  sync.Mutex // guards buf
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("cannot find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// pickPort chooses the ports of a new sidecar; tests replace it to hand out
// a port that is already taken.
var pickPort = freePort

// portAttempts bounds how many sets of ports startSidecar tries.
const portAttempts = 5

// startSidecar starts statecar on free loopback ports with a temporary data
// dir and the suite's components, waits for GET /v1.0/healthz to answer
// 204, and kills the process at test cleanup (printing its output if the
// test failed). env entries ("NAME=value") are added to the environment.
// A process that exits because another one bound a picked port first is
// started again on new ports.
func startSidecar(tb testing.TB, env ...string) *sidecar {
	tb.Helper()
	return startSidecarWith(tb, "", env...)
}

// startSidecarWith is startSidecar with extra component documents
// (YAML, "---"-separated) beside componentsYAML.
func startSidecarWith(tb testing.TB, extra string, env ...string) *sidecar {
	tb.Helper()
	return startSidecarArgs(tb, extra, nil, env...)
}

// startSidecarArgs is startSidecarWith with extra command-line arguments
// (e.g. --app-port).
func startSidecarArgs(tb testing.TB, extra string, extraArgs []string, env ...string) *sidecar {
	tb.Helper()
	res := tb.TempDir()
	if err := os.WriteFile(filepath.Join(res, "statestore.yaml"), []byte(componentsYAML), 0o600); err != nil {
		tb.Fatal(err)
	}
	if extra != "" {
		if err := os.WriteFile(filepath.Join(res, "extra.yaml"), []byte(extra), 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	dataDir := tb.TempDir()
	for attempt := 1; ; attempt++ {
		s := spawnSidecar(tb, res, dataDir, env, extraArgs)
		err := s.waitReady()
		if err == nil {
			return s
		}
		out := s.out.String()
		if attempt < portAttempts && s.exited() &&
			(strings.Contains(out, "address already in use") || strings.Contains(out, "cannot listen on 127.0.0.1:")) {
			continue
		}
		tb.Fatal(err)
	}
}

// spawnSidecar starts one process on newly picked ports.
func spawnSidecar(tb testing.TB, res, dataDir string, env, extraArgs []string) *sidecar {
	tb.Helper()
	s := &sidecar{
		AppID:       "myapp",
		HTTPPort:    pickPort(tb),
		GRPCPort:    pickPort(tb),
		MetricsPort: pickPort(tb),
		out:         &syncBuffer{},
		done:        make(chan struct{}),
	}
	args := []string{
		"--app-id", s.AppID,
		"--dapr-http-port", strconv.Itoa(s.HTTPPort),
		"--dapr-grpc-port", strconv.Itoa(s.GRPCPort),
		"--metrics-port", strconv.Itoa(s.MetricsPort),
		"--dapr-listen-addresses", "127.0.0.1",
		"--metrics-listen-address", "127.0.0.1",
		"--resources-path", res,
		"--data-dir", dataDir,
	}
	args = append(args, extraArgs...)
	s.cmd = exec.Command(binary, args...)
	s.cmd.Env = append(os.Environ(), env...)
	s.cmd.Stdout = s.out
	s.cmd.Stderr = s.out
	if err := s.cmd.Start(); err != nil {
		tb.Fatalf("cannot start %s: %v", binary, err)
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.done)
	}()
	tb.Cleanup(func() {
		select {
		case <-s.done:
		default:
			_ = s.cmd.Process.Kill()
			<-s.done
		}
		if tb.Failed() {
			tb.Logf("statecar %v output:\n%s", args, s.out.String())
		}
	})
	return s
}

// exited reports whether the process has exited.
func (s *sidecar) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// waitReady polls healthz until it answers 204; it returns an error if the
// process exits first or readyTimeout passes.
func (s *sidecar) waitReady() error {
	url := "http://127.0.0.1:" + strconv.Itoa(s.HTTPPort) + "/v1.0/healthz"
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(readyTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return fmt.Errorf("statecar exited before becoming ready: %v\n%s", s.err, s.out.String())
		default:
		}
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusNoContent {
				return nil
			}
		}
		time.Sleep(readyPoll)
	}
	return fmt.Errorf("statecar not ready after %v\n%s", readyTimeout, s.out.String())
}

// GRPCAddr is the address to give the SDK.
func (s *sidecar) GRPCAddr() string { return "127.0.0.1:" + strconv.Itoa(s.GRPCPort) }

// waitExit waits for the process to exit by itself and returns its exit
// code, or fails tb if it is still running after exitTimeout.
func (s *sidecar) waitExit(tb testing.TB) int {
	tb.Helper()
	select {
	case <-s.done:
	case <-time.After(exitTimeout):
		_ = s.cmd.Process.Signal(syscall.SIGQUIT)
		tb.Fatalf("statecar still running %v after shutdown", exitTimeout)
	}
	var ee *exec.ExitError
	if errors.As(s.err, &ee) {
		return ee.ExitCode()
	}
	if s.err != nil {
		tb.Fatalf("cannot wait for statecar: %v", s.err)
	}
	return 0
}

// TestStartSidecarPortTaken: another process binds a picked port before the
// sidecar does; startSidecar must pick new ports instead of failing.
func TestStartSidecarPortTaken(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := l.Addr().(*net.TCPAddr).Port
	orig := pickPort
	defer func() { pickPort = orig }()
	handed := false
	pickPort = func(tb testing.TB) int {
		if !handed {
			handed = true
			return taken
		}
		return orig(tb)
	}
	s := startSidecar(t)
	if s.HTTPPort == taken {
		t.Fatalf("sidecar reports HTTP port %d, which another listener holds", taken)
	}
	if err := s.waitReady(); err != nil {
		t.Fatal(err)
	}
}
