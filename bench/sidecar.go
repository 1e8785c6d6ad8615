package bench

import (
	"bufio"
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
	"syscall"
	"time"
)

// Readiness polling, as the Dapr launchers do it (process-contract.md).
const (
	readyPoll    = 10 * time.Millisecond
	readyTimeout = 30 * time.Second
	stopGrace    = 15 * time.Second
)

// Proc is one process started for a comparison: a sidecar or a
// redis-server. Its methods are called from one goroutine.
type Proc struct {
	Name      string
	LogPath   string        // stdout and stderr of the process
	Startup   time.Duration // from exec to the first healthy reply
	HTTPAddr  string        // sidecars: HTTP API address
	GRPCAddr  string        // sidecars: gRPC API address
	RedisAddr string        // redis-server: its address
	cmd       *exec.Cmd
	log       *os.File
	exited    chan struct{} // closed when the process has exited
	waitErr   error         // set before exited is closed
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("cannot find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// freePorts returns n distinct free ports.
func freePorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			_ = ln.Close()
		}
	}()
	ports := make([]int, n)
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("cannot find a free port: %w", err)
		}
		lns = append(lns, ln)
		ports[i] = ln.Addr().(*net.TCPAddr).Port
	}
	return ports, nil
}

// startProc starts bin with args, its output going to dir/name.log.
func startProc(name, dir, bin string, args []string, env []string) (*Proc, error) {
	logPath := filepath.Join(dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("cannot create log of %s: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Dir = dir
	if env != nil {
		cmd.Env = env
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("cannot start %s: %w", name, err)
	}
	p := &Proc{Name: name, LogPath: logPath, cmd: cmd, log: f, exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// Pid returns the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// waitReady polls probe every readyPoll until it succeeds, the process
// exits or readyTimeout passes; it sets p.Startup.
func (p *Proc) waitReady(start time.Time, probe func() bool) error {
	deadline := start.Add(readyTimeout)
	for {
		if probe() {
			p.Startup = time.Since(start)
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("cannot start %s: exited (%v) before it was ready; log %s:\n%s", p.Name, p.waitErr, p.LogPath, p.logTail())
		case <-time.After(readyPoll):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cannot start %s: not ready after %v; log %s:\n%s", p.Name, readyTimeout, p.LogPath, p.logTail())
		}
	}
}

// logTail returns the last lines of the process log.
func (p *Proc) logTail() string {
	b, _ := os.ReadFile(p.LogPath)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// Stop sends SIGTERM, waits up to stopGrace, then SIGKILLs (Invariant 5).
func (p *Proc) Stop() error {
	if p == nil {
		return nil
	}
	defer p.log.Close()
	select {
	case <-p.exited:
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return nil
	case <-time.After(stopGrace):
		_ = p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("cannot stop %s: killed after %v", p.Name, stopGrace)
	}
}

// healthzProbe returns a probe that is true once GET /v1.0/healthz
// answers 204.
func healthzProbe(addr string) func() bool {
	c := &http.Client{Timeout: 500 * time.Millisecond}
	return func() bool {
		resp, err := c.Get("http://" + addr + "/v1.0/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusNoContent
	}
}

// redisProbe returns a probe that is true once PING answers +PONG.
func redisProbe(addr string) func() bool {
	return func() bool {
		c, err := net.DialTimeout("tcp", addr, 500*time.Millisecond)
		if err != nil {
			return false
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(500 * time.Millisecond))
		if _, err := c.Write([]byte("PING\r\n")); err != nil {
			return false
		}
		line, err := bufio.NewReader(c).ReadString('\n')
		return err == nil && strings.HasPrefix(line, "+PONG")
	}
}

// StartRedis starts redis-server on a free loopback port with persistence
// off (--save ” --appendonly no) and waits for PING.
func StartRedis(name, dir string) (*Proc, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	p, err := startProc(name, dir, "redis-server", []string{
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--daemonize", "no", "--dir", dir, "--protected-mode", "no",
	}, nil)
	if err != nil {
		return nil, err
	}
	p.RedisAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	if err := p.waitReady(start, redisProbe(p.RedisAddr)); err != nil {
		_ = p.Stop()
		return nil, err
	}
	return p, nil
}

// SidecarSpec says how to start a daprd-compatible sidecar.
type SidecarSpec struct {
	Name      string            // label and log name, e.g. "statecar"
	Bin       string            // path of the binary
	Dir       string            // working directory: logs, resources, data
	StoreType string            // component type of "statestore"; "" = none (statecar's embedded default)
	StoreMeta map[string]string // component metadata
	Statecar  bool              // pass statecar's --data-dir
	ExtraArgs []string
}

// componentYAML renders a Component named statestore.
func componentYAML(typ string, meta map[string]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: statestore\nspec:\n  type: %s\n  version: v1\n  metadata:\n", typ)
	if len(meta) == 0 {
		b.WriteString("  []\n")
	}
	for k, v := range meta {
		fmt.Fprintf(&b, "  - name: %s\n    value: %q\n", k, v)
	}
	return b.String()
}

// StartSidecar starts a sidecar on free loopback ports with its own
// resources folder (and data dir for statecar) under spec.Dir, and waits
// until GET /v1.0/healthz answers 204.
func StartSidecar(spec SidecarSpec) (*Proc, error) {
	res := filepath.Join(spec.Dir, "resources-"+spec.Name)
	if err := os.MkdirAll(res, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create resources folder: %w", err)
	}
	if spec.StoreType != "" {
		if err := os.WriteFile(filepath.Join(res, "statestore.yaml"), []byte(componentYAML(spec.StoreType, spec.StoreMeta)), 0o644); err != nil {
			return nil, fmt.Errorf("cannot write component: %w", err)
		}
	}
	ports, err := freePorts(5)
	if err != nil {
		return nil, err
	}
	args := []string{
		"--app-id", "bench",
		"--dapr-http-port", strconv.Itoa(ports[0]),
		"--dapr-grpc-port", strconv.Itoa(ports[1]),
		"--metrics-port", strconv.Itoa(ports[2]),
		"--dapr-internal-grpc-port", strconv.Itoa(ports[3]),
		"--profile-port", strconv.Itoa(ports[4]),
		"--dapr-listen-addresses", "127.0.0.1",
		"--resources-path", res,
		"--log-level", "warn",
	}
	if spec.Statecar {
		data := filepath.Join(spec.Dir, "data-"+spec.Name)
		args = append(args, "--data-dir", data)
	} else {
		args = append(args, "--placement-host-address", "", "--scheduler-host-address", "")
	}
	args = append(args, spec.ExtraArgs...)
	start := time.Now()
	p, err := startProc(spec.Name, spec.Dir, spec.Bin, args, nil)
	if err != nil {
		return nil, err
	}
	p.HTTPAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))
	p.GRPCAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1]))
	if err := p.waitReady(start, healthzProbe(p.HTTPAddr)); err != nil {
		_ = p.Stop()
		return nil, err
	}
	return p, nil
}

// BuildStatecar builds ./cmd/statecar (run from the module root) into dir.
func BuildStatecar(dir string) (string, error) {
	out := filepath.Join(dir, "statecar")
	cmd := exec.Command("go", "build", "-o", out, "./cmd/statecar")
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("cannot build statecar: %w\n%s", err, buf.String())
	}
	return out, nil
}

// RedisCommand returns the redis-benchmark arguments that do the raw-KV
// equivalent of op: GET, SET, MSET or MGET of batch keys, DEL. The second
// result is false when redis has no equivalent (query).
func RedisCommand(op Op, batch, size int) ([]string, bool) {
	val := strings.Repeat("x", max(size, 1))
	switch op {
	case OpGet:
		return []string{"-t", "get"}, true
	case OpSave:
		return []string{"-t", "set"}, true
	case OpMSave, OpTx:
		cmd := []string{"MSET"}
		for range max(batch, 1) {
			cmd = append(cmd, "key:__rand_int__", val)
		}
		return cmd, true
	case OpBulk:
		cmd := []string{"MGET"}
		for range max(batch, 1) {
			cmd = append(cmd, "key:__rand_int__")
		}
		return cmd, true
	case OpDelete:
		return []string{"DEL", "key:__rand_int__"}, true
	}
	return nil, false
}

// RedisBenchmark runs redis-benchmark against addr with the command of
// RedisCommand(op, batch, size) and returns its figures as a Result (Proto
// "redis-benchmark"); n is the number of requests.
func RedisBenchmark(addr string, op Op, batch, conns, size int, keys uint64, n int) (*Result, error) {
	command, ok := RedisCommand(op, batch, size)
	if !ok {
		return nil, fmt.Errorf("cannot benchmark redis: no equivalent of %v", op)
	}
	host, port, _ := net.SplitHostPort(addr)
	args := []string{"-h", host, "-p", port, "-c", strconv.Itoa(conns), "-n", strconv.Itoa(n),
		"-d", strconv.Itoa(max(size, 1)), "-r", strconv.FormatUint(keys, 10), "--csv", "-q"}
	args = append(args, command...)
	start := time.Now()
	out, err := exec.Command("redis-benchmark", args...).Output()
	elapsed := time.Since(start)
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return nil, fmt.Errorf("cannot run redis-benchmark: %w: %s", err, ee.Stderr)
		}
		return nil, fmt.Errorf("cannot run redis-benchmark: %w", err)
	}
	r, err := parseRedisCSV(out)
	if err != nil {
		return nil, err
	}
	r.Workload = op.String()
	r.Target, r.Proto, r.Conns, r.ValueSize, r.Keys, r.Dist, r.Batch = addr, "redis-benchmark", conns, size, keys, "uniform", batch
	r.Requests = int64(n)
	r.Duration = elapsed.Seconds()
	r.Host = ThisHost()
	r.Started = start
	r.Status = map[string]int64{}
	return r, nil
}

// parseRedisCSV reads the first data row of redis-benchmark --csv output:
// "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms",
// "p95_latency_ms","p99_latency_ms","max_latency_ms".
func parseRedisCSV(out []byte) (*Result, error) {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var header []string
	for _, line := range lines {
		f := strings.Split(strings.TrimSpace(line), ",")
		for i := range f {
			f[i] = strings.Trim(f[i], `"`)
		}
		if len(f) < 2 {
			continue
		}
		if f[0] == "test" {
			header = f
			continue
		}
		if header == nil {
			continue
		}
		r := &Result{Workload: strings.ToLower(f[0])}
		for i := 1; i < len(f) && i < len(header); i++ {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("cannot parse redis-benchmark output %q: %w", line, err)
			}
			us := v * 1000
			switch header[i] {
			case "rps":
				r.Throughput = v
			case "avg_latency_ms":
				r.Latency.Mean = us
			case "min_latency_ms":
				r.Latency.Min = us
			case "p50_latency_ms":
				r.Latency.P50 = us
			case "p95_latency_ms":
				r.Latency.P90 = us // closest figure redis-benchmark reports; see Note
			case "p99_latency_ms":
				r.Latency.P99 = us
			case "max_latency_ms":
				r.Latency.Max = us
			}
		}
		r.Note = "redis-benchmark figures: p90 column holds its p95; no p99.9"
		return r, nil
	}
	return nil, fmt.Errorf("cannot parse redis-benchmark output: no data row in %q", out)
}
