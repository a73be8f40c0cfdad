package testenv_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bounded-dev/bounded/platform/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func mustConnectPG(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func queryString(t *testing.T, conn *pgx.Conn, sql string, args ...any) string {
	t.Helper()
	var s string
	if err := conn.QueryRow(t.Context(), sql, args...).Scan(&s); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return s
}

func TestUniqueName(t *testing.T) {
	valid := regexp.MustCompile(`^stream_[a-z0-9]{10}$`)
	seen := make(map[string]bool)
	for range 10000 {
		n := testenv.UniqueName("stream_")
		if !valid.MatchString(n) {
			t.Fatalf("UniqueName = %q, want %s", n, valid)
		}
		if seen[n] {
			t.Fatalf("duplicate name %q", n)
		}
		seen[n] = true
	}
	for _, bad := range []string{"", "Orders_", "_x", "1x", "a-b", "a.b", strings.Repeat("a", 54)} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("UniqueName(%q) did not panic", bad)
				}
			}()
			testenv.UniqueName(bad)
		}()
	}
}

func TestNewPostgresDB(t *testing.T) {
	admin := mustConnectPG(t, testenv.PostgresAdmin(t))
	var name string
	t.Run("create", func(t *testing.T) {
		dsn := testenv.NewPostgresDB(t)
		if !strings.HasPrefix(dsn, "postgres://") {
			t.Fatalf("DSN %q, want a postgres:// URL", dsn)
		}
		// Left open on purpose: the drop must not wait for it.
		conn := mustConnectPG(t, dsn)
		name = queryString(t, conn, "SELECT current_database()")
		if !regexp.MustCompile(`^bounded_t_[a-z0-9]{10}$`).MatchString(name) {
			t.Fatalf("database %q, want bounded_t_<random>", name)
		}
		if _, err := conn.Exec(t.Context(), "CREATE TABLE t (id int); INSERT INTO t VALUES (1)"); err != nil {
			t.Fatal(err)
		}
	})
	// The subtest's cleanups, dropping the database, have run by now.
	if got := queryString(t, admin, "SELECT count(*)::text FROM pg_database WHERE datname = $1", name); got != "0" {
		t.Fatalf("database %s still exists after the test", name)
	}
}

func TestNewPostgresRole(t *testing.T) {
	admin := mustConnectPG(t, testenv.PostgresAdmin(t))
	db := testenv.NewPostgresDB(t)
	var role string
	t.Run("create", func(t *testing.T) {
		conn := mustConnectPG(t, testenv.NewPostgresRole(t, db))
		role = queryString(t, conn, "SELECT current_user")
		if !strings.HasPrefix(role, "bounded_r_") {
			t.Fatalf("current_user %q, want bounded_r_<random>", role)
		}
		if got := queryString(t, conn, "SELECT current_database()"); !strings.Contains(db, "/"+got+"?") {
			t.Fatalf("connected to %q, want the database of %s", got, db)
		}
		// Make the role own something, which DROP ROLE alone would refuse.
		dbAdmin := mustConnectPG(t, db)
		if _, err := dbAdmin.Exec(t.Context(), "GRANT CREATE ON SCHEMA public TO "+role); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(t.Context(), "CREATE TABLE owned_by_role (id int)"); err != nil {
			t.Fatal(err)
		}
	})
	if got := queryString(t, admin, "SELECT count(*)::text FROM pg_roles WHERE rolname = $1", role); got != "0" {
		t.Fatalf("role %s still exists after the test", role)
	}
}

func TestNATS(t *testing.T) {
	url := testenv.NATS(t)
	if again := testenv.NATS(t); again != url {
		t.Fatalf("NATS returned %q then %q, want one server per process", url, again)
	}
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.AccountInfo(t.Context()); err != nil {
		t.Fatalf("JetStream not enabled on %s: %v", url, err)
	}
}

func TestEmbeddedNATS(t *testing.T) {
	a, b := testenv.EmbeddedNATS(t), testenv.EmbeddedNATS(t)
	if a.ClientURL() == b.ClientURL() || a.Dir() == b.Dir() {
		t.Fatalf("servers share %s / %s, want private ones", a.ClientURL(), a.Dir())
	}
	nc, err := nats.Connect(a.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.AccountInfo(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// TestThrowawayCluster starts a cluster from the installed binaries, whatever
// else the machine runs, and checks it works and is gone after Stop.
func TestThrowawayCluster(t *testing.T) {
	t.Parallel()
	skipWithoutBinaries(t)
	c, err := testenv.StartCluster(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop() }) // in case the test fails before its own Stop
	if !strings.HasPrefix(c.DSN(), "postgres://postgres@127.0.0.1:") || c.DSN() == testenv.LoopbackPostgres {
		t.Fatalf("DSN %q, want a private port on loopback", c.DSN())
	}

	conn := mustConnectPG(t, c.DSN())
	if got := queryString(t, conn, "SHOW fsync"); got != "off" {
		t.Errorf("fsync = %s, want off", got)
	}
	if _, err := conn.Exec(t.Context(), "CREATE DATABASE made_here"); err != nil {
		t.Fatal(err)
	}
	dsn := strings.Replace(c.DSN(), "/postgres?", "/made_here?", 1)
	if got := queryString(t, mustConnectPG(t, dsn), "SELECT current_database()"); got != "made_here" {
		t.Fatalf("current_database = %q", got)
	}
	if os.Geteuid() == 0 {
		// Running as root, the cluster must belong to someone else.
		fi, err := os.Stat(c.Dir() + "/data")
		if err != nil {
			t.Fatal(err)
		}
		if uid := fileOwner(fi); uid == 0 {
			t.Fatal("data dir owned by root; initdb must run unprivileged")
		}
	}

	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(c.Dir()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("cluster dir %s still there after Stop (err %v)", c.Dir(), err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if conn, err := pgx.Connect(ctx, c.DSN()); err == nil {
		conn.Close(ctx)
		t.Fatal("cluster still accepts connections after Stop")
	}
}

// skipWithoutBinaries skips (and counts) a test of the throwaway cluster when
// no initdb/postgres are installed or PostgreSQL tests are turned off.
func skipWithoutBinaries(t *testing.T) {
	t.Helper()
	if os.Getenv(testenv.EnvPostgres) == "skip" {
		testenv.SkipNoPostgres(t, testenv.EnvPostgres+"=skip")
	}
	if _, _, err := testenv.PostgresBinaries(); err != nil {
		testenv.SkipNoPostgres(t, err.Error())
	}
}

// runSelf runs this test binary's tests matching run with extra environment,
// as a fresh process, so that discovery (cached per process) starts over.
func runSelf(t *testing.T, run string, env ...string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run", run, "-test.v", "-test.count=1")
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, testenv.EnvPostgres+"=") || strings.HasPrefix(kv, testenv.EnvCI+"=")
	})
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestForcedInitdb runs the PostgreSQL tests with BOUNDED_TEST_POSTGRES=initdb:
// discovery must start a throwaway cluster and Main must stop it.
func TestForcedInitdb(t *testing.T) {
	t.Parallel()
	skipWithoutBinaries(t)
	out, err := runSelf(t, "^TestNewPostgres(DB|Role)$", testenv.EnvPostgres+"=initdb")
	t.Logf("child output:\n%s", out)
	if err != nil {
		t.Fatalf("child failed: %v", err)
	}
	m := regexp.MustCompile(`testenv: PostgreSQL: throwaway cluster in (\S+):`).FindStringSubmatch(out)
	if m == nil {
		t.Fatal("child did not use a throwaway cluster")
	}
	if n := len(regexp.MustCompile(`(?m)^--- PASS: TestNewPostgres(DB|Role) `).FindAllString(out, -1)); n != 2 {
		t.Fatal("child did not pass both PostgreSQL tests")
	}
	if _, err := os.Stat(m[1]); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("cluster dir %s left behind (err %v)", m[1], err)
	}
}

// TestSkipSummary checks the one-line skip report and that CI=true turns the
// skips into failures.
func TestSkipSummary(t *testing.T) {
	t.Parallel()
	out, err := runSelf(t, "^TestNewPostgres(DB|Role)$", testenv.EnvPostgres+"=skip")
	if err != nil {
		t.Fatalf("child failed: %v\n%s", err, out)
	}
	const line = "testenv: 2 PostgreSQL tests skipped: " + testenv.EnvPostgres + "=skip\n"
	if strings.Count(out, "testenv: 2 PostgreSQL tests skipped") != 1 || !strings.Contains(out, line) {
		t.Fatalf("want exactly one line %q in:\n%s", line, out)
	}

	out, err = runSelf(t, "^TestNewPostgres(DB|Role)$", testenv.EnvPostgres+"=skip", testenv.EnvCI+"=true")
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("with CI=true the child must fail, got err %v:\n%s", err, out)
	}
	if !strings.Contains(out, "PostgreSQL required (CI=true)") || strings.Contains(out, "skipped") {
		t.Fatalf("with CI=true want failures, not skips:\n%s", out)
	}
}

func TestPostgresServerRestart(t *testing.T) {
	srv := testenv.NewPostgresServer(t)
	ctx := t.Context()
	c, err := pgx.Connect(ctx, srv.DSN())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, `CREATE TABLE survives (n int); INSERT INTO survives VALUES (42)`); err != nil {
		t.Fatal(err)
	}
	srv.Restart(t, 200*time.Millisecond)
	if err := c.Ping(ctx); err == nil {
		t.Fatal("a connection from before the restart still works: the server did not restart")
	}
	c.Close(ctx)
	c, err = pgx.Connect(ctx, srv.DSN())
	if err != nil {
		t.Fatalf("the same DSN after the restart: %v", err)
	}
	defer c.Close(ctx)
	var n int
	if err := c.QueryRow(ctx, `SELECT n FROM survives`).Scan(&n); err != nil || n != 42 {
		t.Fatalf("data after the restart: %d, %v", n, err)
	}
}
