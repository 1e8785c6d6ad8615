package redis

import (
	"net"
	"testing"
	"time"

	"github.com/statecar/statecar/component"
	"github.com/statecar/statecar/internal/busypoll"
)

// TestPollDialer: the store's dialer hands go-redis busy-polling
// connections.
func TestPollDialer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Write([]byte("+PONG\r\n"))
			defer c.Close()
			time.Sleep(time.Second)
		}
	}()
	c, err := pollDialer(time.Second, 100*time.Microsecond, nil)(t.Context(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, ok := c.(*busypoll.Conn); !ok {
		t.Fatalf("dialer returned %T, want *busypoll.Conn", c)
	}
	buf := make([]byte, 7)
	if n, err := c.Read(buf); err != nil || string(buf[:n]) != "+PONG\r\n" {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
}

func TestBusyPollMetadata(t *testing.T) {
	for _, tc := range []struct {
		v    string
		want time.Duration
		bad  bool
	}{
		{"", busypoll.DefaultBudget, false},
		{"0", 0, false},
		{"50us", 50 * time.Microsecond, false},
		{"1", time.Millisecond, false}, // a bare integer is milliseconds, like the other durations
		{"1h", 0, true},
		{"-1us", 0, true},
		{"soon", 0, true},
	} {
		meta := map[string]string{"redisHost": "127.0.0.1:6379"}
		if tc.v != "" {
			meta["busyPoll"] = tc.v
		}
		c, err := parseConfig(component.Spec{Metadata: meta})
		if tc.bad {
			if err == nil {
				t.Errorf("busyPoll=%q: accepted", tc.v)
			}
			continue
		}
		if err != nil {
			t.Errorf("busyPoll=%q: %v", tc.v, err)
			continue
		}
		if c.busyPoll != tc.want {
			t.Errorf("busyPoll=%q: %v, want %v", tc.v, c.busyPoll, tc.want)
		}
	}
}
