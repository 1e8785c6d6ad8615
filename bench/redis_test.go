package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseRESP(t *testing.T) {
	f := func(in string, n int, isErr bool) {
		t.Helper()
		gotN, gotErr, err := parseRESP([]byte(in))
		if err != nil || gotN != n || gotErr != isErr {
			t.Errorf("parseRESP(%q) = %d, %v, %v; want %d, %v", in, gotN, gotErr, err, n, isErr)
		}
		for i := range len(in) {
			if _, _, err := parseRESP([]byte(in[:i])); err != errShortResponse {
				t.Errorf("parseRESP(%q[:%d]) = %v, want incomplete", in, i, err)
			}
		}
	}
	f("+OK\r\n", 5, false)
	f("-ERR wrong\r\n", 12, true)
	f(":42\r\n", 5, false)
	f("$3\r\nabc\r\n", 9, false)
	f("$-1\r\n", 5, false)
	f("*3\r\n$1\r\na\r\n$-1\r\n$2\r\nbc\r\n", 24, false)
	f("*2\r\n+OK\r\n-ERR x\r\n", 17, true)
	f("*0\r\n", 4, false)
	for _, bad := range []string{"?x\r\n", "$x\r\n", "$1\r\nabX\n", "*x\r\n"} {
		if _, _, err := parseRESP([]byte(bad)); err == nil || err == errShortResponse {
			t.Errorf("parseRESP(%q) accepted: %v", bad, err)
		}
	}
}

func TestRedisCommandsAllocs(t *testing.T) {
	shape := &reqShape{keyPrefix: "k", batch: 3, pay: NewPayload(4, 1)}
	d := &redisDriver{shape: shape}
	g, _ := NewKeyGen(DistUniform, 10, 1, nil)
	for _, op := range []Op{OpGet, OpSave, OpMSave, OpBulk, OpDelete, OpTx} {
		cmd, err := d.appendCommand(nil, op, g)
		if err != nil {
			t.Fatal(err)
		}
		if n, _, err := parseRESP(cmd); err != nil || n != len(cmd) { // a command is a RESP array
			t.Fatalf("%v: command %q is not one RESP array: %v", op, cmd, err)
		}
		if n := testing.AllocsPerRun(200, func() { d.wbuf, _ = d.appendCommand(d.wbuf[:0], op, g) }); n != 0 {
			t.Errorf("%v: building the command allocates %v times", op, n)
		}
	}
	if _, err := d.appendCommand(nil, OpQuery, g); err == nil {
		t.Error("query has no redis equivalent but was accepted")
	}
	shape.redisScript = true
	cmd, err := d.appendCommand(nil, OpSave, g)
	if err != nil || !bytes.Contains(cmd, []byte("EVALSHA")) || !bytes.Contains(cmd, applySHA) {
		t.Fatalf("script save: %q, %v", cmd, err)
	}
	if n := testing.AllocsPerRun(200, func() { d.wbuf, _ = d.appendCommand(d.wbuf[:0], OpSave, g) }); n != 0 {
		t.Errorf("script save: building the command allocates %v times", n)
	}
}

func TestRunRedisAgainstRedisServer(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server not installed")
	}
	p, err := StartRedis("redis", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	mix, _ := ParseMix("get:4,save:1,msave:1,bulk:1,delete:1")
	res, err := Run(t.Context(), Config{Target: p.RedisAddr, Proto: "redis", Mix: mix, Conns: 2, Keys: 300,
		Duration: 150 * time.Millisecond, Preload: true, Size: 16})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests == 0 || res.Errors != 0 || res.Status["redis:OK"] != res.Requests {
		t.Fatalf("requests %d, errors %d, status %v", res.Requests, res.Errors, res.Status)
	}

	// RedisSave "script": saves run statecar's write script, which leaves
	// statecar's (daprd's) hash layout behind.
	mix, _ = ParseMix("save")
	res, err = Run(t.Context(), Config{Target: p.RedisAddr, Proto: "redis", Mix: mix, Conns: 2, Keys: 3,
		Duration: 100 * time.Millisecond, Size: 16, KeyPrefix: "hk", RedisSave: "script"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests == 0 || res.Errors != 0 || res.Status["redis:OK"] != res.Requests {
		t.Fatalf("script saves: requests %d, errors %d, status %v", res.Requests, res.Errors, res.Status)
	}
	c, err := net.Dial("tcp", p.RedisAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	var versions int64
	for k := 0; k < 3; k++ {
		fmt.Fprintf(c, "HGET hk%d version\r\n", k)
		line, _ := br.ReadString('\n')
		if line == "$-1\r\n" {
			continue
		}
		v, _ := br.ReadString('\n')
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if !strings.HasPrefix(line, "$") || err != nil {
			t.Fatalf("hk%d: HGET version = %q %q", k, line, v)
		}
		versions += n
	}
	if versions < res.Requests { // warm-up saves count too
		t.Fatalf("versions of the saved hashes add up to %d, want at least one per measured save (%d)", versions, res.Requests)
	}
}
