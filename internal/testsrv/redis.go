package testsrv

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// RedisOptions configure a Redis test server.
type RedisOptions struct {
	// AppendOnly enables the AOF with appendfsync always, so every
	// acknowledged write survives Kill.
	AppendOnly bool
	// Password, when set, is required by the server (requirepass).
	Password string
	// Cluster starts a one-node Redis Cluster owning all 16384 slots: the
	// cluster rules (CROSSSLOT for multi-key scripts) apply as on a real
	// cluster.
	Cluster bool
	// ReplicaOf, when set ("host:port"), starts the server as a replica of
	// that master; Start waits until the initial sync is done.
	ReplicaOf string
	// TLS makes the server speak TLS only (no plain-text port), with the
	// certificates of a new PKI (Redis.PKI).
	TLS bool
	// ClientAuth, with TLS, requires every client to present a
	// certificate signed by the PKI's CA (tls-auth-clients yes).
	ClientAuth bool

	// noSlots, with Cluster, starts a node that assigns itself no slots
	// (StartRedisCluster assigns them and joins the nodes).
	noSlots bool
}

// Redis is a redis-server process on a loopback port.
type Redis struct {
	// Addr is "127.0.0.1:<port>".
	Addr string
	// PKI holds the certificates when RedisOptions.TLS is set, else nil.
	PKI *PKI

	bin     string
	dir     string
	opts    RedisOptions
	busPort int   // cluster bus port (a free port of its own; 0 without Cluster)
	p       *proc // nil while stopped
}

// StartRedis starts redis-server in a new temporary directory and waits until
// it answers PING.
func StartRedis(opts RedisOptions) (*Redis, error) {
	bin, err := findBinary("redis-server", "/usr/bin/redis-server")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "testsrv-redis-")
	if err != nil {
		return nil, fmt.Errorf("cannot create data dir: %w", err)
	}
	r := &Redis{bin: bin, dir: dir, opts: opts}
	if opts.TLS {
		if r.PKI, err = NewPKI(dir); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("cannot create certificates: %w", err)
		}
	}
	for attempt := 1; ; attempt++ {
		port, err := pickPort()
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		r.Addr = "127.0.0.1:" + itoa(port)
		if opts.Cluster {
			// Redis's default bus port is port+10000, past 65535 for a
			// quarter of the ephemeral range, and maybe taken.
			if r.busPort, err = pickPort(); err != nil {
				os.RemoveAll(dir)
				return nil, err
			}
		}
		err = r.Start()
		if err == nil {
			return r, nil
		}
		if !errors.Is(err, errPortTaken) || attempt == portAttempts {
			os.RemoveAll(dir)
			return nil, err
		}
	}
}

// Start starts the server again on the same port and data after Stop/Kill.
func (r *Redis) Start() error {
	if r.p != nil {
		return nil
	}
	_, port, _ := net.SplitHostPort(r.Addr)
	args := []string{
		"--port", port, "--bind", "127.0.0.1", "--dir", r.dir,
		"--save", "", "--daemonize", "no", "--protected-mode", "no",
		"--logfile", "", "--repl-diskless-sync-delay", "0",
	}
	if r.PKI != nil {
		auth := "no"
		if r.opts.ClientAuth {
			auth = "yes"
		}
		args[1] = "0"
		args = append(args, "--tls-port", port, "--tls-cert-file", r.PKI.CertFile,
			"--tls-key-file", r.PKI.KeyFile, "--tls-ca-cert-file", r.PKI.CAFile,
			"--tls-auth-clients", auth)
	}
	if r.opts.AppendOnly {
		args = append(args, "--appendonly", "yes", "--appendfsync", "always")
	}
	if r.opts.Password != "" {
		args = append(args, "--requirepass", r.opts.Password)
	}
	if r.opts.Cluster {
		args = append(args, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-port", itoa(r.busPort))
	}
	if r.opts.ReplicaOf != "" {
		mh, mp, err := net.SplitHostPort(r.opts.ReplicaOf)
		if err != nil {
			return fmt.Errorf("invalid ReplicaOf %q: %w", r.opts.ReplicaOf, err)
		}
		args = append(args, "--replicaof", mh, mp)
	}
	cmd := exec.Command(r.bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	logPath := filepath.Join(r.dir, "redis.log")
	p, err := startProc(cmd, logPath)
	if err != nil {
		return err
	}
	err = waitReady("redis-server", p, logPath, func() error { return r.isProcess(p) })
	if err == nil && r.opts.Cluster && !r.opts.noSlots {
		err = waitReady("redis-server cluster", p, logPath, r.clusterReady)
	}
	if err == nil && r.opts.ReplicaOf != "" {
		err = waitReady("redis-server replica", p, logPath, func() error {
			info, err := r.command("INFO replication")
			if err != nil {
				return err
			}
			if !strings.Contains(info, "master_link_status:up") {
				return fmt.Errorf("replica not in sync: %q", info)
			}
			return nil
		})
	}
	if err != nil {
		p.stop(syscall.SIGKILL)
		return err
	}
	r.p = p
	return nil
}

// clusterReady assigns every slot to this node (once; nodes.conf keeps it
// across restarts) and reports whether the cluster state is ok.
func (r *Redis) clusterReady() error {
	info, err := r.command("CLUSTER INFO")
	if err != nil {
		return err
	}
	if strings.Contains(info, "cluster_state:ok") {
		return nil
	}
	if strings.Contains(info, "cluster_slots_assigned:0") {
		if _, err := r.command("CLUSTER ADDSLOTSRANGE 0 16383"); err != nil {
			return err
		}
	}
	return fmt.Errorf("cluster not ready: %q", info)
}

// command sends one inline command and returns its reply (simple string,
// error or one bulk string) as text.
func (r *Redis) command(cmd string) (string, error) {
	c, err := r.dial()
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if r.opts.Password != "" {
		cmd = "AUTH " + r.opts.Password + "\r\n" + cmd
	}
	if _, err := c.Write([]byte(cmd + "\r\n")); err != nil {
		return "", err
	}
	br := bufio.NewReader(c)
	if r.opts.Password != "" {
		if _, err := br.ReadString('\n'); err != nil {
			return "", err
		}
	}
	line, err := br.ReadString('\n')
	if err != nil {
		return "", err
	}
	switch {
	case strings.HasPrefix(line, "-"):
		return "", fmt.Errorf("redis: %s", strings.TrimSpace(line[1:]))
	case strings.HasPrefix(line, "$"), strings.HasPrefix(line, "="):
		n, err := strconv.Atoi(strings.TrimSpace(line[1:]))
		if err != nil || n < 0 {
			return "", err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(br, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	return strings.TrimSpace(line), nil
}

// isProcess reports, with nil, that the server at r.Addr is the process p
// and not another one that took the port first (p then exits with
// "Address already in use", which waitReady turns into errPortTaken).
func (r *Redis) isProcess(p *proc) error {
	if err := r.ping(); err != nil {
		return err
	}
	info, err := r.command("INFO server")
	if err != nil {
		return err
	}
	if !strings.Contains(info, "\nprocess_id:"+itoa(p.cmd.Process.Pid)+"\r") {
		return fmt.Errorf("%s is served by another process", r.Addr)
	}
	return nil
}

// dial opens a raw connection to the server: TLS with the PKI's client
// certificate when the server speaks TLS.
func (r *Redis) dial() (net.Conn, error) {
	d := &net.Dialer{Timeout: time.Second}
	if r.PKI != nil {
		return tls.DialWithDialer(d, "tcp", r.Addr, r.PKI.ClientConfig())
	}
	return d.Dial("tcp", r.Addr)
}

// ping sends PING (after AUTH when a password is set) over a raw connection.
func (r *Redis) ping() error {
	c, err := r.dial()
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	cmd := "PING\r\n"
	if r.opts.Password != "" {
		cmd = "AUTH " + r.opts.Password + "\r\n" + cmd
	}
	if _, err := c.Write([]byte(cmd)); err != nil {
		return err
	}
	br := bufio.NewReader(c)
	if r.opts.Password != "" {
		if _, err := br.ReadString('\n'); err != nil {
			return err
		}
	}
	line, err := br.ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("unexpected PING reply %q", line)
	}
	return nil
}

// Stop shuts the server down gracefully (SIGTERM) and waits for it to exit.
func (r *Redis) Stop() {
	r.p.stop(syscall.SIGTERM)
	r.p = nil
}

// Kill kills the server with SIGKILL, like a crash. With AppendOnly every
// acknowledged write is in the fsynced AOF.
func (r *Redis) Kill() {
	r.p.stop(syscall.SIGKILL)
	r.p = nil
}

// Close stops the server and removes its data directory.
func (r *Redis) Close() {
	if r == nil {
		return
	}
	r.Kill()
	if r.dir != "" {
		os.RemoveAll(r.dir)
		r.dir = ""
	}
}

// RedisCluster is a Redis Cluster of several master nodes on loopback
// ports, the 16384 slots split evenly between them.
type RedisCluster struct {
	// Nodes are the masters, in slot order: Nodes[0] owns the first range.
	Nodes []*Redis
}

// StartRedisCluster starts n cluster-enabled servers, gives each an equal
// range of slots, joins them with CLUSTER MEET and waits until every node
// reports cluster_state:ok and knows all n nodes.
func StartRedisCluster(n int) (*RedisCluster, error) {
	c := &RedisCluster{}
	fail := func(err error) (*RedisCluster, error) {
		c.Close()
		return nil, err
	}
	for i := 0; i < n; i++ {
		r, err := StartRedis(RedisOptions{Cluster: true, noSlots: true})
		if err != nil {
			return fail(err)
		}
		c.Nodes = append(c.Nodes, r)
	}
	for i, r := range c.Nodes {
		lo, hi := i*16384/n, (i+1)*16384/n-1
		if _, err := r.command("CLUSTER ADDSLOTSRANGE " + itoa(lo) + " " + itoa(hi)); err != nil {
			return fail(fmt.Errorf("node %d: %w", i, err))
		}
		if i > 0 {
			host, port, _ := net.SplitHostPort(c.Nodes[0].Addr)
			// The bus port is not port+10000, so MEET must name it.
			if _, err := r.command("CLUSTER MEET " + host + " " + port + " " + itoa(c.Nodes[0].busPort)); err != nil {
				return fail(fmt.Errorf("node %d: %w", i, err))
			}
		}
	}
	for i, r := range c.Nodes {
		err := waitReady("redis cluster node", r.p, filepath.Join(r.dir, "redis.log"), func() error {
			info, err := r.command("CLUSTER INFO")
			if err != nil {
				return err
			}
			if !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_known_nodes:"+itoa(n)+"\r") {
				return fmt.Errorf("cluster not ready: %q", info)
			}
			return nil
		})
		if err != nil {
			return fail(fmt.Errorf("node %d: %w", i, err))
		}
	}
	return c, nil
}

// Addrs is the comma-separated list of the nodes' addresses (the form of
// redisHost for a cluster).
func (c *RedisCluster) Addrs() string {
	var a []string
	for _, r := range c.Nodes {
		a = append(a, r.Addr)
	}
	return strings.Join(a, ",")
}

// Close stops every node and removes its data.
func (c *RedisCluster) Close() {
	if c == nil {
		return
	}
	for _, r := range c.Nodes {
		r.Close()
	}
}
