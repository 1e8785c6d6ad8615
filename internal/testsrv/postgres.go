package testsrv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgBinDir is where Debian's postgresql-15 package installs its binaries;
// other major versions under /usr/lib/postgresql are used when 15 is absent.
const pgBinDir = "/usr/lib/postgresql/15/bin"

// postgresCandidates lists postgres binaries to try: version 15 first, then
// any other installed major version, newest first.
func postgresCandidates() []string {
	out := []string{filepath.Join(pgBinDir, "postgres")}
	others, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	sort.Sort(sort.Reverse(sort.StringSlice(others)))
	return append(out, others...)
}

// Postgres is a PostgreSQL server (postmaster) on a loopback port, with
// trust authentication for user "postgres".
type Postgres struct {
	// DSN connects to database "postgres" as user "postgres".
	DSN string
	// Port is the TCP port on 127.0.0.1.
	Port int

	// PKI holds the certificates when PostgresOptions.TLS is set, else nil.
	PKI *PKI

	binDir string
	root   string // temp dir holding data/ and the log
	cred   *syscall.Credential
	p      *proc
}

// PostgresOptions configure a PostgreSQL test server.
type PostgresOptions struct {
	// TLS turns ssl on with the server certificate of a new PKI
	// (Postgres.PKI). Clients may still connect without TLS (DSN keeps
	// sslmode=disable); they choose with sslmode.
	TLS bool
}

// StartPostgres starts a server with the default options.
func StartPostgres() (*Postgres, error) { return StartPostgresWith(PostgresOptions{}) }

// StartPostgresWith runs initdb in a new temporary directory, starts the
// server and waits until it accepts connections. When running as root, the
// server runs as the "postgres" OS user.
func StartPostgresWith(opts PostgresOptions) (*Postgres, error) {
	bin, err := findBinary("postgres", postgresCandidates()...)
	if err != nil {
		return nil, err
	}
	binDir := filepath.Dir(bin)
	initdb, err := findBinary("initdb", filepath.Join(binDir, "initdb"))
	if err != nil {
		return nil, err
	}
	root, err := os.MkdirTemp("", "testsrv-pg-")
	if err != nil {
		return nil, fmt.Errorf("cannot create data dir: %w", err)
	}
	pg := &Postgres{binDir: binDir, root: root}
	fail := func(err error) (*Postgres, error) {
		os.RemoveAll(root)
		return nil, err
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return fail(fmt.Errorf("cannot run PostgreSQL as root and there is no postgres user: %w", err))
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		pg.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(root, uid, gid); err != nil {
			return fail(fmt.Errorf("cannot chown data dir: %w", err))
		}
	}
	cmd := exec.Command(initdb, "-D", pg.dataDir(), "-U", "postgres", "--auth=trust",
		"--encoding=UTF8", "--locale=C.UTF-8", "--no-sync")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: pg.cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("cannot initdb: %w: %s", err, out))
	}
	if opts.TLS {
		if pg.PKI, err = NewPKI(root); err != nil {
			return fail(fmt.Errorf("cannot create certificates: %w", err))
		}
		if pg.cred != nil {
			// The server reads its key as the postgres user.
			for _, f := range []string{pg.PKI.CAFile, pg.PKI.CertFile, pg.PKI.KeyFile} {
				if err := os.Chown(f, int(pg.cred.Uid), int(pg.cred.Gid)); err != nil {
					return fail(fmt.Errorf("cannot chown %s: %w", f, err))
				}
			}
		}
	}
	for attempt := 1; ; attempt++ {
		port, err := pickPort()
		if err != nil {
			return fail(err)
		}
		pg.Port = port
		pg.DSN = fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=postgres sslmode=disable", port)
		err = pg.Start()
		if err == nil {
			return pg, nil
		}
		if !errors.Is(err, errPortTaken) || attempt == portAttempts {
			return fail(err)
		}
	}
}

func (pg *Postgres) dataDir() string { return filepath.Join(pg.root, "data") }

// Start starts the server again on the same port and data after Stop/Kill.
func (pg *Postgres) Start() error {
	if pg.p != nil {
		return nil
	}
	cmd := exec.Command(filepath.Join(pg.binDir, "postgres"), "-D", pg.dataDir(),
		"-p", strconv.Itoa(pg.Port), "-k", pg.root,
		"-c", "listen_addresses=127.0.0.1",
		// Test servers are killed, never power-cut: the OS page cache keeps
		// every committed write, so fsync only costs time here.
		"-c", "fsync=off", "-c", "full_page_writes=off",
		"-c", "max_connections=200", "-c", "shared_buffers=32MB")
	if pg.PKI != nil {
		cmd.Args = append(cmd.Args, "-c", "ssl=on", "-c", "ssl_cert_file="+pg.PKI.CertFile,
			"-c", "ssl_key_file="+pg.PKI.KeyFile, "-c", "ssl_ca_file="+pg.PKI.CAFile)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: pg.cred, Pdeathsig: syscall.SIGKILL}
	logPath := filepath.Join(pg.root, "postgres.log")
	p, err := startProc(cmd, logPath)
	if err != nil {
		return err
	}
	err = waitReady("postgres", p, logPath, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, pg.DSN)
		if err != nil {
			return err
		}
		defer c.Close(ctx)
		// Another postmaster may hold the port; ours then exits with
		// "Address already in use" (errPortTaken).
		var dir string
		if err := c.QueryRow(ctx, "SHOW data_directory").Scan(&dir); err != nil {
			return err
		}
		if dir != pg.dataDir() {
			return fmt.Errorf("port %d is served by another server (data directory %s)", pg.Port, dir)
		}
		return nil
	})
	if err != nil {
		p.stop(syscall.SIGQUIT)
		return err
	}
	pg.p = p
	return nil
}

// Stop shuts the server down with a fast shutdown (SIGINT: running
// transactions are rolled back, clients disconnected).
func (pg *Postgres) Stop() {
	pg.p.stop(syscall.SIGINT)
	pg.p = nil
}

// Kill stops the server with an immediate shutdown (SIGQUIT), like a crash:
// the next Start runs crash recovery from the WAL.
func (pg *Postgres) Kill() {
	pg.p.stop(syscall.SIGQUIT)
	pg.p = nil
}

// Close stops the server and removes its files.
func (pg *Postgres) Close() {
	if pg == nil {
		return
	}
	pg.Kill()
	if pg.root != "" {
		os.RemoveAll(pg.root)
		pg.root = ""
	}
}
