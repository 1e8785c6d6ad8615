package testsrv

import (
	"context"
	"net"
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
