// Package pgtest starts throwaway PostgreSQL servers for tests and
// benchmarks: initdb and pg_ctl on a temporary directory, a free port on
// 127.0.0.1, trust authentication. PostgreSQL refuses to run as root, so as
// root the server runs as the postgres user (runuser). Each test gets its
// own database, created from a migrated template.
package pgtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the driver
)

// Install says what a machine without PostgreSQL needs.
const Install = "PostgreSQL 14 or later is needed (initdb, pg_ctl and postgres on the PATH or under /usr/lib/postgresql): " +
	"apt-get install -y postgresql"

// Server is a running throwaway PostgreSQL.
type Server struct {
	dir   string
	port  int
	bin   string
	owner string // the user the server runs as ("" for this process's)
	admin *sql.DB
	n     atomic.Int64
}

// Options tune a server.
type Options struct {
	// Durable keeps fsync and synchronous_commit on, for benchmarks; tests
	// run without them.
	Durable bool
	// MaxConnections is max_connections (default 200).
	MaxConnections int
}

// binDir finds PostgreSQL's programs: on the PATH, or under Debian's
// /usr/lib/postgresql/N/bin.
func binDir() (string, error) {
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if _, err := exec.LookPath("initdb"); err == nil {
			return filepath.Dir(p), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "initdb")); err == nil {
			return dirs[i], nil
		}
	}
	return "", errors.New(Install)
}

// Start initialises and starts a server; Stop ends it and removes its files.
func Start(opts Options) (*Server, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "parley-pg-")
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir, bin: bin}
	if os.Geteuid() == 0 {
		// PostgreSQL refuses root: run it as the postgres user.
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("running as root, PostgreSQL needs the postgres user: %w (%s)", err, Install)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		s.owner = "postgres"
	}
	if out, err := s.run("initdb", "-D", s.data(), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %w: %s", err, out)
	}
	conns := opts.MaxConnections
	if conns == 0 {
		conns = 200
	}
	settings := []string{"-c listen_addresses=127.0.0.1", "-k " + dir, "-c max_connections=" + strconv.Itoa(conns),
		"-c shared_buffers=256MB"}
	if !opts.Durable {
		settings = append(settings, "-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off")
	}
	for attempt := 0; ; attempt++ {
		if s.port, err = freePort(); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		args := strings.Join(append([]string{"-p " + strconv.Itoa(s.port)}, settings...), " ")
		out, err := s.run("pg_ctl", "-D", s.data(), "-o", args, "-l", filepath.Join(dir, "log"), "-w", "-t", "60", "start")
		if err == nil {
			break
		}
		if attempt == 2 {
			log, _ := os.ReadFile(filepath.Join(dir, "log"))
			os.RemoveAll(dir)
			return nil, fmt.Errorf("pg_ctl start: %w: %s\n%s", err, out, log)
		}
	}
	if s.admin, err = sql.Open("pgx", s.URL("postgres")); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

func (s *Server) data() string { return filepath.Join(s.dir, "data") }

// run runs one of PostgreSQL's programs as the server's owner.
func (s *Server) run(name string, args ...string) ([]byte, error) {
	path := filepath.Join(s.bin, name)
	var cmd *exec.Cmd
	if s.owner != "" {
		cmd = exec.Command("runuser", append([]string{"-u", s.owner, "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	cmd.Dir = s.dir
	return cmd.CombinedOutput()
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// URL is the address of one of the server's databases.
func (s *Server) URL(database string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, database)
}

// CreateDatabase makes an empty database and returns its URL.
func (s *Server) CreateDatabase(ctx context.Context) (string, error) {
	name := fmt.Sprintf("parley_%d_%d", os.Getpid(), s.n.Add(1))
	if _, err := s.admin.ExecContext(ctx, `CREATE DATABASE `+name); err != nil {
		return "", fmt.Errorf("create database: %w", err)
	}
	return s.URL(name), nil
}

// DropDatabase removes a database CreateDatabase made, ending its sessions.
func (s *Server) DropDatabase(ctx context.Context, url string) error {
	name := strings.TrimPrefix(url[strings.LastIndex(url, "/"):], "/")
	name, _, _ = strings.Cut(name, "?")
	_, err := s.admin.ExecContext(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`)
	return err
}

// Stop stops the server at once and removes its files.
func (s *Server) Stop() {
	if s.admin != nil {
		s.admin.Close()
	}
	s.run("pg_ctl", "-D", s.data(), "-m", "immediate", "-w", "stop")
	os.RemoveAll(s.dir)
}

var (
	shared     *Server
	sharedErr  error
	sharedOnce sync.Once
)

// StartShared starts the shared server now, and says why it cannot.
func StartShared() error {
	sharedOnce.Do(func() { shared, sharedErr = Start(Options{}) })
	return sharedErr
}

// Shared is one server for the whole test binary, started at first use;
// StopShared (from TestMain) stops it. Without PostgreSQL the test fails
// under CI=true, and is skipped elsewhere with what to install.
func Shared(tb testing.TB) *Server {
	tb.Helper()
	if err := StartShared(); err != nil {
		Unavailable(tb, err)
	}
	return shared
}

// Unavailable ends a test that needs PostgreSQL and could not start it:
// failed under CI=true, skipped elsewhere, saying what to install.
func Unavailable(tb testing.TB, err error) {
	tb.Helper()
	if os.Getenv("CI") == "true" {
		tb.Fatalf("PostgreSQL: %v", err)
	}
	tb.Skipf("PostgreSQL is not available here (%v); %s", err, Install)
}

// Database makes a fresh database on the shared server for the test, dropped
// when it ends, and returns its URL.
func Database(tb testing.TB) string {
	tb.Helper()
	s := Shared(tb)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	url, err := s.CreateDatabase(ctx)
	if err != nil {
		tb.Fatalf("PostgreSQL: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := s.DropDatabase(ctx, url); err != nil {
			tb.Errorf("drop database: %v", err)
		}
	})
	return url
}

// StopShared stops the shared server if one started.
func StopShared() {
	if shared != nil {
		shared.Stop()
	}
}
