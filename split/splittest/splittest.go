// Package splittest makes a shared database as a team that has not split
// yet has one, for the tests of package split and of the 'bounded split'
// commands: Catalog, Inventory and Orders connect as roles of their own to
// one database, every role reaches every table through a group role, and
// the tables are tied together by foreign keys and a view. Inventory reads
// the catalog's product descriptions — the coupling DESIGN.md starts from.
package splittest

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver

	"github.com/bounded-dev/bounded/platform/testenv"
)

// Shared is one shared database and the roles its services connect as.
type Shared struct {
	Admin string            // the database's URL as the admin
	Roles map[string]string // service → its role's name
	DSNs  map[string]string // service → its role's URL
	Group string            // the group role every service's role is a member of
}

// Services are the services of the shared database.
var Services = []string{"catalog", "inventory", "orders"}

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

// New makes a shared database, with unique names, on the server admin (a
// superuser's URL); it and its roles are dropped when the test ends.
func New(tb testing.TB, admin string) *Shared {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	server := mustOpen(tb, admin)
	defer server.Close()
	name := testenv.UniqueName("bounded_split_")
	mustExec(tb, ctx, server, "CREATE DATABASE "+name)
	s := &Shared{Roles: map[string]string{}, DSNs: map[string]string{}, Group: name + "_rw"}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		db, err := sql.Open("pgx", admin)
		if err != nil {
			tb.Errorf("splittest: %v", err)
			return
		}
		defer db.Close()
		if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			tb.Errorf("splittest: drop database: %v", err)
		}
		for _, r := range append([]string{s.Group}, values(s.Roles)...) {
			if _, err := db.ExecContext(ctx, "DROP ROLE IF EXISTS "+r); err != nil {
				tb.Errorf("splittest: drop role: %v", err)
			}
		}
	})
	var err error
	if s.Admin, err = withDatabase(admin, name, nil); err != nil {
		tb.Fatal(err)
	}
	mustExec(tb, ctx, server, "CREATE ROLE "+s.Group+" NOLOGIN")
	for _, svc := range Services {
		role, password := name+"_"+svc, testenv.UniqueName("p")
		mustExec(tb, ctx, server, fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s' IN ROLE %s", role, password, s.Group))
		s.Roles[svc] = role
		if s.DSNs[svc], err = withDatabase(admin, name, url.UserPassword(role, password)); err != nil {
			tb.Fatal(err)
		}
	}
	db := mustOpen(tb, s.Admin)
	defer db.Close()
	mustExec(tb, ctx, db, schema)
	mustExec(tb, ctx, db, "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "+s.Group)
	mustExec(tb, ctx, db, "GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO "+s.Group)
	return s
}

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

// Run runs every service's workload on a connection of its own role, over
// and over, until ctx ends (the test must end it), then leaves each connection open and idle (so
// its last statement stays in pg_stat_activity) until the test ends. It
// returns once every service has run its statements at least once.
func (s *Shared) Run(tb testing.TB, ctx context.Context) {
	tb.Helper()
	var started, running sync.WaitGroup
	for _, svc := range Services {
		db := mustOpen(tb, s.DSNs[svc])
		tb.Cleanup(func() { db.Close() })
		conn, err := db.Conn(context.Background())
		if err != nil {
			tb.Fatalf("splittest: %s: %v", svc, err)
		}
		started.Add(1)
		running.Add(1)
		go func() {
			defer running.Done()
			first := true
			for {
				for _, q := range Workload[svc] {
					if _, err := conn.ExecContext(ctx, q); err != nil && ctx.Err() == nil {
						tb.Errorf("splittest: %s: %s: %v", svc, q, err)
					}
				}
				if first {
					started.Done()
					first = false
				}
				select {
				case <-ctx.Done():
					return
				case <-time.After(5 * time.Millisecond):
				}
			}
		}()
	}
	// Cleanups run last first: this wait comes before the connections
	// close.
	tb.Cleanup(running.Wait)
	started.Wait()
}

// Exec runs query as service's role and returns its error.
func (s *Shared) Exec(tb testing.TB, service, query string) error {
	tb.Helper()
	db := mustOpen(tb, s.DSNs[service])
	defer db.Close()
	_, err := db.ExecContext(context.Background(), query)
	return err
}

func mustOpen(tb testing.TB, dsn string) *sql.DB {
	tb.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		tb.Fatalf("splittest: %v", err)
	}
	return db
}

func mustExec(tb testing.TB, ctx context.Context, db *sql.DB, query string) {
	tb.Helper()
	if _, err := db.ExecContext(ctx, query); err != nil {
		tb.Fatalf("splittest: %s: %v", query, err)
	}
}

// withDatabase is dsn naming database db, as user (nil: dsn's own).
func withDatabase(dsn, db string, user *url.Userinfo) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("splittest: %w", err)
	}
	u.Path = "/" + db
	if user != nil {
		u.User = user
	}
	return u.String(), nil
}

func values(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
