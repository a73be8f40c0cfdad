package main

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/bounded-dev/bounded/platform/inbox"
	"github.com/bounded-dev/bounded/platform/outbox"
	"github.com/bounded-dev/bounded/platform/pgprovision"
	"github.com/bounded-dev/bounded/platform/sqldb"
	"github.com/bounded-dev/bounded/platform/testenv"
)

// dbPrefix returns a unique prefix for the shop's databases and roles on the
// test server, all dropped when the test ends.
func dbPrefix(t *testing.T, admin string) string {
	t.Helper()
	prefix := testenv.UniqueName("dbt")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := pgprovision.Drop(ctx, admin, prefix, shopServiceNames()); err != nil {
			t.Errorf("dropping the databases: %v", err)
		}
	})
	return prefix
}

func pgConnect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func pgCount(t *testing.T, conn *pgx.Conn, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := conn.QueryRow(t.Context(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func sqlState(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

func onDatabase(t *testing.T, dsn, db string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + db
	return u.String()
}

// TestDBProvision drives `db provision` in its three formats and `db drop`
// on the test server, with the admin DSN and secret taken from the
// environment: every service of the shop gets a database its DSN logs in
// to; running it again reports them existing with the same DSNs; `db drop`
// needs --yes, then removes them.
func TestDBProvision(t *testing.T) {
	admin := testenv.PostgresAdmin(t)
	prefix := dbPrefix(t, admin)
	t.Setenv("BOUNDED_ADMIN_DSN", admin)
	t.Setenv("BOUNDED_DB_SECRET", testenv.UniqueName("secret"))
	services := shopServiceNames()

	code, stdout, stderr := run(t, "db", "provision", "--prefix", prefix)
	if code != 0 {
		t.Fatalf("db provision: exit %d, stderr %q", code, stderr)
	}
	// The table, then one "service DSN" line per service.
	table, dsnLines, ok := strings.Cut(stdout, "\n\n")
	if !ok {
		t.Fatalf("db provision: no blank line between the table and the DSNs:\n%s", stdout)
	}
	dsns := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(dsnLines), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) != 2 {
			t.Fatalf("DSN line %q: want SERVICE DSN", line)
		}
		dsns[f[0]] = f[1]
	}
	var rows []string
	for _, line := range strings.Split(table, "\n") {
		rows = append(rows, strings.Join(strings.Fields(line), " "))
	}
	for _, s := range services {
		name := prefix + "_" + s
		if !slices.Contains(rows, s+" "+name+" "+name+" created") {
			t.Errorf("table has no row %s %s %s created:\n%s", s, name, name, table)
		}
		if dsns[s] == "" {
			t.Fatalf("no DSN for %s:\n%s", s, stdout)
		}
		var user string
		if err := pgConnect(t, dsns[s]).QueryRow(t.Context(), "SELECT current_user::text").Scan(&user); err != nil || user != name {
			t.Errorf("%s's DSN logs in as %q (%v), want %s", s, user, err, name)
		}
	}

	code, stdout, stderr = run(t, "db", "provision", "--prefix", prefix, "--format", "env")
	if code != 0 {
		t.Fatalf("db provision --format env: exit %d, stderr %q", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != len(services) {
		t.Fatalf("--format env: %d lines, want %d:\n%s", len(lines), len(services), stdout)
	}
	for i, s := range services {
		if want := "BOUNDED_DSN_" + strings.ToUpper(s) + "=" + dsns[s]; lines[i] != want {
			t.Errorf("--format env line %d = %q, want %q", i, lines[i], want)
		}
	}

	code, stdout, stderr = run(t, "db", "provision", "--prefix", prefix, "--format", "json", "--services", "orders,payments")
	if code != 0 {
		t.Fatalf("db provision --format json: exit %d, stderr %q", code, stderr)
	}
	var got []databaseJSON
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("--format json: %v\n%s", err, stdout)
	}
	want := []databaseJSON{
		{Service: "orders", Database: prefix + "_orders", Role: prefix + "_orders", DSN: dsns["orders"]},
		{Service: "payments", Database: prefix + "_payments", Role: prefix + "_payments", DSN: dsns["payments"]},
	}
	if !slices.Equal(got, want) {
		t.Errorf("--format json = %+v, want %+v (same DSNs, created false)", got, want)
	}

	adminConn := pgConnect(t, admin)
	ours := "SELECT count(*) FROM pg_database WHERE datname LIKE $1"
	code, stdout, stderr = run(t, "db", "drop", "--prefix", prefix)
	if code != 2 || stderr != "bounded: db drop: nothing dropped; give --yes to drop "+strconv.Itoa(len(services))+" databases and their roles\n" ||
		!strings.Contains(stdout, prefix+"_orders") {
		t.Errorf("db drop without --yes: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if n := pgCount(t, adminConn, ours, prefix+"\\_%"); n != len(services) {
		t.Errorf("db drop without --yes left %d of %d databases", n, len(services))
	}
	code, _, stderr = run(t, "db", "drop", "--prefix", prefix, "--yes")
	if code != 0 {
		t.Fatalf("db drop --yes: exit %d, stderr %q", code, stderr)
	}
	if n := pgCount(t, adminConn, ours, prefix+"\\_%"); n != 0 {
		t.Errorf("db drop --yes left %d databases", n)
	}
	if n := pgCount(t, adminConn, "SELECT count(*) FROM pg_roles WHERE rolname LIKE $1", prefix+"\\_%"); n != 0 {
		t.Errorf("db drop --yes left %d roles", n)
	}
}

// TestDBUsage: the db commands' usage errors, one line each, exit 2,
// before connecting anywhere.
func TestDBUsage(t *testing.T) {
	t.Setenv("BOUNDED_ADMIN_DSN", "")
	t.Setenv("BOUNDED_DB_SECRET", "")
	const admin = "postgres://postgres@127.0.0.1:1/postgres"
	for _, tc := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"db"}, `bounded: "db" needs a subcommand: db provision, db drop` + "\n"},
		{[]string{"db", "provision", "--secret", "s"}, "bounded: db provision: --admin (or $BOUNDED_ADMIN_DSN) is required: a PostgreSQL superuser's URL\n"},
		{[]string{"db", "provision", "--admin", admin}, "bounded: db provision: --secret (or $BOUNDED_DB_SECRET) is required: the roles' passwords are derived from it\n"},
		{[]string{"db", "provision", "--admin", admin, "--secret", "s", "--format", "xml"}, `bounded: db provision: --format "xml": want text, env or json` + "\n"},
		{[]string{"db", "provision", "--admin", admin, "--secret", "s", "--services", "orders,nosuch"}, `bounded: db provision: --services: no service "nosuch"; the services are catalog, cart, orders, payments, inventory, fulfillment, reporting` + "\n"},
		{[]string{"db", "provision", "--admin", admin, "--secret", "s", "--services", "orders,orders"}, "bounded: db provision: --services: orders listed twice\n"},
		{[]string{"db", "provision", "--admin", admin, "--secret", "s", "--prefix", "My-Shop"}, `bounded: db provision: prefix "My-Shop": want lower-case letters, digits and '_', starting with a letter` + "\n"},
		{[]string{"db", "provision", "--admin", admin, "--secret", "s", "extra"}, `bounded: db provision: unexpected argument "extra"` + "\n"},
		{[]string{"db", "drop", "--yes"}, "bounded: db drop: --admin (or $BOUNDED_ADMIN_DSN) is required: a PostgreSQL superuser's URL\n"},
		{[]string{"db", "drop", "--admin", admin, "--prefix", "pg"}, `bounded: db drop: prefix "pg": PostgreSQL reserves role names starting with pg_` + "\n"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, _, stderr := run(t, tc.args...)
			if code != 2 || stderr != tc.stderr {
				t.Errorf("exit %d, stderr %q; want 2, %q", code, stderr, tc.stderr)
			}
		})
	}
	if code, stdout, _ := run(t, "db", "provision", "-h"); code != 0 || !strings.Contains(stdout, "derived from") {
		t.Errorf("db provision -h: exit %d, stdout %q", code, stdout)
	}
}

// TestDBServiceMigrations provisions the shop, applies each service's real
// migrations as its own role (as platform/service's Host does), and proves
// the ownership rule on the real schemas: for every ordered pair of
// services (a, b), a's role is refused on b's database, and with a
// temporary CONNECT grant still cannot read any of b's tables.
func TestDBServiceMigrations(t *testing.T) {
	t.Parallel()
	admin := testenv.PostgresAdmin(t)
	prefix := dbPrefix(t, admin)
	dbs, err := pgprovision.Provision(t.Context(), admin, pgprovision.Config{Prefix: prefix, Services: shopServiceNames(), Secret: "test"})
	if err != nil {
		t.Fatalf("Provision: %v", err)
	}
	tables := map[string][]string{} // service → its tables
	for i, spec := range shopSpecs(shopConfig{}) {
		db, err := sqldb.Open(t.Context(), sqldb.Config{DSN: dbs[i].DSN})
		if err != nil {
			t.Fatalf("%s: open: %v", spec.Name, err)
		}
		t.Cleanup(func() { db.Close() })
		ob, err := outbox.New(db, outbox.Config{})
		if err != nil {
			t.Fatalf("%s: outbox: %v", spec.Name, err)
		}
		if err := ob.Migrate(t.Context()); err != nil {
			t.Fatalf("%s: outbox migrations: %v", spec.Name, err)
		}
		if err := inbox.Migrate(t.Context(), db); err != nil {
			t.Fatalf("%s: inbox migrations: %v", spec.Name, err)
		}
		sub, err := fs.Sub(spec.Migrations, "postgres")
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Migrate(t.Context(), sub, "schema_version"); err != nil {
			t.Fatalf("%s: migrations as its own role: %v", spec.Name, err)
		}
		rows, err := pgConnect(t, dbs[i].DSN).Query(t.Context(),
			"SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' AND tableowner = current_user ORDER BY 1")
		if err != nil {
			t.Fatal(err)
		}
		if tables[spec.Name], err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Contains(tables["payments"], "payments") || !slices.Contains(tables["orders"], "orders") {
		t.Fatalf("the payments and orders roles do not own their tables: %v", tables)
	}

	adminConn := pgConnect(t, admin)
	for _, a := range dbs {
		for _, b := range dbs {
			if a == b {
				continue
			}
			dsn := onDatabase(t, a.DSN, b.Name)
			if _, err := pgx.Connect(t.Context(), dsn); sqlState(err) != "42501" {
				t.Errorf("%s's role connecting to %s: got %v, want insufficient_privilege (42501)", a.Service, b.Name, err)
			}
			on, role := "CONNECT ON DATABASE "+pgx.Identifier{b.Name}.Sanitize(), pgx.Identifier{a.Role}.Sanitize()
			if _, err := adminConn.Exec(t.Context(), "GRANT "+on+" TO "+role); err != nil {
				t.Fatal(err)
			}
			conn, err := pgx.Connect(t.Context(), dsn)
			if err != nil {
				t.Fatalf("%s's role on %s with CONNECT: %v", a.Service, b.Name, err)
			}
			for _, table := range tables[b.Service] {
				sql := "SELECT * FROM " + pgx.Identifier{"public", table}.Sanitize() + " LIMIT 1"
				if _, err := conn.Exec(t.Context(), sql); sqlState(err) != "42501" {
					t.Errorf("%s's role: %s on %s: got %v, want insufficient_privilege (42501)", a.Service, sql, b.Name, err)
				}
			}
			conn.Close(context.Background())
			if _, err := adminConn.Exec(t.Context(), "REVOKE "+on+" FROM "+role); err != nil {
				t.Fatal(err)
			}
		}
	}
}
