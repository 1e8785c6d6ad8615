package overload

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/statecar/statecar/internal/testutil"
	"github.com/statecar/statecar/tests/torture"
)

var long = flag.Bool("long", false, "long overload variants (5000 connections, 60 s)")

// startProcess starts the binary (internal/testutil's build) on a fresh
// data dir and returns it; it is killed at cleanup.
func startProcess(t *testing.T, extra ...string) *torture.Process {
	t.Helper()
	logf, err := os.Create(filepath.Join(t.TempDir(), "statecar.log"))
	if err != nil {
		t.Fatal(err)
	}
	p := &torture.Process{Bin: testutil.BuildBinary(t), DataDir: t.TempDir(), Log: logf, Args: extra}
	if _, err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = p.Kill()
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			if len(b) > 8000 {
				b = b[len(b)-8000:]
			}
			t.Logf("statecar log (tail):\n%s", b)
		}
	})
	return p
}

// procStatus returns a field of /proc/<pid>/status in KiB.
func procStatus(pid int, field string) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, field+":") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				n, _ := strconv.ParseInt(f[1], 10, 64)
				return n
			}
		}
	}
	return -1
}

func fdCount(pid int) int {
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

// latencies collects durations from several goroutines.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) { l.mu.Lock(); l.d = append(l.d, d); l.mu.Unlock() }

func (l *latencies) pct(p float64) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 {
		return 0
	}
	s := slices.Clone(l.d)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

func (l *latencies) n() int { l.mu.Lock(); defer l.mu.Unlock(); return len(l.d) }

// goodClient saves and reads its own key in a loop until stop, recording
// latencies and counting failures.
func goodClient(base string, stop <-chan struct{}, lat *latencies, fails *atomic.Int64, failMsg *atomic.Value) {
	hc := &http.Client{Timeout: 30 * time.Second}
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		body := `[{"key":"good","value":` + strconv.Itoa(i) + `}]`
		t0 := time.Now()
		resp, err := hc.Post(base+"/v1.0/state/statestore", "application/json", strings.NewReader(body))
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 204 {
				err = fmt.Errorf("save: status %d", resp.StatusCode)
			}
		}
		if err == nil {
			lat.add(time.Since(t0))
			t0 = time.Now()
			resp, err = hc.Get(base + "/v1.0/state/statestore/good")
			if err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || string(b) != strconv.Itoa(i) {
					err = fmt.Errorf("get: status %d body %q, want %d", resp.StatusCode, b, i)
				}
			}
			if err == nil {
				lat.add(time.Since(t0))
			}
		}
		if err != nil {
			fails.Add(1)
			failMsg.Store(err.Error())
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// statusOf reads one response's status code from r.
func statusOf(r *bufio.Reader) (int, string, error) {
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		return 0, "", err
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	return resp.StatusCode, string(b), nil
}

// TestHostileClients runs every attack at once against one process while a
// well-behaved client is served (invariants in doc.go).
func TestHostileClients(t *testing.T) {
	conns, dur := 1000, 3*time.Second
	if *long {
		conns, dur = 5000, 60*time.Second // headroom under h1's 10000-connection cap for the churning attackers
	}
	p := startProcess(t)
	addr := "127.0.0.1:" + strconv.Itoa(p.HTTPPort)
	base := "http://" + addr
	pid := p.Pid()
	if resp, err := http.Post(base+"/v1.0/state/statestore", "application/json", strings.NewReader(`[{"key":"pipe","value":1}]`)); err != nil || resp.StatusCode != 204 {
		t.Fatalf("cannot save the pipelined key: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	fd0 := fdCount(pid)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var peakRSS atomic.Int64
	var mu sync.Mutex
	var problems []string
	problem := func(format string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(problems) < 30 {
			problems = append(problems, fmt.Sprintf(format, a...))
		}
	}
	stopped := func() bool {
		select {
		case <-stop:
			return true
		default:
			return false
		}
	}

	// RSS sampler.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stopped() {
			if r := procStatus(pid, "VmRSS"); r > peakRSS.Load() {
				peakRSS.Store(r)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()

	// Idle connections.
	var held []net.Conn
	var heldMu sync.Mutex
	opened := make(chan struct{}) // closed when the opener is done
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(opened)
		for i := 0; i < conns && !stopped(); i++ {
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				problem("idle connection %d: %v", i, err)
				return
			}
			heldMu.Lock()
			held = append(held, c)
			heldMu.Unlock()
		}
	}()

	// Slowloris heads and bodies.
	var slowClosed atomic.Int64
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				problem("slowloris dial: %v", err)
				return
			}
			defer c.Close()
			if i%2 == 0 {
				_, err = io.WriteString(c, "GET /v1.0/healthz HTTP/1.1\r\nHost: x\r\n")
			} else {
				_, err = io.WriteString(c, "POST /v1.0/state/statestore HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n[")
			}
			for err == nil && !stopped() {
				time.Sleep(200 * time.Millisecond)
				if i%2 == 0 {
					_, err = io.WriteString(c, "X-Slow: a\r\n")
				} else {
					_, err = io.WriteString(c, " ")
				}
			}
			if err != nil {
				slowClosed.Add(1)
			}
		}()
	}

	// Huge heads: 431.
	var hugeHeads, hugeBodies atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		big := strings.Repeat("a", 2<<20)
		for !stopped() {
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				problem("huge head dial: %v", err)
				return
			}
			c.SetDeadline(time.Now().Add(20 * time.Second))
			go io.WriteString(c, "GET /v1.0/healthz HTTP/1.1\r\nHost: x\r\nX-Big: "+big+"\r\n\r\n")
			st, _, err := statusOf(bufio.NewReader(c))
			c.Close()
			if err != nil || st != 431 {
				problem("huge head: status %d err %v, want 431", st, err)
			}
			hugeHeads.Add(1)
			time.Sleep(50 * time.Millisecond)
		}
	}()

	// Huge bodies: over --max-body-size (4Mi) -> 400 ERR_MALFORMED_REQUEST.
	wg.Add(1)
	go func() {
		defer wg.Done()
		body := `[{"key":"huge","value":"` + strings.Repeat("b", 5<<20) + `"}]`
		for !stopped() {
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				problem("huge body dial: %v", err)
				return
			}
			c.SetDeadline(time.Now().Add(20 * time.Second))
			go io.WriteString(c, "POST /v1.0/state/statestore HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"+body)
			st, b, err := statusOf(bufio.NewReader(c))
			c.Close()
			if err != nil || st != 400 || !strings.Contains(b, "ERR_MALFORMED_REQUEST") {
				problem("huge body: status %d body %.200s err %v, want 400 ERR_MALFORMED_REQUEST", st, b, err)
			}
			hugeBodies.Add(1)
			time.Sleep(100 * time.Millisecond)
		}
	}()

	// Pipelined floods.
	var piped atomic.Int64
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			const n = 1000 // alternating: GET pipe (200 "1"), GET healthz (204)
			all := strings.Repeat("GET /v1.0/state/statestore/pipe HTTP/1.1\r\nHost: x\r\n\r\nGET /v1.0/healthz HTTP/1.1\r\nHost: x\r\n\r\n", n/2)
			for !stopped() {
				c, err := net.DialTimeout("tcp", addr, 5*time.Second)
				if err != nil {
					problem("pipeline dial: %v", err)
					return
				}
				c.SetDeadline(time.Now().Add(30 * time.Second))
				go io.WriteString(c, all)
				r := bufio.NewReader(c)
				for i := range n {
					st, body, err := statusOf(r)
					ok := err == nil && (i%2 == 0 && st == 200 && body == "1" || i%2 == 1 && st == 204)
					if !ok {
						problem("pipelined request %d: status %d body %.50q err %v (out of order or failed)", i, st, body, err)
						break
					}
					piped.Add(1)
				}
				c.Close()
			}
		}()
	}

	// Vanishing clients.
	var vanished atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; !stopped(); i++ {
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				problem("vanish dial: %v", err)
				return
			}
			switch i % 3 {
			case 0:
				io.WriteString(c, "POST /v1.0/state/statestore HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n[{\"key\":")
			case 1:
				io.WriteString(c, "POST /v1.0/state/statestore HTTP/1.1\r\nHost: x\r\nContent-Length: 25\r\n\r\n[{\"key\":\"v\",\"value\":1}]")
			case 2:
				io.WriteString(c, "GET /v1.0/state/statestore/good HTTP/1.1\r\nHost: x\r\n\r\n")
				c.(*net.TCPConn).SetLinger(0) // RST
			}
			c.Close()
			vanished.Add(1)
		}
	}()

	// The well-behaved client.
	var lat latencies
	var fails atomic.Int64
	var failMsg atomic.Value
	wg.Add(1)
	go func() { defer wg.Done(); goodClient(base, stop, &lat, &fails, &failMsg) }()

	time.Sleep(dur)
	// The attack lasts at least dur and until every idle connection is
	// open: on two loaded cores (the race detector, CI) the test's own
	// sequential dialling can take longer than dur, which says nothing of
	// the server (CI once counted 713 of 1000 at 3 s).
	select {
	case <-opened:
	case <-time.After(60 * time.Second):
	}
	heldMu.Lock()
	nHeld := len(held)
	heldMu.Unlock()
	fdPeak := fdCount(pid)
	close(stop)
	wg.Wait()
	for _, c := range held {
		c.Close()
	}

	if exited, err := p.Exited(); exited {
		t.Fatalf("statecar exited under attack: %v", err)
	}
	hwm := procStatus(pid, "VmHWM")
	t.Logf("%v: %d idle conns held, %d slowloris (%d closed by the server), %d huge heads, %d huge bodies, %d pipelined answers, %d vanishing clients",
		dur, nHeld, 40, slowClosed.Load(), hugeHeads.Load(), hugeBodies.Load(), piped.Load(), vanished.Load())
	t.Logf("well-behaved client: %d requests, p50 %v p99 %v max %v, %d failures; peak RSS %d KiB (VmHWM %d KiB); fds %d -> %d",
		lat.n(), lat.pct(0.5), lat.pct(0.99), lat.pct(1), fails.Load(), peakRSS.Load(), hwm, fd0, fdPeak)
	for _, pr := range problems {
		t.Error(pr)
	}
	if fails.Load() > 0 {
		t.Errorf("well-behaved client failed %d times; last: %v", fails.Load(), failMsg.Load())
	}
	if lat.n() == 0 {
		t.Error("well-behaved client was never served")
	}
	if nHeld < conns {
		t.Errorf("held %d idle connections, want %d", nHeld, conns)
	}
	if hwm > 1<<20 {
		t.Errorf("peak RSS %d KiB over 1 GiB", hwm)
	}
	// Healthy afterwards, and the hostile connections' fds are released.
	resp, err := http.Get(base + "/v1.0/healthz")
	if err != nil || resp.StatusCode != 204 {
		t.Fatalf("healthz after the attack: %v %v", resp, err)
	}
	resp.Body.Close()
	deadline := time.Now().Add(30 * time.Second)
	for fdCount(pid) > fd0+50 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if n := fdCount(pid); n > fd0+50 {
		t.Errorf("open fds %d, baseline %d: hostile connections not released", n, fd0)
	}

}
