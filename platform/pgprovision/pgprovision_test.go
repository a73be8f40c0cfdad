package pgprovision_test

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/bounded-dev/bounded/platform/pgprovision"
	"github.com/bounded-dev/bounded/platform/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// mustProvision provisions services under a unique prefix and drops them
// when the test ends (also if Provision failed half-way).
func mustProvision(t *testing.T, admin string, services ...string) (prefix, secret string, dbs []pgprovision.Database) {
	t.Helper()
	prefix, secret = testenv.UniqueName("pgp"), testenv.UniqueName("s")
	mustDropLater(t, admin, prefix, services)
	dbs, err := pgprovision.Provision(t.Context(), admin, pgprovision.Config{Prefix: prefix, Services: services, Secret: secret})
	if err != nil {
		t.Fatalf("Provision: %v", err)
	}
	return prefix, secret, dbs
}

func mustDropLater(t *testing.T, admin, prefix string, services []string) {
	t.Helper()
	t.Cleanup(func() {
		// A fresh context: the test's is cancelled by now.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := pgprovision.Drop(ctx, admin, prefix, services); err != nil {
			t.Errorf("Drop: %v", err)
		}
	})
}

func mustConnect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatalf("connect %s: %v", redacted(dsn), err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func mustExec(t *testing.T, conn *pgx.Conn, sql string, args ...any) {
	t.Helper()
	if _, err := conn.Exec(t.Context(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func queryInt(t *testing.T, conn *pgx.Conn, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := conn.QueryRow(t.Context(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// withDatabase is dsn connecting to database db instead.
func withDatabase(t *testing.T, dsn, db string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + db
	return u.String()
}

func redacted(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(bad URL)"
	}
	return u.Redacted()
}

func sqlState(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

// wantRefused fails t unless err is PostgreSQL's insufficient_privilege.
func wantRefused(t *testing.T, what string, err error) {
	t.Helper()
	if code := sqlState(err); code != "42501" {
		t.Errorf("%s: got error %v (SQLSTATE %q), want insufficient_privilege (42501)", what, err, code)
	}
}

var threeServices = []string{"orders", "payments", "inventory"}

// TestProvision: each service's DSN logs in as its own role, into its own
// database, which the role owns and may create tables in; the DSN keeps
// the admin DSN's host, port and parameters; the password is the documented
// HMAC of the secret; provisioning again changes nothing and keeps the data;
// a new secret rotates the passwords.
func TestProvision(t *testing.T) {
	t.Parallel()
	admin := testenv.PostgresAdmin(t)
	au, err := url.Parse(admin)
	if err != nil {
		t.Fatal(err)
	}
	q := au.Query()
	q.Set("application_name", "pgprovision_test")
	au.RawQuery = q.Encode()
	admin = au.String()

	prefix, secret, dbs := mustProvision(t, admin, threeServices...)
	if len(dbs) != len(threeServices) {
		t.Fatalf("got %d databases, want %d", len(dbs), len(threeServices))
	}
	adminConn := mustConnect(t, admin)
	for i, db := range dbs {
		name := prefix + "_" + threeServices[i]
		if db.Service != threeServices[i] || db.Name != name || db.Role != name || !db.Created {
			t.Errorf("database %d = %+v, want service %s, name and role %s, created", i, db, threeServices[i], name)
		}
		u, err := url.Parse(db.DSN)
		if err != nil {
			t.Fatalf("DSN of %s: %v", db.Service, err)
		}
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte(name))
		password, _ := u.User.Password()
		if u.User.Username() != name || password != hex.EncodeToString(mac.Sum(nil))[:32] {
			t.Errorf("DSN of %s: user %q password %q, want role %s and HMAC-SHA256(secret, role)[:32]", db.Service, u.User.Username(), password, name)
		}
		if u.Host != au.Host || u.Path != "/"+name || u.Query().Encode() != au.Query().Encode() {
			t.Errorf("DSN of %s = %s: want host %s, database %s and the admin's parameters %s", db.Service, redacted(db.DSN), au.Host, name, au.RawQuery)
		}

		conn := mustConnect(t, db.DSN)
		var user, database string
		if err := conn.QueryRow(t.Context(), "SELECT current_user::text, current_database()::text").Scan(&user, &database); err != nil {
			t.Fatal(err)
		}
		if user != name || database != name {
			t.Errorf("%s's DSN connects as %s to %s, want %s to %s", db.Service, user, database, name, name)
		}
		mustExec(t, conn, "CREATE TABLE notes (id int PRIMARY KEY)")
		mustExec(t, conn, "INSERT INTO notes VALUES (1), (2)")

		// The state the package comment promises.
		if n := queryInt(t, adminConn, `SELECT count(*) FROM pg_roles WHERE rolname = $1 AND rolcanlogin
			AND NOT (rolsuper OR rolcreatedb OR rolcreaterole OR rolreplication OR rolbypassrls)`, name); n != 1 {
			t.Errorf("role %s: not a plain login role", name)
		}
		if n := queryInt(t, adminConn, `SELECT count(*) FROM pg_database WHERE datname = $1 AND datdba = $1::regrole
			AND NOT EXISTS (SELECT 1 FROM aclexplode(datacl) WHERE grantee = 0)`, name); n != 1 {
			t.Errorf("database %s: not owned by its role, or PUBLIC has privileges on it", name)
		}
		if n := queryInt(t, conn, `SELECT count(*) FROM pg_namespace WHERE nspname = 'public' AND nspowner = $1::regrole
			AND NOT EXISTS (SELECT 1 FROM aclexplode(nspacl) WHERE grantee = 0)`, name); n != 1 {
			t.Errorf("database %s: schema public not owned by its role, or PUBLIC has privileges on it", name)
		}
	}

	again, err := pgprovision.Provision(t.Context(), admin, pgprovision.Config{Prefix: prefix, Services: threeServices, Secret: secret})
	if err != nil {
		t.Fatalf("Provision again: %v", err)
	}
	for i, db := range again {
		want := dbs[i]
		want.Created = false
		if db != want {
			t.Errorf("provisioning again: %+v, want %+v", db, want)
		}
		if n := queryInt(t, mustConnect(t, db.DSN), "SELECT count(*) FROM notes"); n != 2 {
			t.Errorf("%s: %d rows after provisioning again, want 2", db.Service, n)
		}
	}

	wantVerifier(t, adminConn, dbs[0])

	rotated, err := pgprovision.Provision(t.Context(), admin, pgprovision.Config{Prefix: prefix, Services: threeServices[:1], Secret: secret + "x"})
	if err != nil {
		t.Fatalf("Provision with a new secret: %v", err)
	}
	if rotated[0].DSN == dbs[0].DSN {
		t.Fatal("a new secret gave the same DSN")
	}
	wantVerifier(t, adminConn, rotated[0])
	mustConnect(t, rotated[0].DSN)
	// The test server may trust loopback connections (the machines' setup
	// does): then any password gets in, and only the verifier check above
	// speaks for the password.
	wrong := mustURL(t, rotated[0].DSN)
	wrong.User = url.UserPassword(rotated[0].Role, "wrong")
	if _, err := pgx.Connect(t.Context(), wrong.String()); err == nil {
		t.Log("the server does not check passwords; skipping the rotated-password login check")
		return
	}
	if _, err := pgx.Connect(t.Context(), dbs[0].DSN); sqlState(err) != "28P01" { // invalid_password
		t.Errorf("old password after rotation: got %v, want invalid_password", err)
	}
}

// wantVerifier checks that the SCRAM-SHA-256 verifier the server stores for
// db's role is the one of the password in db's DSN (RFC 5802: StoredKey =
// SHA-256(HMAC(SaltedPassword, "Client Key"))).
func wantVerifier(t *testing.T, adminConn *pgx.Conn, db pgprovision.Database) {
	t.Helper()
	var stored string
	if err := adminConn.QueryRow(t.Context(), "SELECT rolpassword FROM pg_authid WHERE rolname = $1", db.Role).Scan(&stored); err != nil {
		t.Fatalf("read %s's verifier: %v", db.Role, err)
	}
	var iterations int
	var salt64, keys string
	if _, err := fmt.Sscanf(strings.NewReplacer("$", " ", ":", " ").Replace(stored), "SCRAM-SHA-256 %d %s %s", &iterations, &salt64, &keys); err != nil {
		t.Fatalf("%s's verifier %q: not SCRAM-SHA-256: %v", db.Role, stored, err)
	}
	salt, err := base64.StdEncoding.DecodeString(salt64)
	if err != nil {
		t.Fatal(err)
	}
	password, _ := mustURL(t, db.DSN).User.Password()
	salted, err := pbkdf2.Key(sha256.New, password, salt, iterations, sha256.Size)
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(sha256.New, salted)
	mac.Write([]byte("Client Key"))
	storedKey := sha256.Sum256(mac.Sum(nil))
	if want := base64.StdEncoding.EncodeToString(storedKey[:]); !strings.HasPrefix(stored, fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:", iterations, salt64, want)) {
		t.Errorf("%s's verifier %q does not match the DSN's password", db.Role, stored)
	}
}

// TestProvisionAdoptsExisting: a database that exists with another owner,
// and a role that exists with too many rights, are brought into line.
func TestProvisionAdoptsExisting(t *testing.T) {
	t.Parallel()
	admin := testenv.PostgresAdmin(t)
	prefix := testenv.UniqueName("pgp")
	name := prefix + "_orders"
	mustDropLater(t, admin, prefix, []string{"orders"})
	adminConn := mustConnect(t, admin)
	mustExec(t, adminConn, "CREATE ROLE "+name+" CREATEDB")
	mustExec(t, adminConn, "CREATE DATABASE "+name)

	dbs, err := pgprovision.Provision(t.Context(), admin, pgprovision.Config{Prefix: prefix, Services: []string{"orders"}, Secret: "s"})
	if err != nil {
		t.Fatalf("Provision: %v", err)
	}
	if dbs[0].Created {
		t.Error("Created is true for a database that existed")
	}
	if n := queryInt(t, adminConn, `SELECT count(*) FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba
		WHERE d.datname = $1 AND r.rolname = $1 AND r.rolcanlogin AND NOT r.rolcreatedb`, name); n != 1 {
		t.Errorf("database %s is not owned by a plain login role %s", name, name)
	}
	mustConnect(t, dbs[0].DSN)

	// A membership granted by someone else is reported, not kept quiet.
	other := testenv.UniqueName("pgp_other")
	mustExec(t, adminConn, "CREATE ROLE "+other)
	t.Cleanup(func() { adminConn.Exec(context.Background(), "DROP ROLE IF EXISTS "+other) })
	mustExec(t, adminConn, "GRANT "+other+" TO "+name)
	_, err = pgprovision.Provision(t.Context(), admin, pgprovision.Config{Prefix: prefix, Services: []string{"orders"}, Secret: "s"})
	if err == nil || !strings.Contains(err.Error(), "service orders") || !strings.Contains(err.Error(), "member of "+other) {
		t.Errorf("Provision with role a member of another: got %v, want an error naming the service and the membership", err)
	}
	mustExec(t, adminConn, "REVOKE "+other+" FROM "+name)
}

// TestRefusalMatrix proves the isolation: for every ordered pair of
// services (a, b), a's role is refused at connection time on b's database;
// and even once the admin grants it CONNECT there, it can neither read,
// write nor create anything in b's database. It can log in to the admin's
// own database (PUBLIC keeps CONNECT on databases Provision did not make)
// but reaches no service table from there.
func TestRefusalMatrix(t *testing.T) {
	t.Parallel()
	admin := testenv.PostgresAdmin(t)
	_, _, dbs := mustProvision(t, admin, threeServices...)
	for _, db := range dbs {
		conn := mustConnect(t, db.DSN)
		mustExec(t, conn, "CREATE TABLE secrets (id int PRIMARY KEY, value text NOT NULL)")
		mustExec(t, conn, "INSERT INTO secrets VALUES (1, $1)", db.Service)
	}
	adminConn := mustConnect(t, admin)

	for _, a := range dbs {
		for _, b := range dbs {
			if a == b {
				continue
			}
			t.Run(a.Service+"_on_"+b.Service, func(t *testing.T) {
				dsn := withDatabase(t, a.DSN, b.Name)
				_, err := pgx.Connect(t.Context(), dsn)
				wantRefused(t, "connect", err)
				if err == nil || !strings.Contains(err.Error(), "permission denied for database") {
					t.Errorf("connect: got %v, want permission denied for database %s", err, b.Name)
				}

				// Defence in depth: with CONNECT, still nothing.
				on := "CONNECT ON DATABASE " + pgx.Identifier{b.Name}.Sanitize()
				role := pgx.Identifier{a.Role}.Sanitize()
				mustExec(t, adminConn, "GRANT "+on+" TO "+role)
				t.Cleanup(func() {
					if _, err := adminConn.Exec(context.Background(), "REVOKE "+on+" FROM "+role); err != nil {
						t.Errorf("revoke the temporary grant: %v", err)
					}
				})
				conn := mustConnect(t, dsn)
				for _, stmt := range []string{
					"SELECT * FROM public.secrets",
					"INSERT INTO public.secrets VALUES (2, 'x')",
					"UPDATE public.secrets SET value = 'x'",
					"DELETE FROM public.secrets",
					"CREATE TABLE public.intruder (id int)",
					"CREATE TEMP TABLE intruder (id int)",
				} {
					_, err := conn.Exec(t.Context(), stmt)
					wantRefused(t, stmt, err)
				}
				// Unqualified, the table is not even found: without USAGE
				// on schema public, the search path skips it.
				if _, err := conn.Exec(t.Context(), "SELECT * FROM secrets"); sqlState(err) != "42P01" {
					t.Errorf("SELECT * FROM secrets: got %v, want undefined_table (42P01)", err)
				}
				// b's data is untouched.
				var value string
				if err := mustConnect(t, b.DSN).QueryRow(t.Context(), "SELECT value FROM secrets WHERE id = 1").Scan(&value); err != nil || value != b.Service {
					t.Errorf("b's row: %q, %v", value, err)
				}
			})
		}
	}

	t.Run("admin_database", func(t *testing.T) {
		adminDB := strings.TrimPrefix(mustURL(t, admin).Path, "/")
		for _, a := range dbs {
			// Documented: PUBLIC's CONNECT on databases Provision did not
			// create is left alone.
			conn := mustConnect(t, withDatabase(t, a.DSN, adminDB))
			if n := queryInt(t, conn, "SELECT count(*) FROM pg_class WHERE relowner = current_user::regrole"); n != 0 {
				t.Errorf("%s owns %d relations in %s", a.Role, n, adminDB)
			}
			for _, b := range dbs {
				// PostgreSQL has no cross-database queries; the name is
				// refused before privileges are even checked.
				if _, err := conn.Exec(t.Context(), "SELECT * FROM "+pgx.Identifier{b.Name, "public", "secrets"}.Sanitize()); err == nil {
					t.Errorf("%s read %s's table from %s", a.Role, b.Service, adminDB)
				}
			}
		}
	})
}

func mustURL(t *testing.T, dsn string) *url.URL {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestDrop: Drop removes the databases and the roles although sessions are
// open in them (as the roles, and as the admin) and a role holds a grant on
// another database; dropping again, or what was never made, is fine.
func TestDrop(t *testing.T) {
	t.Parallel()
	admin := testenv.PostgresAdmin(t)
	prefix, _, dbs := mustProvision(t, admin, "orders", "payments")
	adminConn := mustConnect(t, admin)
	for _, db := range dbs {
		mustExec(t, mustConnect(t, db.DSN), "CREATE TABLE notes (id int)")
		mustConnect(t, withDatabase(t, admin, db.Name))
		mustConnect(t, withDatabase(t, db.DSN, mustURL(t, admin).Path[1:]))
	}
	mustExec(t, adminConn, "GRANT CONNECT ON DATABASE "+dbs[1].Name+" TO "+dbs[0].Role)

	if err := pgprovision.Drop(t.Context(), admin, prefix, []string{"orders", "payments", "nosuch"}); err != nil {
		t.Fatalf("Drop: %v", err)
	}
	names := []string{dbs[0].Name, dbs[1].Name}
	if n := queryInt(t, adminConn, "SELECT count(*) FROM pg_database WHERE datname = ANY($1)", names); n != 0 {
		t.Errorf("%d databases left", n)
	}
	if n := queryInt(t, adminConn, "SELECT count(*) FROM pg_roles WHERE rolname = ANY($1)", names); n != 0 {
		t.Errorf("%d roles left", n)
	}
	if err := pgprovision.Drop(t.Context(), admin, prefix, []string{"orders", "payments"}); err != nil {
		t.Fatalf("Drop again: %v", err)
	}
}

// TestBadConfig: a configuration Provision or Drop cannot use is refused
// with an error saying what is wrong, before connecting anywhere.
func TestBadConfig(t *testing.T) {
	t.Parallel()
	const unreachable = "postgres://nobody@127.0.0.1:1/postgres?connect_timeout=1"
	long := strings.Repeat("x", 60)
	for _, tc := range []struct {
		name     string
		admin    string
		cfg      pgprovision.Config
		want     string
		dropToo  bool // Drop (which needs no secret) refuses it too
		wantDrop string
	}{
		{"empty secret", unreachable, pgprovision.Config{Services: []string{"orders"}}, "empty Secret", false, ""},
		{"upper-case prefix", unreachable, pgprovision.Config{Prefix: "Shop", Services: []string{"orders"}, Secret: "s"}, `prefix "Shop"`, true, ""},
		{"prefix with a dash", unreachable, pgprovision.Config{Prefix: "my-shop", Services: []string{"orders"}, Secret: "s"}, `prefix "my-shop"`, true, ""},
		{"prefix starting with a digit", unreachable, pgprovision.Config{Prefix: "1shop", Services: []string{"orders"}, Secret: "s"}, `prefix "1shop"`, true, ""},
		{"reserved prefix", unreachable, pgprovision.Config{Prefix: "pg", Services: []string{"orders"}, Secret: "s"}, "reserves", true, ""},
		{"quote in prefix", unreachable, pgprovision.Config{Prefix: `x"; DROP ROLE postgres; --`, Services: []string{"orders"}, Secret: "s"}, "prefix", true, ""},
		{"upper-case service", unreachable, pgprovision.Config{Services: []string{"Orders"}, Secret: "s"}, `service name "Orders"`, true, ""},
		{"service with a digit", unreachable, pgprovision.Config{Services: []string{"orders2"}, Secret: "s"}, `service name "orders2"`, true, ""},
		{"empty service", unreachable, pgprovision.Config{Services: []string{""}, Secret: "s"}, `service name ""`, true, ""},
		{"duplicate service", unreachable, pgprovision.Config{Services: []string{"orders", "orders"}, Secret: "s"}, "listed twice", true, ""},
		{"no services", unreachable, pgprovision.Config{Secret: "s"}, "no services", true, ""},
		{"name too long", unreachable, pgprovision.Config{Prefix: long, Services: []string{"orders"}, Secret: "s"}, "63", true, ""},
		{"keyword DSN", "host=127.0.0.1 user=postgres", pgprovision.Config{Services: []string{"orders"}, Secret: "s"}, "postgres:// URL", true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := pgprovision.Provision(t.Context(), tc.admin, tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Provision: got %v, want an error containing %q", err, tc.want)
			}
			if err := tc.cfg.Validate(); tc.admin == unreachable && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("Validate: got %v, want an error containing %q", err, tc.want)
			}
			if tc.dropToo {
				err := pgprovision.Drop(t.Context(), tc.admin, tc.cfg.Prefix, tc.cfg.Services)
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("Drop: got %v, want an error containing %q", err, tc.want)
				}
			}
		})
	}
}

// TestErrorsNameServiceAndStep: a failing step is reported with the
// service and what was being done, and the admin's password stays out of
// the message.
func TestErrorsNameServiceAndStep(t *testing.T) {
	t.Parallel()
	admin := testenv.PostgresAdmin(t)
	prefix := testenv.UniqueName("pgp")
	mustDropLater(t, admin, prefix, []string{"orders", "payments"})
	// A step that fails: connecting to a database that takes no connections.
	adminConn := mustConnect(t, admin)
	name := prefix + "_payments"
	mustExec(t, adminConn, "CREATE DATABASE "+name+" ALLOW_CONNECTIONS false")

	dbs, err := pgprovision.Provision(t.Context(), admin, pgprovision.Config{Prefix: prefix, Services: []string{"orders", "payments"}, Secret: "s"})
	if err == nil || dbs != nil {
		t.Fatalf("Provision: got %v, %v; want an error", dbs, err)
	}
	for _, want := range []string{"service payments", "connect to database " + name} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	mustExec(t, adminConn, "ALTER DATABASE "+name+" ALLOW_CONNECTIONS true")

	u := mustURL(t, admin)
	u.User = url.UserPassword("postgres", "hunter2")
	u.Host = "127.0.0.1:1"
	q := u.Query()
	q.Set("connect_timeout", "1")
	u.RawQuery = q.Encode()
	_, err = pgprovision.Provision(t.Context(), u.String(), pgprovision.Config{Prefix: prefix, Services: []string{"orders"}, Secret: "s"})
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("unreachable admin: got %v, want an error without the password", err)
	}
}
