// Package demo makes a shared database as a team that has not split yet
// has one, to try 'bounded split' on and to test it with: Catalog,
// Inventory and Orders connect as roles of their own to one database,
// every role reaches every table through a group role, and the tables are
// tied together by foreign keys and a view. Inventory's purchase-order job
// reads the catalog's product descriptions — the coupling DESIGN.md starts
// from.
package demo

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// Services are the services of the shared database.
var Services = []string{"catalog", "inventory", "orders"}

// Shared is one shared database and the roles its services connect as.
type Shared struct {
	Name  string            // the database; the roles are Name_<service> and the group Name_rw
	Admin string            // the database's URL as the admin
	Roles map[string]string // service → its role's name
	DSNs  map[string]string // service → its role's URL, with its password
	Group string            // the group role every service's role is a member of
}

// schema is the shared database before the split. Migrations ran as the
// admin, who owns every table; the services reach them through the group.
const schema = `
CREATE TABLE products (sku text PRIMARY KEY, name text NOT NULL, description text NOT NULL, price_cents bigint NOT NULL);
CREATE TABLE stock (sku text PRIMARY KEY REFERENCES products (sku), on_hand int NOT NULL, reorder_at int NOT NULL);
CREATE TABLE purchase_orders (id bigserial PRIMARY KEY, sku text NOT NULL REFERENCES products (sku), quantity int NOT NULL, note text NOT NULL);
CREATE TABLE orders (id bigserial PRIMARY KEY, email text NOT NULL, placed_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE order_lines (order_id bigint NOT NULL REFERENCES orders (id), sku text NOT NULL REFERENCES products (sku),
  quantity int NOT NULL, PRIMARY KEY (order_id, sku));
CREATE TABLE legacy_notes (id int PRIMARY KEY, body text);
CREATE VIEW low_stock AS SELECT s.sku, p.name, s.on_hand FROM stock s JOIN products p USING (sku) WHERE s.on_hand < s.reorder_at;
INSERT INTO products VALUES ('MUG', 'Mug', 'A mug.', 900), ('PAN', 'Pan', 'A pan.', 2900);
INSERT INTO stock VALUES ('MUG', 3, 5), ('PAN', 20, 5);
`

// Workload is each service's statements, as its code sends them.
var Workload = map[string][]string{
	"catalog": {
		"UPDATE products SET price_cents = price_cents + 1 WHERE sku = 'PAN'",
		"SELECT sku, name, description, price_cents FROM products ORDER BY sku",
	},
	"inventory": {
		"UPDATE stock SET on_hand = on_hand + 1 WHERE sku = 'MUG'",
		// The purchase-order job reads the catalog's description.
		"INSERT INTO purchase_orders (sku, quantity, note) SELECT s.sku, 10, p.description FROM stock s JOIN products p ON p.sku = s.sku WHERE s.sku = 'MUG'",
		"SELECT sku, name, on_hand FROM low_stock",
	},
	"orders": {
		"WITH o AS (INSERT INTO orders (email) VALUES ('ada@example.com') RETURNING id) " +
			"INSERT INTO order_lines (order_id, sku, quantity) SELECT o.id, 'PAN', 1 FROM o",
		"SELECT price_cents FROM products WHERE sku = 'PAN'",
	},
}

var validName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,40}$`)

// Create makes the shared database name, its roles (with random passwords)
// and its tables, on the server admin (a superuser's URL). It refuses a
// name that exists; Drop removes everything Create made.
func Create(ctx context.Context, admin, name string) (*Shared, error) {
	if !validName.MatchString(name) {
		return nil, fmt.Errorf("demo: name %q: want lower-case letters, digits and _, up to 41", name)
	}
	server, err := sql.Open("pgx", admin)
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	defer server.Close()
	if _, err := server.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return nil, fmt.Errorf("demo: create database %s: %w", name, err)
	}
	s := &Shared{Name: name, Roles: map[string]string{}, DSNs: map[string]string{}, Group: name + "_rw"}
	fail := func(err error) (*Shared, error) {
		return nil, errors.Join(fmt.Errorf("demo: %w", err), Drop(context.WithoutCancel(ctx), admin, name))
	}
	if s.Admin, err = withDatabase(admin, name, nil); err != nil {
		return fail(err)
	}
	if _, err := server.ExecContext(ctx, "CREATE ROLE "+s.Group+" NOLOGIN"); err != nil {
		return fail(err)
	}
	for _, svc := range Services {
		role, password := name+"_"+svc, rand.Text()
		if _, err := server.ExecContext(ctx, fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s' IN ROLE %s", role, password, s.Group)); err != nil {
			return fail(err)
		}
		s.Roles[svc] = role
		if s.DSNs[svc], err = withDatabase(admin, name, url.UserPassword(role, password)); err != nil {
			return fail(err)
		}
	}
	db, err := sql.Open("pgx", s.Admin)
	if err != nil {
		return fail(err)
	}
	defer db.Close()
	for _, q := range []string{schema,
		"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO " + s.Group,
		"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO " + s.Group,
		// New tables too, as a shared database's setup usually says.
		"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO " + s.Group,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fail(err)
		}
	}
	return s, nil
}

// Drop drops the database name and the roles Create made for it, whichever
// exist.
func Drop(ctx context.Context, admin, name string) error {
	if !validName.MatchString(name) {
		return fmt.Errorf("demo: name %q: want lower-case letters, digits and _, up to 41", name)
	}
	db, err := sql.Open("pgx", admin)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("demo: drop database %s: %w", name, err)
	}
	for _, r := range append([]string{name + "_rw"}, roleNames(name)...) {
		if _, err := db.ExecContext(ctx, "DROP ROLE IF EXISTS "+r); err != nil {
			return fmt.Errorf("demo: drop role %s: %w", r, err)
		}
	}
	return nil
}

func roleNames(name string) []string {
	var out []string
	for _, svc := range Services {
		out = append(out, name+"_"+svc)
	}
	return out
}

// Start runs every service's workload on a connection of its own role:
// once through before it returns (an error there is returned), then over
// and over, every pause, until ctx ends. Each connection stays open
// between statements, as an application's pool does, so its last
// statement stays in pg_stat_activity. wait blocks until every service has
// stopped and its connection is closed, and returns the first error a
// statement met before ctx ended. ran counts the statements run.
func (s *Shared) Start(ctx context.Context, pause time.Duration) (wait func() error, ran *atomic.Int64, err error) {
	ran = new(atomic.Int64)
	conns := map[string]*sql.Conn{}
	var dbs []*sql.DB
	closeAll := func() {
		for _, c := range conns {
			c.Close()
		}
		for _, db := range dbs {
			db.Close()
		}
	}
	runOnce := func(ctx context.Context, svc string) error {
		for _, q := range Workload[svc] {
			if _, err := conns[svc].ExecContext(ctx, q); err != nil {
				return fmt.Errorf("demo: %s: %s: %w", svc, q, err)
			}
			ran.Add(1)
		}
		return nil
	}
	for _, svc := range Services {
		db, err := sql.Open("pgx", s.DSNs[svc])
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("demo: %w", err)
		}
		dbs = append(dbs, db)
		if conns[svc], err = db.Conn(ctx); err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("demo: %s: %w", svc, err)
		}
		if err := runOnce(ctx, svc); err != nil {
			closeAll()
			return nil, nil, err
		}
	}
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for _, svc := range Services {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-time.After(pause):
				}
				if err := runOnce(ctx, svc); err != nil && ctx.Err() == nil {
					once.Do(func() { first = err })
					return
				}
			}
		})
	}
	return func() error {
		wg.Wait()
		closeAll()
		return first
	}, ran, nil
}

// Exec runs query as service's role, on a connection of its own.
func (s *Shared) Exec(ctx context.Context, service, query string) error {
	db, err := sql.Open("pgx", s.DSNs[service])
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, query)
	return err
}

// withDatabase is dsn naming database db, as user (nil: dsn's own).
func withDatabase(dsn, db string, user *url.Userinfo) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", err
	}
	u.Path = "/" + db
	if user != nil {
		u.User = user
	}
	return u.String(), nil
}
