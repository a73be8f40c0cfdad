// Package pgprovision creates, on one PostgreSQL server, a database and a login
// role per service, such that each role owns its database and can reach no
// other service's data. It is how distributed mode enforces "a service owns
// its data" in the database itself, not only by convention.
//
// The isolation model. For a service s, with the default prefix:
//
//   - role bounded_s: LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION
//     NOBYPASSRLS, a member of no other role; its password is derived from a
//     secret (see [Config.Secret]);
//   - database bounded_s, owned by bounded_s, with every privilege of PUBLIC
//     revoked (PostgreSQL grants CONNECT and TEMPORARY on every new database
//     to PUBLIC): only its owner, and superusers, may connect;
//   - in it, schema public owned by bounded_s with every privilege of PUBLIC
//     revoked (PostgreSQL 15 already drops PUBLIC's CREATE there; older
//     versions grant it).
//
// So a service's role is refused at connection time on every other service's
// database (SQLSTATE 42501, "permission denied for database"), and, should
// someone grant it CONNECT, still finds nothing it may read, write or create
// in: the tables belong to the other role and nothing is granted to PUBLIC.
//
// What stays reachable, on purpose: databases this package did not create
// keep their privileges. By default PUBLIC may connect to postgres and
// template1, so a service's role can log in there; it owns nothing there and
// no service data lives there (on PostgreSQL < 15 it may create tables in
// their schema public). Like every role it can read the shared catalogs,
// hence the names of the other databases and roles, but not their contents.
// Provision revokes no grants it did not make: a privilege someone granted on
// a service's database to another role stays.
//
// The admin DSN must name a superuser: it creates roles and databases, sets
// the roles' attributes and hands each schema public to its role. Password
// changes are sent as SCRAM-SHA-256 verifiers,
// never in clear, so they do not show up in the server's statement log or
// pg_stat_statements.
//
// Concurrency: Provision holds a session-level advisory lock on the admin
// database for its whole run, so two calls through the same admin database
// run one after the other. Calls through different admin databases of one
// server are not safe to race: one may fail (a duplicate role or database);
// running it again succeeds. Drop takes no lock; do not race it with
// Provision.
package pgprovision

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// DefaultPrefix is the prefix of database and role names when Config.Prefix
// is empty.
const DefaultPrefix = "bounded"

// Config says what to provision.
type Config struct {
	// Prefix of the database and role names, which are Prefix+"_"+service,
	// e.g. "bounded_orders". Lower-case letters, digits and '_', starting
	// with a letter, not "pg" nor "pg_..." (PostgreSQL reserves role names
	// starting with pg_). Default DefaultPrefix.
	Prefix string
	// Services are the service names: lower-case letters, no duplicates,
	// at least one.
	Services []string
	// Secret is required. Each role's password is derived from it,
	// HMAC-SHA256(Secret, role) in hex, 32 characters, so provisioning again
	// with the same secret gives the same DSNs, and a new secret rotates
	// every password. Whoever knows it can log in as every service.
	Secret string
}

// Validate reports a configuration Provision would refuse.
func (c Config) Validate() error {
	if c.Secret == "" {
		return errors.New("pgprovision: empty Secret (the roles' passwords are derived from it)")
	}
	return validateNames(c.Prefix, c.Services)
}

// Database is one provisioned service database.
type Database struct {
	Service string
	Name    string // the database's name, Prefix+"_"+Service
	Role    string // the login role that owns it (the same name)
	// DSN is the admin DSN with user, password and database replaced: host,
	// port, sslmode and other parameters are kept.
	DSN string
	// Created says the database did not exist before this call.
	Created bool
}

// Provision creates what is missing of each service's role and database and
// brings what exists to the state described in the package comment. It is
// idempotent: with the same Config it returns the same DSNs, Created false,
// and leaves the data in the databases alone. The result is in the order of
// cfg.Services. adminDSN must be a postgres:// (or postgresql://) URL.
//
// It stops at the first failure; its error names the service and the step.
// What it did before stays done (a rerun completes it).
func Provision(ctx context.Context, adminDSN string, cfg Config) ([]Database, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	prefix := cmp.Or(cfg.Prefix, DefaultPrefix)
	adminURL, adminCfg, err := parseAdmin(adminDSN)
	if err != nil {
		return nil, err
	}
	admin, err := pgx.ConnectConfig(ctx, adminCfg)
	if err != nil {
		return nil, fmt.Errorf("pgprovision: connect as admin: %w", err)
	}
	defer admin.Close(context.WithoutCancel(ctx))
	// Released when the connection closes.
	if _, err := admin.Exec(ctx, "SELECT pg_advisory_lock(hashtext('bounded/pgprovision'))"); err != nil {
		return nil, fmt.Errorf("pgprovision: take the provisioning lock: %w", err)
	}

	out := make([]Database, 0, len(cfg.Services))
	for _, s := range cfg.Services {
		name := prefix + "_" + s
		password := password(cfg.Secret, name)
		db := Database{Service: s, Name: name, Role: name, DSN: serviceDSN(adminURL, name, password)}
		if db.Created, err = provisionOne(ctx, admin, adminCfg, name, verifier(cfg.Secret, name, password)); err != nil {
			return nil, fmt.Errorf("pgprovision: service %s: %w", s, err)
		}
		out = append(out, db)
	}
	return out, nil
}

// provisionOne provisions the role and database called name and reports
// whether it created the database. Errors name the step.
func provisionOne(ctx context.Context, admin *pgx.Conn, adminCfg *pgx.ConnConfig, name, verifier string) (created bool, err error) {
	ident := pgx.Identifier{name}.Sanitize()

	var roleExists bool
	if err := admin.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", name).Scan(&roleExists); err != nil {
		return false, fmt.Errorf("look up role %s: %w", name, err)
	}
	if !roleExists {
		if _, err := admin.Exec(ctx, "CREATE ROLE "+ident); err != nil {
			return false, fmt.Errorf("create role %s: %w", name, err)
		}
	}
	// Always, so that a role that existed gets the attributes and password
	// too. The verifier holds only hex and base64 characters and '$', ':':
	// safe inside a literal (utility statements take no parameters).
	if _, err := admin.Exec(ctx, "ALTER ROLE "+ident+
		" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD '"+verifier+"'"); err != nil {
		return false, fmt.Errorf("set attributes and password of role %s: %w", name, err)
	}
	// A membership would let the role reach whatever the other role can;
	// it was granted by someone else, so say so rather than revoke it.
	var memberOf []string
	if err := admin.QueryRow(ctx, `SELECT coalesce(array_agg(g.rolname::text ORDER BY g.rolname), '{}')
		FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles r ON r.oid = m.member
		WHERE r.rolname = $1`, name).Scan(&memberOf); err != nil {
		return false, fmt.Errorf("check role %s's memberships: %w", name, err)
	}
	if len(memberOf) > 0 {
		return false, fmt.Errorf("role %s is a member of %s: revoke that, a service's role must reach only its own database", name, strings.Join(memberOf, ", "))
	}

	var owner string
	err = admin.QueryRow(ctx, "SELECT pg_get_userbyid(datdba)::text FROM pg_database WHERE datname = $1", name).Scan(&owner)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		if _, err := admin.Exec(ctx, "CREATE DATABASE "+ident+" OWNER "+ident); err != nil {
			return false, fmt.Errorf("create database %s: %w", name, err)
		}
		created = true
	case err != nil:
		return false, fmt.Errorf("look up database %s: %w", name, err)
	case owner != name:
		if _, err := admin.Exec(ctx, "ALTER DATABASE "+ident+" OWNER TO "+ident); err != nil {
			return false, fmt.Errorf("make role %s own database %s (owned by %s): %w", name, name, owner, err)
		}
	}
	if _, err := admin.Exec(ctx, "REVOKE ALL ON DATABASE "+ident+" FROM PUBLIC"); err != nil {
		return created, fmt.Errorf("revoke PUBLIC's privileges on database %s: %w", name, err)
	}

	cc := adminCfg.Copy()
	cc.Database = name
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return created, fmt.Errorf("connect to database %s as admin: %w", name, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for _, stmt := range []string{
		"CREATE SCHEMA IF NOT EXISTS public",
		"ALTER SCHEMA public OWNER TO " + ident,
		"REVOKE ALL ON SCHEMA public FROM PUBLIC",
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			return created, fmt.Errorf("database %s: %s: %w", name, stmt, err)
		}
	}
	return created, nil
}

// Drop drops the databases and roles that Provision made for services under
// prefix (DefaultPrefix if empty): each database first, terminating its
// connections, then the role, terminating its sessions and revoking what was
// granted to it (DROP OWNED, in the admin database). Missing databases and
// roles are fine. It stops at the first failure.
func Drop(ctx context.Context, adminDSN, prefix string, services []string) error {
	if err := validateNames(prefix, services); err != nil {
		return err
	}
	prefix = cmp.Or(prefix, DefaultPrefix)
	_, adminCfg, err := parseAdmin(adminDSN)
	if err != nil {
		return err
	}
	admin, err := pgx.ConnectConfig(ctx, adminCfg)
	if err != nil {
		return fmt.Errorf("pgprovision: connect as admin: %w", err)
	}
	defer admin.Close(context.WithoutCancel(ctx))
	var version int
	if err := admin.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&version); err != nil {
		return fmt.Errorf("pgprovision: server version: %w", err)
	}
	for _, s := range services {
		name := prefix + "_" + s
		if err := dropDatabase(ctx, admin, name, version); err != nil {
			return fmt.Errorf("pgprovision: service %s: drop database %s: %w", s, name, err)
		}
		if err := dropRole(ctx, admin, name); err != nil {
			return fmt.Errorf("pgprovision: service %s: drop role %s: %w", s, name, err)
		}
	}
	return nil
}

func dropDatabase(ctx context.Context, admin *pgx.Conn, name string, version int) error {
	ident := pgx.Identifier{name}.Sanitize()
	if version >= 130000 {
		_, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)")
		return err
	}
	// Before 13: terminate the sessions, and again if new ones came in
	// before the DROP.
	for attempt := 0; ; attempt++ {
		if _, err := admin.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", name); err != nil {
			return err
		}
		_, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+ident)
		var pgErr *pgconn.PgError
		if err == nil || attempt == 20 || !errors.As(err, &pgErr) || pgErr.Code != "55006" { // object_in_use
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func dropRole(ctx context.Context, admin *pgx.Conn, name string) error {
	var exists bool
	if err := admin.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", name).Scan(&exists); err != nil {
		return err
	}
	if !exists {
		return nil
	}
	// Its sessions elsewhere (postgres, template1) would outlive it.
	if _, err := admin.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", name); err != nil {
		return err
	}
	ident := pgx.Identifier{name}.Sanitize()
	for _, stmt := range []string{
		// Revokes its privileges on shared objects (other databases) and
		// drops what it owns in the admin database; its own database is
		// gone already.
		"DROP OWNED BY " + ident,
		"DROP ROLE IF EXISTS " + ident,
	} {
		if _, err := admin.Exec(ctx, stmt); err != nil {
			return err
		}
	}
	return nil
}

// password is the password Provision gives role: HMAC-SHA256(secret, role)
// in hex, cut to 32 characters (128 bits).
func password(secret, role string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(role))
	return hex.EncodeToString(mac.Sum(nil))[:32]
}

// verifier is the SCRAM-SHA-256 verifier PostgreSQL stores for password
// (RFC 5802, RFC 7677, PostgreSQL's scram_build_secret). Its salt is derived
// from the secret too, so the same secret gives the same verifier and a
// second Provision changes nothing.
func verifier(secret, role, password string) string {
	const iterations = 4096 // PostgreSQL's default scram_iterations
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("scram salt\x00" + role))
	salt := mac.Sum(nil)[:16]
	salted, err := pbkdf2.Key(sha256.New, password, salt, iterations, sha256.Size)
	if err != nil {
		panic(fmt.Sprintf("pgprovision: pbkdf2: %v", err)) // only for FIPS-140-only mode's limits, which these inputs meet
	}
	hm := func(key []byte, msg string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(msg))
		return h.Sum(nil)
	}
	storedKey := sha256.Sum256(hm(salted, "Client Key"))
	serverKey := hm(salted, "Server Key")
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", iterations, b64(salt), b64(storedKey[:]), b64(serverKey))
}

// parseAdmin parses the admin DSN both as a URL (to derive the services'
// DSNs from) and as a pgx config (to connect with).
func parseAdmin(adminDSN string) (*url.URL, *pgx.ConnConfig, error) {
	if !strings.HasPrefix(adminDSN, "postgres://") && !strings.HasPrefix(adminDSN, "postgresql://") {
		return nil, nil, errors.New("pgprovision: the admin DSN must be a postgres:// URL")
	}
	u, err := url.Parse(adminDSN)
	if err != nil {
		return nil, nil, fmt.Errorf("pgprovision: admin DSN: %w", redactErr(err))
	}
	cfg, err := pgx.ParseConfig(adminDSN)
	if err != nil {
		return nil, nil, fmt.Errorf("pgprovision: admin DSN: %w", redactErr(err))
	}
	return u, cfg, nil
}

// redactErr drops the text of a DSN parse error, which may quote the DSN
// and so the admin's password.
func redactErr(err error) error {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		return urlErr.Err
	}
	var pgErr *pgconn.ParseConfigError
	if errors.As(err, &pgErr) {
		return errors.New("cannot parse it")
	}
	return err
}

// serviceDSN is admin with user, password and database replaced.
func serviceDSN(admin *url.URL, name, password string) string {
	u := *admin
	u.User = url.UserPassword(name, password)
	u.Path, u.RawPath = "/"+name, ""
	// libpq also reads these from the query, where they would win.
	if q := u.Query(); q.Has("user") || q.Has("password") || q.Has("dbname") {
		q.Del("user")
		q.Del("password")
		q.Del("dbname")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

func validateNames(prefix string, services []string) error {
	prefix = cmp.Or(prefix, DefaultPrefix)
	if !validName(prefix, true) {
		return fmt.Errorf("pgprovision: prefix %q: want lower-case letters, digits and '_', starting with a letter", prefix)
	}
	if strings.HasPrefix(prefix+"_", "pg_") {
		return fmt.Errorf("pgprovision: prefix %q: PostgreSQL reserves role names starting with pg_", prefix)
	}
	if len(services) == 0 {
		return errors.New("pgprovision: no services")
	}
	for i, s := range services {
		if !validName(s, false) {
			return fmt.Errorf("pgprovision: service name %q: want lower-case letters only", s)
		}
		if slices.Contains(services[:i], s) {
			return fmt.Errorf("pgprovision: service %q listed twice", s)
		}
		if n := len(prefix) + 1 + len(s); n > 63 {
			return fmt.Errorf("pgprovision: name %s_%s is %d bytes long; PostgreSQL's limit is 63", prefix, s, n)
		}
	}
	return nil
}

// validName reports whether s is lower-case letters, and, with digits,
// also digits and '_' after the first letter.
func validName(s string, digits bool) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z':
		case digits && (r >= '0' && r <= '9' || r == '_'):
		default:
			return false
		}
	}
	return true
}
