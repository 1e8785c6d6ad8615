package testsrv

import (
	"bufio"
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestRedisStopStart(t *testing.T) {
	r, err := StartRedis(RedisOptions{AppendOnly: true})
	Require(t, err)
	defer r.Close()
	if err := r.ping(); err != nil {
		t.Fatalf("ping after start: %v", err)
	}
	r.Kill()
	if c, err := net.DialTimeout("tcp", r.Addr, time.Second); err == nil {
		c.Close()
		t.Fatalf("server still accepts connections after Kill")
	}
	if err := r.Start(); err != nil {
		t.Fatalf("restart: %v", err)
	}
	if err := r.ping(); err != nil {
		t.Fatalf("ping after restart: %v", err)
	}
}

func TestPostgresStopStart(t *testing.T) {
	pg, err := StartPostgres()
	Require(t, err)
	defer pg.Close()
	ctx := context.Background()
	exec := func(sql string) (string, error) {
		c, err := pgx.Connect(ctx, pg.DSN)
		if err != nil {
			return "", err
		}
		defer c.Close(ctx)
		var s string
		err = c.QueryRow(ctx, sql).Scan(&s)
		return s, err
	}
	c, err := pgx.Connect(ctx, pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, "CREATE TABLE t (v text); INSERT INTO t VALUES ('kept')"); err != nil {
		t.Fatal(err)
	}
	c.Close(ctx)
	pg.Kill()
	if _, err := exec("SELECT 'x'"); err == nil {
		t.Fatalf("query succeeded while the server is down")
	}
	if err := pg.Start(); err != nil {
		t.Fatalf("restart: %v", err)
	}
	got, err := exec("SELECT v FROM t")
	if err != nil || got != "kept" {
		t.Fatalf("after restart: got %q, %v; want kept", got, err)
	}
}

func TestRedisCluster(t *testing.T) {
	r, err := StartRedis(RedisOptions{Cluster: true})
	Require(t, err)
	defer r.Close()
	info, err := r.command("CLUSTER INFO")
	if err != nil || !strings.Contains(info, "cluster_state:ok") {
		t.Fatalf("cluster info %q, %v", info, err)
	}
	r.Kill()
	if err := r.Start(); err != nil {
		t.Fatalf("restart: %v", err)
	}
	if info, err := r.command("CLUSTER INFO"); err != nil || !strings.Contains(info, "cluster_state:ok") {
		t.Fatalf("cluster info after restart %q, %v", info, err)
	}
}

// takePort holds a loopback port that answers every line with +PONG, as a
// foreign Redis would, and makes the next pickPort call return it: the race
// where another process binds a picked port before the server does.
func takePort(t *testing.T) string {
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
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					if _, err := br.ReadString('\n'); err != nil {
						return
					}
					if _, err := c.Write([]byte("+PONG\r\n")); err != nil {
						return
					}
				}
			}()
		}
	}()
	orig := pickPort
	taken := l.Addr().(*net.TCPAddr).Port
	handed := false
	pickPort = func() (int, error) {
		if !handed {
			handed = true
			return taken, nil
		}
		return orig()
	}
	t.Cleanup(func() { pickPort = orig })
	return l.Addr().String()
}

func TestRedisPortTaken(t *testing.T) {
	taken := takePort(t)
	r, err := StartRedis(RedisOptions{})
	Require(t, err)
	defer r.Close()
	if r.Addr == taken {
		t.Fatalf("StartRedis returned the address %s held by another process", taken)
	}
	if pid, err := r.command("INFO server"); err != nil || !strings.Contains(pid, "process_id:") {
		t.Fatalf("server at %s is not a redis-server: %q, %v", r.Addr, pid, err)
	}
}

func TestPostgresPortTaken(t *testing.T) {
	taken := takePort(t)
	pg, err := StartPostgres()
	Require(t, err)
	defer pg.Close()
	if "127.0.0.1:"+strconv.Itoa(pg.Port) == taken {
		t.Fatalf("StartPostgres returned the port of %s held by another process", taken)
	}
	c, err := pgx.Connect(context.Background(), pg.DSN)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	c.Close(context.Background())
}
