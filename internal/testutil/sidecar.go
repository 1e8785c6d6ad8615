package testutil

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Readiness polling, as the Dapr launchers do it (process-contract.md).
const (
	readyPoll    = 10 * time.Millisecond
	readyTimeout = 30 * time.Second
	// stopTimeout bounds the wait after SIGTERM before Stop gives up and
	// kills the process (launchers give 45 s; tests want less).
	stopTimeout = 20 * time.Second
)

var build struct {
	once sync.Once
	path string
	err  error
}

// BuildBinary returns the path of a statecar binary: $STATECAR_BIN when set,
// otherwise the result of `go build ./cmd/statecar` run once per process into
// a temporary directory (Invariant 1). It fails tb when the build fails.
func BuildBinary(tb testing.TB) string {
	tb.Helper()
	build.once.Do(func() {
		if p := os.Getenv("STATECAR_BIN"); p != "" {
			if _, err := os.Stat(p); err != nil {
				build.err = fmt.Errorf("cannot use STATECAR_BIN: %w", err)
				return
			}
			build.path = p
			return
		}
		root, err := ModuleRoot()
		if err != nil {
			build.err = err
			return
		}
		dir, err := os.MkdirTemp("", "statecar-testbin-")
		if err != nil {
			build.err = fmt.Errorf("cannot create build dir: %w", err)
			return
		}
		out := filepath.Join(dir, "statecar")
		cmd := exec.Command("go", "build", "-o", out, "./cmd/statecar")
		cmd.Dir = root
		if b, err := cmd.CombinedOutput(); err != nil {
			build.err = fmt.Errorf("cannot build ./cmd/statecar: %w\n%s", err, b)
			return
		}
		build.path = out
	})
	if build.err != nil {
		tb.Fatal(build.err)
	}
	return build.path
}

// ModuleRoot returns the directory holding the main module's go.mod, found
// from this source file's location.
func ModuleRoot() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("cannot locate testutil source file")
	}
	dir := filepath.Dir(file)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("cannot find go.mod above " + filepath.Dir(file))
		}
		dir = parent
	}
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago. It
// panics if the kernel gives none (nothing a test could do about it).
func FreePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic("cannot find a free port: " + err.Error())
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// pickPort chooses the ports of a new sidecar; tests replace it to hand out
// a port that is already taken.
var pickPort = FreePort

// Options say how to start a sidecar. Zero values get the defaults noted.
type Options struct {
	// AppID is --app-id; default "myapp" (the app id of the spec's
	// observed examples).
	AppID string
	// ResourcesDir is --resources-path; empty means the flag is not given.
	ResourcesDir string
	// DataDir is --data-dir; empty means a fresh tb.TempDir().
	DataDir string
	// ConfigFile is --config; empty means the flag is not given.
	ConfigFile string
	// ExtraArgs are appended to the command line as given.
	ExtraArgs []string
	// Env entries ("NAME=value") are appended to the test's environment.
	Env []string
	// NoWait makes Start return as soon as the process is started, without
	// waiting for readiness (for tests of failing starts; use Wait).
	NoWait bool
}

// Sidecar is one running statecar process.
type Sidecar struct {
	// Ports the sidecar listens on, all on 127.0.0.1; fixed for its life
	// (Invariant 3).
	HTTPPort, GRPCPort, MetricsPort int
	// AppID and DataDir as passed on the command line.
	AppID, DataDir string

	tb   testing.TB
	bin  string
	args []string
	env  []string

	// cmd, done, out and exitCode belong to the current process; replaced
	// by Restart (see the package doc for the calling rule).
	cmd      *exec.Cmd
	done     chan struct{} // closed when cmd.Wait returned
	exitCode int           // valid after done is closed
	out      *syncBuffer
	history  bytes.Buffer // output of earlier processes of this Sidecar
}

// syncBuffer collects process output written by exec's copying goroutines.
type syncBuffer struct {
	mu  sync.Mutex // guards buf
	buf bytes.Buffer
}

// Write appends p; called by exec's copying goroutines.
func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Start starts a statecar sidecar with explicit free HTTP, gRPC and metrics
// ports and waits until it is ready (Invariant 2). The process is killed at
// test cleanup; its output goes to the test log if the test failed.
func Start(tb testing.TB, o Options) *Sidecar {
	tb.Helper()
	bin := BuildBinary(tb)
	if o.AppID == "" {
		o.AppID = "myapp"
	}
	if o.DataDir == "" {
		o.DataDir = tb.TempDir()
	}
	s := &Sidecar{AppID: o.AppID, DataDir: o.DataDir, tb: tb, bin: bin}
	tb.Cleanup(func() {
		s.Kill()
		if tb.Failed() {
			tb.Logf("statecar %v output:\n%s%s", s.args, s.history.String(), s.out.String())
		}
	})
	for attempt := 1; ; attempt++ {
		s.HTTPPort, s.GRPCPort, s.MetricsPort = pickPort(), pickPort(), pickPort()
		s.setArgs(o)
		s.spawn()
		if o.NoWait {
			return s
		}
		err := s.waitReady()
		if err == nil {
			return s
		}
		// A port picked above may have been bound by another process
		// before the sidecar could: pick new ones.
		if exited, _ := s.Exited(); exited && attempt < portAttempts && portTaken(s.out.String()) {
			s.history.WriteString(s.out.String())
			s.history.WriteString("---- port taken, new ports ----\n")
			continue
		}
		tb.Fatal(err)
		return s
	}
}

// portAttempts bounds how many sets of ports Start tries.
const portAttempts = 5

// portTaken reports whether a sidecar's output says it could not bind a
// port (net's text, or server/h1's for gnet's listen failure).
func portTaken(out string) bool {
	return strings.Contains(out, "address already in use") || strings.Contains(out, "cannot listen on 127.0.0.1:")
}

// setArgs builds the command line from o and the chosen ports.
func (s *Sidecar) setArgs(o Options) {
	s.args = []string{
		"--app-id", o.AppID,
		"--dapr-http-port", strconv.Itoa(s.HTTPPort),
		"--dapr-grpc-port", strconv.Itoa(s.GRPCPort),
		"--metrics-port", strconv.Itoa(s.MetricsPort),
		"--dapr-listen-addresses", "127.0.0.1",
		"--metrics-listen-address", "127.0.0.1",
		"--data-dir", o.DataDir,
	}
	if o.ResourcesDir != "" {
		s.args = append(s.args, "--resources-path", o.ResourcesDir)
	}
	if o.ConfigFile != "" {
		s.args = append(s.args, "--config", o.ConfigFile)
	}
	s.args = append(s.args, o.ExtraArgs...)
	s.env = append(os.Environ(), o.Env...)
}

func (s *Sidecar) spawn() {
	s.tb.Helper()
	s.out = &syncBuffer{}
	cmd := exec.Command(s.bin, s.args...)
	cmd.Env = s.env
	cmd.Stdout = s.out
	cmd.Stderr = s.out
	if err := cmd.Start(); err != nil {
		s.tb.Fatalf("cannot start %s: %v", s.bin, err)
	}
	s.cmd = cmd
	s.done = make(chan struct{})
	go func() {
		err := cmd.Wait()
		code := 0
		if err != nil {
			code = -1
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			}
		}
		s.exitCode = code
		close(s.done)
	}()
}

// WaitReady polls GET /v1.0/healthz every 10 ms until it answers 204; it
// fails the test if the process exits first or 30 s pass.
func (s *Sidecar) WaitReady() {
	s.tb.Helper()
	if err := s.waitReady(); err != nil {
		s.tb.Fatal(err)
	}
}

// waitReady is WaitReady returning the failure instead of failing the test.
func (s *Sidecar) waitReady() error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(readyTimeout)
	url := s.URL("/v1.0/healthz")
	for {
		select {
		case <-s.done:
			return fmt.Errorf("statecar exited with code %d before becoming ready; output:\n%s", s.exitCode, s.out.String())
		default:
		}
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusNoContent {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("statecar not ready after %v (last: %v); output:\n%s", readyTimeout, err, s.out.String())
		}
		time.Sleep(readyPoll)
	}
}

// Addr returns "127.0.0.1:<http port>".
func (s *Sidecar) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.HTTPPort) }

// GRPCAddr returns "127.0.0.1:<grpc port>".
func (s *Sidecar) GRPCAddr() string { return "127.0.0.1:" + strconv.Itoa(s.GRPCPort) }

// URL returns the HTTP API URL of path (which must start with "/").
func (s *Sidecar) URL(path string) string { return "http://" + s.Addr() + path }

// MetricsURL returns the metrics endpoint URL.
func (s *Sidecar) MetricsURL() string {
	return "http://127.0.0.1:" + strconv.Itoa(s.MetricsPort) + "/metrics"
}

// Output returns what the current process has written to stdout and stderr
// so far.
func (s *Sidecar) Output() string { return s.out.String() }

// Exited reports whether the current process has exited, and its exit code.
func (s *Sidecar) Exited() (bool, int) {
	select {
	case <-s.done:
		return true, s.exitCode
	default:
		return false, 0
	}
}

// Wait waits up to d for the current process to exit and returns its exit
// code; it fails the test if the process is still running after d.
func (s *Sidecar) Wait(d time.Duration) int {
	s.tb.Helper()
	select {
	case <-s.done:
		return s.exitCode
	case <-time.After(d):
		s.tb.Fatalf("statecar still running after %v", d)
		return -1
	}
}

// Stop sends SIGTERM, waits for the process to exit and returns its exit
// code. If it has not exited after 20 s it is killed and the test fails.
// Stopping an exited process returns its exit code.
func (s *Sidecar) Stop() int {
	s.tb.Helper()
	if exited, code := s.Exited(); exited {
		return code
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
		return s.exitCode
	case <-time.After(stopTimeout):
		s.Kill()
		s.tb.Errorf("statecar did not exit within %v of SIGTERM", stopTimeout)
		return s.exitCode
	}
}

// Kill sends SIGKILL (a crash: nothing is flushed) and waits for the exit.
func (s *Sidecar) Kill() {
	if s.cmd == nil {
		return
	}
	if exited, _ := s.Exited(); exited {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
}

// Restart stops the process gracefully (SIGTERM) and starts it again with
// the same arguments, ports and data dir (Invariant 3), waiting until it is
// ready. It fails the test if the graceful stop does not exit with code 0.
func (s *Sidecar) Restart() {
	s.tb.Helper()
	if code := s.Stop(); code != 0 {
		s.tb.Errorf("statecar exited with code %d on SIGTERM, want 0", code)
	}
	s.relaunch()
}

// CrashRestart kills the process (SIGKILL) and starts it again like Restart.
func (s *Sidecar) CrashRestart() {
	s.tb.Helper()
	s.Kill()
	s.relaunch()
}

func (s *Sidecar) relaunch() {
	s.tb.Helper()
	s.history.WriteString(s.out.String())
	s.history.WriteString("---- restart ----\n")
	s.spawn()
	s.WaitReady()
}
