package torture

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"time"
)

// Process is a statecar process started from a binary, for the torture
// tool (tests use internal/testutil). It implements Target. Methods must be
// called from one goroutine.
type Process struct {
	// Bin is the statecar binary; DataDir its --data-dir.
	Bin, DataDir string
	// Args are extra arguments appended to the command line.
	Args []string
	// Log receives the process's stdout and stderr (nil: discarded).
	Log *os.File
	// ReadyTimeout bounds the wait for healthz (default 60s).
	ReadyTimeout time.Duration

	// HTTPPort, GRPCPort, MetricsPort are chosen by Start and kept across
	// restarts.
	HTTPPort, GRPCPort, MetricsPort int

	cmd  *exec.Cmd
	done chan struct{} // closed when cmd.Wait returned
	err  error         // cmd.Wait's result, valid after done
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("cannot find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Start picks ports, starts the process and waits until it is healthy.
func (p *Process) Start() (time.Duration, error) {
	for _, port := range []*int{&p.HTTPPort, &p.GRPCPort, &p.MetricsPort} {
		if *port != 0 {
			continue
		}
		n, err := FreePort()
		if err != nil {
			return 0, err
		}
		*port = n
	}
	return p.Restart()
}

// BaseURL implements Target.
func (p *Process) BaseURL() string { return "http://127.0.0.1:" + strconv.Itoa(p.HTTPPort) }

// Pid returns the current process id (0 when none runs).
func (p *Process) Pid() int {
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Spawn starts the process without waiting for readiness.
func (p *Process) Spawn() error {
	args := []string{
		"--app-id", "torture",
		"--dapr-http-port", strconv.Itoa(p.HTTPPort),
		"--dapr-grpc-port", strconv.Itoa(p.GRPCPort),
		"--metrics-port", strconv.Itoa(p.MetricsPort),
		"--dapr-listen-addresses", "127.0.0.1",
		"--metrics-listen-address", "127.0.0.1",
		"--data-dir", p.DataDir,
	}
	args = append(args, p.Args...)
	cmd := exec.Command(p.Bin, args...)
	if p.Log != nil {
		cmd.Stdout, cmd.Stderr = p.Log, p.Log
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("cannot start %s: %w", p.Bin, err)
	}
	p.cmd = cmd
	p.done = make(chan struct{})
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return nil
}

// Exited reports whether the current process has exited, with its error.
func (p *Process) Exited() (bool, error) {
	if p.done == nil {
		return true, nil
	}
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// Wait waits up to d for the process to exit and returns its exit code.
func (p *Process) Wait(d time.Duration) (int, error) {
	select {
	case <-p.done:
	case <-time.After(d):
		return 0, fmt.Errorf("process still running after %v", d)
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode(), nil
	}
	if p.err != nil {
		return -1, p.err
	}
	return 0, nil
}

// Restart implements Target: spawn on the same data and ports, then poll
// healthz every 5 ms.
func (p *Process) Restart() (time.Duration, error) {
	t0 := time.Now()
	if err := p.Spawn(); err != nil {
		return 0, err
	}
	timeout := p.ReadyTimeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	c := newClient(p.BaseURL(), "", 1)
	defer c.close()
	for {
		if exited, err := p.Exited(); exited {
			return 0, fmt.Errorf("statecar exited before becoming healthy: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		ok := c.healthy(ctx)
		cancel()
		if ok {
			return time.Since(t0), nil
		}
		if time.Since(t0) > timeout {
			_ = p.Kill()
			return 0, fmt.Errorf("statecar not healthy after %v", timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Kill implements Target (SIGKILL, then wait).
func (p *Process) Kill() error {
	if exited, _ := p.Exited(); exited {
		return nil
	}
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("cannot kill: %w", err)
	}
	<-p.done
	return nil
}

// Stop sends SIGTERM and waits up to d for a graceful exit.
func (p *Process) Stop(d time.Duration) (int, error) {
	if exited, _ := p.Exited(); !exited {
		_ = p.cmd.Process.Signal(os.Interrupt)
	}
	return p.Wait(d)
}

// PebbleComponent returns the Component YAML of a state.pebble store named
// "statestore" with the given durability ("sync" or "relaxed"); its data
// lives in <--data-dir>/statestore like the default store's.
func PebbleComponent(durability string) string {
	return "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: statestore\nspec:\n  type: state.pebble\n  version: v1\n  metadata:\n  - name: durability\n    value: " + durability + "\n"
}
