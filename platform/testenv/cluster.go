package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cluster is a throwaway PostgreSQL cluster: initdb into a temp dir, one
// postgres process on a random loopback port, trust auth, fsync off. It lives
// until Stop, or until the test binary dies (on Linux the kernel then sends
// the postmaster SIGQUIT).
type cluster struct {
	dir    string // temp dir holding data/, sock/ and postgres.log; removed by Stop
	dsn    string
	cmd    *exec.Cmd
	exited chan struct{} // closed when the postgres process has exited

	// What restart needs to start the same server again.
	postgres, data, sock string
	port                 int
	attrs                func() *sysProcAttr
}

// restart stops the server (fast shutdown: every connection is dropped),
// waits down, and starts it again on the same port and data directory.
func (c *cluster) restart(ctx context.Context, down time.Duration) error {
	c.halt()
	time.Sleep(down)
	again, err := startPostgres(ctx, c.postgres, c.dir, c.data, c.sock, c.attrs, c.port)
	if err != nil {
		return fmt.Errorf("restart postgres cluster: %w", err)
	}
	c.cmd, c.exited = again.cmd, again.exited
	return nil
}

// DSN is the cluster's admin URL (user postgres, database postgres).
func (c *cluster) DSN() string { return c.dsn }

// Dir is the cluster's temp dir.
func (c *cluster) Dir() string { return c.dir }

// Stop shuts the cluster down (fast shutdown, then a kill after 20s) and
// removes its directory.
func (c *cluster) Stop() error {
	c.halt()
	if err := os.RemoveAll(c.dir); err != nil {
		return fmt.Errorf("stop postgres cluster: %w", err)
	}
	return nil
}

// halt stops the server process: a fast shutdown, then a kill after 20 s.
func (c *cluster) halt() {
	_ = c.cmd.Process.Signal(interruptSignal)
	select {
	case <-c.exited:
	case <-time.After(20 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
}

// interruptSignal asks the postmaster for a fast shutdown. Where signals
// cannot be sent (Windows) Stop kills it after the grace period instead.
const interruptSignal = syscall.SIGINT

// postgresBinaries finds initdb and postgres: first in PATH, then in the
// newest /usr/lib/postgresql/<version>/bin (Debian's layout, not in PATH).
func postgresBinaries() (initdb, postgres string, err error) {
	if i, err := exec.LookPath("initdb"); err == nil {
		// Prefer the postgres beside initdb: the two must be one version.
		if p := filepath.Join(filepath.Dir(i), "postgres"); isExecutable(p) {
			return i, p, nil
		}
		if p, err := exec.LookPath("postgres"); err == nil {
			return i, p, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	version := func(dir string) int {
		v, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
		return v
	}
	slices.SortFunc(dirs, func(a, b string) int { return version(b) - version(a) })
	for _, d := range dirs {
		i, p := filepath.Join(d, "initdb"), filepath.Join(d, "postgres")
		if isExecutable(i) && isExecutable(p) {
			return i, p, nil
		}
	}
	return "", "", errors.New("initdb and postgres not found in PATH or /usr/lib/postgresql/*/bin")
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// startCluster creates and starts a throwaway cluster, and returns once it
// accepts connections. As root it runs initdb and postgres as an
// unprivileged user (both refuse to run as root), see procAttrs. Each of
// settings ("name = value") is written into postgresql.conf, so it holds
// across restarts.
func startCluster(ctx context.Context, settings ...string) (*cluster, error) {
	initdb, postgres, err := postgresBinaries()
	if err != nil {
		return nil, fmt.Errorf("start postgres cluster: %w", err)
	}
	c, err := startClusterWith(ctx, initdb, postgres, settings...)
	if err != nil {
		return nil, fmt.Errorf("start postgres cluster (%s): %w", filepath.Dir(initdb), err)
	}
	return c, nil
}

func startClusterWith(ctx context.Context, initdb, postgres string, settings ...string) (c *cluster, err error) {
	attrs, uid, gid, err := procAttrs()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "bounded-testenv-pg-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(dir)
		}
	}()
	// The unprivileged user must be able to reach data/ and sock/ inside.
	if err := os.Chmod(dir, 0o711); err != nil {
		return nil, err
	}
	data, sock := filepath.Join(dir, "data"), filepath.Join(dir, "sock")
	for _, d := range []string{data, sock} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return nil, err
		}
		if uid >= 0 {
			if err := os.Chown(d, uid, gid); err != nil {
				return nil, err
			}
		}
	}

	cmd := exec.CommandContext(ctx, initdb, "-D", data, "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--locale=C", "--no-sync")
	cmd.Env = serverEnv()
	cmd.SysProcAttr = attrs()
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %w\n%s", err, lastLines(string(out), 10))
	}
	if len(settings) > 0 {
		conf, err := os.OpenFile(filepath.Join(data, "postgresql.conf"), os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return nil, err
		}
		_, err = conf.WriteString("\n" + strings.Join(settings, "\n") + "\n")
		if cerr := conf.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("postgresql.conf: %w", err)
		}
	}

	// A port picked free may be taken before postgres binds it; try a few.
	for attempt := 0; ; attempt++ {
		c, err = startPostgres(ctx, postgres, dir, data, sock, attrs, 0)
		if err == nil || attempt == 2 || !strings.Contains(err.Error(), "could not") {
			return c, err
		}
	}
}

// startPostgres starts postgres on data; on port, or on a free one when port
// is 0.
func startPostgres(ctx context.Context, postgres, dir, data, sock string, attrs func() *sysProcAttr, port int) (*cluster, error) {
	if port == 0 {
		var err error
		if port, err = freePort(); err != nil {
			return nil, err
		}
	}
	logPath := filepath.Join(dir, "postgres.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child has its own descriptor
	cmd := exec.Command(postgres, "-D", data, "-p", strconv.Itoa(port), "-k", sock,
		"-c", "listen_addresses=127.0.0.1",
		// Durability is worthless for a throwaway cluster; speed is not.
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	cmd.Env = serverEnv()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = attrs()

	c := &cluster{
		dir:    dir,
		dsn:    fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port),
		cmd:    cmd,
		exited: make(chan struct{}),

		postgres: postgres, data: data, sock: sock, port: port, attrs: attrs,
	}
	started := make(chan error, 1)
	go func() {
		// The parent-death signal (Linux) fires when the thread that
		// started the child exits, not the process; keep this goroutine on
		// its thread for the child's whole life so the signal means "the
		// test binary is gone".
		runtime.LockOSThread()
		err := cmd.Start()
		started <- err
		if err == nil {
			_ = cmd.Wait()
		}
		close(c.exited)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}

	deadline := time.Now().Add(time.Minute)
	for {
		pingErr := pingPostgres(ctx, c.dsn)
		if pingErr == nil {
			return c, nil
		}
		select {
		case <-c.exited:
			return nil, fmt.Errorf("postgres exited: %s\n%s", cmd.ProcessState, tailFile(logPath, 10))
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-c.exited
			return nil, fmt.Errorf("postgres not ready: %w\n%s", pingErr, tailFile(logPath, 10))
		}
	}
}

// serverEnv is the environment for initdb and postgres: ours without the
// PG* variables (which would redirect them) and with a fixed locale.
func serverEnv() []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "PG") || strings.HasPrefix(kv, "LC_") || strings.HasPrefix(kv, "LANG=")
	})
	return append(env, "LC_ALL=C")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	return lastLines(string(b), n)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
