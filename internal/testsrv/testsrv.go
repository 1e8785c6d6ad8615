package testsrv

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ErrMissingBinary is wrapped by the Start functions when a server binary is
// not installed.
var ErrMissingBinary = errors.New("testsrv: server binary not installed")

// startTimeout bounds how long a server may take to become ready.
const startTimeout = 60 * time.Second

// Require handles the error of StartRedis/StartPostgres in a test: nil does
// nothing; a missing binary skips the test with a clear message unless the
// environment variable CI is set, in which case it (like any other error)
// fails the test.
func Require(t testing.TB, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if errors.Is(err, ErrMissingBinary) && os.Getenv("CI") == "" {
		t.Skipf("skipping: %v (install redis-server and postgresql-15; with CI set this is a failure)", err)
	}
	t.Fatalf("cannot start test server: %v", err)
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("cannot find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// findBinary returns the first existing path among candidates, else an error
// wrapping ErrMissingBinary.
func findBinary(name string, candidates ...string) (string, error) {
	for _, c := range candidates {
		if st, err := os.Stat(c); err == nil && !st.IsDir() {
			return c, nil
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%w: %s (looked in %v and $PATH)", ErrMissingBinary, name, candidates)
}

// waitReady calls probe until it succeeds, the process exits, or the timeout
// passes.
func waitReady(what string, p *proc, logPath string, probe func() error) error {
	deadline := time.Now().Add(startTimeout)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			log := tail(logPath)
			// Only this process's lines count: the log of an earlier
			// attempt or run in the same directory may hold the text.
			if strings.Contains(tailFrom(logPath, p.logStart), "Address already in use") {
				return fmt.Errorf("cannot start %s: %w; log:\n%s", what, errPortTaken, log)
			}
			return fmt.Errorf("cannot start %s: process exited early; log:\n%s", what, log)
		default:
		}
		if last = probe(); last == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("cannot start %s: not ready after %v: %v; log:\n%s", what, startTimeout, last, tail(logPath))
}

// tail returns the last few KiB of a log file, for error messages.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	return string(b)
}

// proc is a running server process and the channel closed when it exits.
type proc struct {
	cmd      *exec.Cmd
	exited   chan struct{}
	logStart int64 // size of the log file before this process started
}

// tailFrom returns what a log file holds after offset (at most 64 KiB).
func tailFrom(path string, offset int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	b := make([]byte, 64<<10)
	n, _ := f.ReadAt(b, offset)
	return string(b[:n])
}

func startProc(cmd *exec.Cmd, logPath string) (*proc, error) {
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("cannot open log: %w", err)
	}
	var logStart int64
	if st, err := lf.Stat(); err == nil {
		logStart = st.Size()
	}
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("cannot start %s: %w", filepath.Base(cmd.Path), err)
	}
	p := &proc{cmd: cmd, exited: make(chan struct{}), logStart: logStart}
	go func() {
		_ = cmd.Wait()
		lf.Close()
		close(p.exited)
	}()
	return p, nil
}

// stop sends sig and waits for the process to exit (SIGKILL after 30s).
func (p *proc) stop(sig os.Signal) {
	if p == nil {
		return
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// pickPort chooses the port of a new server; tests replace it to hand out a
// port that is already taken.
var pickPort = freePort

// portAttempts bounds how many ports a Start function tries when another
// process binds the picked port before the server does.
const portAttempts = 5

// errPortTaken is wrapped by waitReady when the server exited because its
// port was taken between pickPort and its bind; the caller picks another.
var errPortTaken = errors.New("port taken by another process")
