package redis

import (
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/statecar/statecar/component"
	"github.com/statecar/statecar/internal/storetest"
	"github.com/statecar/statecar/internal/testsrv"
)

// TestServerRestart kills Redis (AOF, appendfsync always) under load and
// starts it again: requests fail while it is down, succeed again after, and
// no acknowledged write is lost.
func TestServerRestart(t *testing.T) {
	r, err := testsrv.StartRedis(testsrv.RedisOptions{AppendOnly: true})
	testsrv.Require(t, err)
	defer r.Close()
	s := newStoreAt(t, r.Addr, map[string]string{"dialTimeout": "200ms", "readTimeout": "1s", "redisMaxRetries": "1"})
	storetest.KillDuringWrites(t, s, r, func(w, i int) (map[string]string, error) {
		k, v := fmt.Sprintf("fault-%d-%d", w, i), fmt.Sprintf("v%d", i)
		if err := set(s, k, v, nil, nil, component.StateOptions{}); err != nil {
			return nil, err
		}
		return map[string]string{k: v}, nil
	})
}

// slowProxy forwards TCP connections to addr, delaying every chunk the
// server sends by delay: a server (or network) slower than dialTimeout per
// reply, but well within readTimeout.
func slowProxy(t *testing.T, addr string, delay time.Duration) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", addr)
			if err != nil {
				c.Close()
				continue
			}
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() {
				defer c.Close()
				buf := make([]byte, 64<<10)
				for {
					n, err := up.Read(buf)
					if n > 0 {
						time.Sleep(delay)
						if _, werr := c.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return l.Addr().String()
}

// TestInitSlowReplies: the init round trips (PING, two SCRIPT LOADs, the
// PEXPIRETIME probe, INFO) each answer within readTimeout; init must not
// fail because together they take longer than dialTimeout.
func TestInitSlowReplies(t *testing.T) {
	testsrv.Require(t, srvErr)
	addr := slowProxy(t, srv.Addr, 100*time.Millisecond)
	s := newStoreAt(t, addr, map[string]string{"dialTimeout": "250ms", "readTimeout": "2s"})
	if err := set(s, "slow-init", "v", nil, nil, component.StateOptions{}); err != nil {
		t.Fatalf("save through the slow proxy: %v", err)
	}
}
