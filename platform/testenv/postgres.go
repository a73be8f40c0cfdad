package testenv

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// LoopbackPostgres is the admin URL tried after BOUNDED_TEST_POSTGRES.
const LoopbackPostgres = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

const noServerReason = "no server (set " + EnvPostgres + ", run one on 127.0.0.1:5432, or install initdb/postgres)"

// pgResult is the outcome of PostgreSQL discovery: exactly one of dsn, skip
// and err is set.
type pgResult struct {
	dsn    string
	source string // where dsn came from, for the -v log
	skip   string // why no server could be had
	err    error  // a server was asked for and failed
}

// PostgresAdmin returns the admin (superuser) URL of the PostgreSQL server
// found for this test binary. The server is found on the first call and the
// answer is cached for the whole process. When there is none the test is
// skipped and counted for Main's summary; with CI=true it fails instead. A
// server named in BOUNDED_TEST_POSTGRES that does not answer fails the test.
//
// Tests should not create objects through the admin URL directly but use
// NewPostgresDB and NewPostgresRole, which clean up.
func PostgresAdmin(tb testing.TB) string {
	tb.Helper()
	state.pgOnce.Do(func() { state.pg = discoverPostgres() })
	r := state.pg
	switch {
	case r.err != nil:
		tb.Fatalf("testenv: PostgreSQL: %v", r.err)
	case r.skip != "":
		skipPostgres(tb, r.skip)
	}
	if state.pgAnnounced.CompareAndSwap(false, true) {
		tb.Logf("testenv: PostgreSQL: %s: %s", r.source, redact(r.dsn))
	}
	return r.dsn
}

// skipPostgres skips tb for want of PostgreSQL and counts it, or fails tb
// when real servers are required.
func skipPostgres(tb testing.TB, reason string) {
	tb.Helper()
	if RealServersRequired() {
		tb.Fatalf("testenv: PostgreSQL required (%s=true) but %s", EnvCI, reason)
	}
	state.mu.Lock()
	if state.pgSkips == nil {
		state.pgSkips = make(map[string]int)
	}
	state.pgSkips[reason]++
	state.mu.Unlock()
	tb.Skipf("testenv: PostgreSQL: %s", reason)
}

func discoverPostgres() pgResult {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	switch env := os.Getenv(EnvPostgres); env {
	case "skip":
		return pgResult{skip: EnvPostgres + "=skip"}
	case "initdb":
		c, err := startCluster(ctx)
		if err != nil {
			return pgResult{err: fmt.Errorf("%s=initdb: %w", EnvPostgres, err)}
		}
		return keepCluster(c)
	case "":
	default:
		if !strings.HasPrefix(env, "postgres://") && !strings.HasPrefix(env, "postgresql://") {
			return pgResult{err: fmt.Errorf("%s must be a postgres:// URL, \"initdb\" or \"skip\"", EnvPostgres)}
		}
		if err := pingPostgres(ctx, env); err != nil {
			return pgResult{err: fmt.Errorf("%s=%s: %w", EnvPostgres, redact(env), err)}
		}
		return pgResult{dsn: env, source: "from " + EnvPostgres}
	}

	loopErr := pingPostgres(ctx, LoopbackPostgres)
	if loopErr == nil {
		return pgResult{dsn: LoopbackPostgres, source: "loopback server"}
	}
	if _, _, err := postgresBinaries(); err != nil {
		return pgResult{skip: noServerReason}
	}
	c, err := startCluster(ctx)
	if err != nil {
		return pgResult{skip: fmt.Sprintf("no server (127.0.0.1:5432: %v; throwaway cluster: %v)", loopErr, err)}
	}
	return keepCluster(c)
}

// keepCluster records c for Main to stop and returns it as the found server.
func keepCluster(c *cluster) pgResult {
	state.mu.Lock()
	state.cluster = c
	state.mu.Unlock()
	return pgResult{dsn: c.DSN(), source: "throwaway cluster in " + c.Dir()}
}

func pingPostgres(ctx context.Context, dsn string) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return conn.Ping(ctx)
}

// NewPostgresDB creates an empty database with a unique name
// (bounded_t_<random>) on the server found by PostgresAdmin and returns a
// postgres:// URL that connects to it as the admin user. The database is
// dropped when the test ends, WITH (FORCE), so connections a test left open
// do not keep it alive. Skips or fails like PostgresAdmin.
func NewPostgresDB(tb testing.TB) string {
	tb.Helper()
	admin := PostgresAdmin(tb)
	name := UniqueName("bounded_t_")
	dsn, err := withDatabase(admin, name)
	if err != nil {
		tb.Fatalf("testenv: new database: %v", err)
	}
	ident := pgx.Identifier{name}.Sanitize()
	if err := execAdmin(admin, "CREATE DATABASE "+ident); err != nil {
		tb.Fatalf("testenv: new database: %v", err)
	}
	tb.Cleanup(func() {
		if err := execAdmin(admin, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
			tb.Errorf("testenv: drop database %s: %v", name, err)
		}
	})
	return dsn
}

// NewPostgresRole creates a LOGIN role with a unique name (bounded_r_<random>)
// and a random password, and returns a postgres:// URL that connects to db
// as that role. db is a database name or a URL as returned by NewPostgresDB.
//
// The role has no privileges beyond LOGIN and what PUBLIC has (CONNECT on
// databases, unless revoked); grant what the test needs through the admin
// URL. When the test ends its sessions are terminated, whatever it owns or
// was granted in db is dropped (DROP OWNED), and the role is dropped.
func NewPostgresRole(tb testing.TB, db string) string {
	tb.Helper()
	admin := PostgresAdmin(tb)
	if strings.Contains(db, "://") {
		u, err := url.Parse(db)
		if err != nil {
			tb.Fatalf("testenv: new role: database URL: %v", err)
		}
		db = strings.TrimPrefix(u.Path, "/")
	}
	if db == "" {
		tb.Fatalf("testenv: new role: empty database name")
	}
	role := UniqueName("bounded_r_")
	password := UniqueName("p") // letters and digits only: safe inside a literal
	adminDB, err := withDatabase(admin, db)
	if err != nil {
		tb.Fatalf("testenv: new role: %v", err)
	}
	dsn, err := withUser(adminDB, role, password)
	if err != nil {
		tb.Fatalf("testenv: new role: %v", err)
	}
	ident := pgx.Identifier{role}.Sanitize()
	if err := execAdmin(admin, "CREATE ROLE "+ident+" LOGIN PASSWORD '"+password+"'"); err != nil {
		tb.Fatalf("testenv: new role: %v", err)
	}
	tb.Cleanup(func() {
		if err := dropRole(admin, adminDB, role); err != nil {
			tb.Errorf("testenv: drop role %s: %v", role, err)
		}
	})
	return dsn
}

func dropRole(admin, adminDB, role string) error {
	ident := pgx.Identifier{role}.Sanitize()
	if err := execAdmin(admin, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", role); err != nil {
		return err
	}
	// DROP OWNED works per database; db may already be gone (dropped by a
	// cleanup that ran first), and then there is nothing in it to drop.
	if err := execAdmin(adminDB, "DROP OWNED BY "+ident); err != nil && !isMissingDatabase(err) {
		return err
	}
	return execAdmin(admin, "DROP ROLE IF EXISTS "+ident)
}

func isMissingDatabase(err error) bool {
	var pgErr interface{ SQLState() string }
	return errors.As(err, &pgErr) && pgErr.SQLState() == "3D000" // invalid_catalog_name
}

// execAdmin runs one statement on a fresh connection. It uses its own
// context, not the test's: cleanups run after the test's context is
// cancelled, and must still finish.
func execAdmin(dsn, sql string, args ...any) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		return fmt.Errorf("%s: %w", strings.Fields(sql)[0], err)
	}
	return nil
}

func withDatabase(dsn, db string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("parse admin URL: %w", err)
	}
	u.Path = "/" + db
	u.RawPath = ""
	return u.String(), nil
}

func withUser(dsn, user, password string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("parse admin URL: %w", err)
	}
	u.User = url.UserPassword(user, password)
	return u.String(), nil
}

// redact hides a URL's password for logs.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
