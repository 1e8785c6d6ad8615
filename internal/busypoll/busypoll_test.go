package busypoll

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

var testCtr = NewCounters("test")

// pollPair returns a Conn dialled to a loopback listener and the server's
// end of it.
func pollPair(t *testing.T, budget time.Duration) (*Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	acc := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(acc)
			return
		}
		acc <- c
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	srv, ok := <-acc
	if !ok {
		t.Fatal("accept failed")
	}
	pc, ok := Wrap(raw, budget, testCtr).(*Conn)
	if !ok {
		t.Fatal("Wrap did not wrap a TCP connection")
	}
	t.Cleanup(func() { pc.Close(); srv.Close() })
	return pc, srv
}

func readN(t *testing.T, c net.Conn, n int) string {
	t.Helper()
	buf := make([]byte, n)
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatal(err)
	}
	return string(buf)
}

// TestPollConnHitMissEOF: a reply already there is read by the spin (a
// hit), one that comes after the budget by the blocking read (a miss), and
// the end of the stream still reads as io.EOF; the spinner slot is free
// after every read.
func TestPollConnHitMissEOF(t *testing.T) {
	c, srv := pollPair(t, 100*time.Microsecond)
	hits0, misses0 := testCtr.Hits.Get(), testCtr.Misses.Get()

	if _, err := srv.Write([]byte("+OK\r\n")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // the bytes are in the socket before Read
	if got := readN(t, c, 5); got != "+OK\r\n" {
		t.Fatalf("read %q", got)
	}
	if c.score != 1 || testCtr.Hits.Get() != hits0+1 {
		t.Fatalf("after a hit: score %d, hits +%d", c.score, testCtr.Hits.Get()-hits0)
	}
	if spinners.Load() != 0 {
		t.Fatal("spinner slot still taken")
	}

	go func() {
		time.Sleep(300 * time.Millisecond) // far past the budget
		srv.Write([]byte("$3\r\nabc\r\n"))
	}()
	if got := readN(t, c, 9); got != "$3\r\nabc\r\n" {
		t.Fatalf("read %q", got)
	}
	if c.score != 0 || testCtr.Misses.Get() != misses0+1 {
		t.Fatalf("after a miss: score %d, misses +%d", c.score, testCtr.Misses.Get()-misses0)
	}

	srv.Close()
	n, err := c.Read(make([]byte, 8))
	if n != 0 || !errors.Is(err, io.EOF) {
		t.Fatalf("after close: %d, %v; want 0, EOF", n, err)
	}
	if spinners.Load() != 0 {
		t.Fatal("spinner slot still taken")
	}
}

// TestPollConnDeadline: go-redis's read timeout still applies.
func TestPollConnDeadline(t *testing.T) {
	c, _ := pollPair(t, 100*time.Microsecond)
	if err := c.SetReadDeadline(time.Now().Add(20 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	_, err := c.Read(make([]byte, 8))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the deadline: %v, want a timeout", err)
	}
}

// TestPollConnStopsSpinningWhenUseless: after maxScore-minScore
// straight misses a connection reads without spinning, except for one probe
// every probe reads; a hit on a probe brings the spin back.
func TestPollConnStopsSpinningWhenUseless(t *testing.T) {
	c, srv := pollPair(t, 50*time.Microsecond)
	late := func() string {
		go func() {
			time.Sleep(5 * time.Millisecond)
			srv.Write([]byte("x"))
		}()
		return readN(t, c, 1)
	}
	for c.score > minScore {
		late()
	}
	spins0 := testCtr.Hits.Get() + testCtr.Misses.Get()
	// Reads up to the next probe do not spin.
	for (c.reads+1)%probe != 0 {
		late()
	}
	if d := testCtr.Hits.Get() + testCtr.Misses.Get() - spins0; d != 0 {
		t.Fatalf("%d spins while the score was at the floor", d)
	}
	// The probe spins; its reply is already there, so it hits.
	srv.Write([]byte("y"))
	time.Sleep(20 * time.Millisecond)
	if got := readN(t, c, 1); got != "y" {
		t.Fatalf("probe read %q", got)
	}
	if c.score != minScore+1 {
		t.Fatalf("score after a probe hit %d, want %d", c.score, minScore+1)
	}
}

// TestPollConnOneSpinner: while one read spins, another connection's read
// goes straight to the blocking path.
func TestPollConnOneSpinner(t *testing.T) {
	c, srv := pollPair(t, 100*time.Microsecond)
	if !spinners.CompareAndSwap(0, 1) {
		t.Fatal("spinner slot taken before the test")
	}
	srv.Write([]byte("z"))
	time.Sleep(20 * time.Millisecond)
	h, m := testCtr.Hits.Get(), testCtr.Misses.Get()
	if got := readN(t, c, 1); got != "z" {
		t.Fatalf("read %q", got)
	}
	spinners.Store(0)
	if testCtr.Hits.Get() != h || testCtr.Misses.Get() != m || c.score != 0 {
		t.Fatal("a read spun while another goroutine held the spinner slot")
	}
}

// TestPollConnSpinAllocs: the spin loop allocates nothing, however many
// times it polls.
func TestPollConnSpinAllocs(t *testing.T) {
	c, srv := pollPair(t, 20*time.Microsecond)
	buf := make([]byte, 1)
	srv.Write([]byte("a"))
	time.Sleep(10 * time.Millisecond)
	allocs := testing.AllocsPerRun(50, func() {
		if n, ok := c.spin(buf); ok || n != 0 {
			return // the first run reads the byte
		}
	})
	if allocs != 0 {
		t.Fatalf("spin allocates %.1f times per call", allocs)
	}
}

// TestWrapLeavesOthers: a zero budget or a non-TCP connection is returned
// as it is.
func TestWrapLeavesOthers(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if Wrap(a, DefaultBudget, testCtr) != a {
		t.Fatal("a pipe was wrapped")
	}
	c, _ := pollPair(t, time.Millisecond)
	if Wrap(c.TCPConn, 0, testCtr) != net.Conn(c.TCPConn) {
		t.Fatal("a zero budget wrapped the connection")
	}
}
