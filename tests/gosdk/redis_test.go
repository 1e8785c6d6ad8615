package gosdk

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// redisServer is a throwaway redis-server on a free loopback port, for the
// building blocks that need one (configuration.redis, lock.redis). It has
// no persistence and is killed at test cleanup.
type redisServer struct {
	Addr string
}

// startRedis starts redis-server. Without the binary the test is skipped,
// unless CI is set (the README test command installs it).
func startRedis(t *testing.T) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "" {
			t.Skip("redis-server not installed (with CI set this is a failure)")
		}
		t.Fatal("redis-server not installed")
	}
	for attempt := 0; attempt < portAttempts; attempt++ {
		port := freePort(t)
		cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		r := &redisServer{Addr: "127.0.0.1:" + strconv.Itoa(port)}
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if out, err := r.do("PING"); err == nil && out == "+PONG" {
				t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
				return r
			}
			time.Sleep(20 * time.Millisecond)
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	t.Fatal("redis-server did not start")
	return nil
}

// do sends one command and returns the first line of the reply ("+OK",
// ":1", "$5" ...).
func (r *redisServer) do(args ...string) (string, error) {
	c, err := net.DialTimeout("tcp", r.Addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write([]byte(b.String())); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if strings.HasPrefix(line, "-") {
		return line, errors.New(line)
	}
	return line, nil
}

// get returns the string value of key ("" when absent).
func (r *redisServer) get(t *testing.T, key string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", r.Addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n", len(key), key)
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(line, "$-1") {
		return ""
	}
	v, err := br.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimRight(v, "\r\n")
}

// componentYAML is one component document.
func componentYAML(name, typ string, meta map[string]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: %s\nspec:\n  type: %s\n  version: v1\n  metadata:\n", name, typ)
	for k, v := range meta {
		fmt.Fprintf(&b, "  - name: %s\n    value: %q\n", k, v)
	}
	return b.String()
}
