package h1

import (
	"bufio"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// TestSpinWorkerServes runs blocking requests through a server whose
// workers spin: one connection at a time (where the spinner takes nearly
// every request) and many at once; every response must be right, and the
// spinner must have taken some requests.
func TestSpinWorkerServes(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.SpinWorker = MaxSpinWorker })
	if ts.cfg.SpinWorker != MaxSpinWorker || ts.spin.Hits == nil {
		t.Fatalf("SpinWorker = %v, counters %v", ts.cfg.SpinWorker, ts.spin.Hits)
	}
	hits0 := ts.spin.Hits.Get()
	c := dial(t, ts.addr)
	br := bufio.NewReader(c)
	for i := 0; i < scale(200); i++ {
		body := fmt.Sprintf("one-%d", i)
		fmt.Fprintf(c, "POST /becho HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		resp, got := readResp(t, br, "POST")
		if resp.StatusCode != 200 || got != "B:"+body {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, got)
		}
	}
	if ts.spin.Hits.Get() == hits0 {
		t.Fatal("200 sequential blocking requests, none taken by the spinning worker")
	}

	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			c := dial(t, ts.addr)
			br := bufio.NewReader(c)
			for i := 0; i < scale(50); i++ {
				body := fmt.Sprintf("g%d-%d", g, i)
				// Pipelined pairs too: the second waits for the first task.
				fmt.Fprintf(c, "POST /becho HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
				fmt.Fprintf(c, "POST /becho HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s!", len(body)+1, body)
				for _, want := range []string{"B:" + body, "B:" + body + "!"} {
					resp, got := readResp(t, br, "POST")
					if resp.StatusCode != 200 || got != want {
						errs <- fmt.Errorf("g%d request %d: %d %q, want %q", g, i, resp.StatusCode, got, want)
						return
					}
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestSpinWorkerOffByDefault: without SpinWorker no worker spins and no
// counter is registered for the server.
func TestSpinWorkerOffByDefault(t *testing.T) {
	ts := startServer(t, nil)
	c := dial(t, ts.addr)
	br := bufio.NewReader(c)
	for i := 0; i < 20; i++ {
		fmt.Fprintf(c, "POST /becho HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
		if resp, got := readResp(t, br, "POST"); resp.StatusCode != 200 || !strings.HasPrefix(got, "B:hi") {
			t.Fatalf("%d %q", resp.StatusCode, got)
		}
		if ts.spin.Spinning() {
			t.Fatal("a worker spins with SpinWorker 0")
		}
	}
	if ts.spin.Hits != nil || ts.spin.Tries() != 0 {
		t.Fatal("spin slot used with SpinWorker 0")
	}
}
