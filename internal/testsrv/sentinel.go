package testsrv

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
)

// Sentinel is a redis-server in sentinel mode monitoring one master under
// the name MasterName.
type Sentinel struct {
	// Addr is "127.0.0.1:<port>".
	Addr string
	// MasterName is the monitored master's name ("mymaster").
	MasterName string

	dir string
	p   *proc
}

// StartSentinel starts a sentinel for master (quorum 1) in a new temporary
// directory and waits until it reports the master's address.
func StartSentinel(master *Redis) (*Sentinel, error) {
	bin, err := findBinary("redis-server", "/usr/bin/redis-server")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "testsrv-sentinel-")
	if err != nil {
		return nil, fmt.Errorf("cannot create sentinel dir: %w", err)
	}
	for attempt := 1; ; attempt++ {
		port, err := pickPort()
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		s, err := startSentinel(bin, dir, port, master)
		if err == nil {
			return s, nil
		}
		if !errors.Is(err, errPortTaken) || attempt == portAttempts {
			os.RemoveAll(dir)
			return nil, err
		}
	}
}

// startSentinel runs one sentinel on port and waits until it knows master
// (a sentinel rewrites its config, so each attempt writes it afresh).
func startSentinel(bin, dir string, port int, master *Redis) (*Sentinel, error) {
	host, mport, _ := net.SplitHostPort(master.Addr)
	conf := fmt.Sprintf("port %d\nbind 127.0.0.1\nprotected-mode no\ndir %s\nsentinel monitor mymaster %s %s 1\n", port, dir, host, mport)
	if master.opts.Password != "" {
		conf += "sentinel auth-pass mymaster " + master.opts.Password + "\n"
	}
	confPath := filepath.Join(dir, "sentinel.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return nil, fmt.Errorf("cannot write sentinel config: %w", err)
	}
	cmd := exec.Command(bin, confPath, "--sentinel")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	logPath := filepath.Join(dir, "sentinel.log")
	p, err := startProc(cmd, logPath)
	if err != nil {
		return nil, err
	}
	s := &Sentinel{Addr: fmt.Sprintf("127.0.0.1:%d", port), MasterName: "mymaster", dir: dir, p: p}
	probe := &Redis{Addr: s.Addr}
	err = waitReady("redis sentinel", p, logPath, func() error {
		if err := probe.isProcess(p); err != nil {
			return err
		}
		out, err := probe.command("SENTINEL get-master-addr-by-name mymaster")
		if err != nil {
			return err
		}
		if out != "*2" {
			return fmt.Errorf("master unknown: %q", out)
		}
		return nil
	})
	if err != nil {
		p.stop(syscall.SIGKILL)
		return nil, err
	}
	return s, nil
}

// Close stops the sentinel and removes its directory.
func (s *Sentinel) Close() {
	if s == nil {
		return
	}
	s.p.stop(syscall.SIGKILL)
	s.p = nil
	os.RemoveAll(s.dir)
}
