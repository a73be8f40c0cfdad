package split_test

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/wasilibs/go-pgquery/parser"

	"github.com/bounded-dev/bounded/split"
)

// read and write build expected accesses: schema "" is unqualified.
func read(schema, table string) split.Access {
	return split.Access{Schema: schema, Table: table}
}

func write(schema, table string) split.Access {
	return split.Access{Schema: schema, Table: table, Write: true}
}

func TestAccesses(t *testing.T) {
	tests := []struct {
		name  string
		query string
		want  []split.Access
	}{
		{
			name:  "plain select",
			query: `SELECT id, total FROM orders WHERE id = 1`,
			want:  []split.Access{read("", "orders")},
		},
		{
			name: "join with aliases",
			query: `SELECT o.id, c.name FROM orders o
				JOIN customers AS c ON c.id = o.customer_id
				LEFT JOIN shipments s USING (order_id)`,
			want: []split.Access{read("", "customers"), read("", "orders"), read("", "shipments")},
		},
		{
			name: "schema-qualified and quoted identifiers",
			query: `SELECT * FROM "Mixed"."Case" m
				JOIN billing.invoices i ON i.id = m.invoice_id
				JOIN ORDERS ON true`,
			// Quoted names keep their case, unquoted ones fold to lower
			// case; byte order puts "Mixed" before "billing".
			want: []split.Access{read("", "orders"), read("Mixed", "Case"), read("billing", "invoices")},
		},
		{
			name:  "qualified and unqualified names are distinct",
			query: `SELECT * FROM public.orders a, orders b`,
			want:  []split.Access{read("", "orders"), read("public", "orders")},
		},
		{
			name: "subqueries in WHERE",
			query: `SELECT * FROM orders
				WHERE customer_id IN (SELECT id FROM customers WHERE vip)
				AND EXISTS (SELECT 1 FROM refunds r WHERE r.order_id = orders.id)`,
			want: []split.Access{read("", "customers"), read("", "orders"), read("", "refunds")},
		},
		{
			name: "CTE is not a table",
			query: `WITH recent AS (SELECT * FROM orders WHERE created_at > now() - interval '1 day')
				SELECT * FROM recent JOIN customers ON customers.id = recent.customer_id`,
			want: []split.Access{read("", "customers"), read("", "orders")},
		},
		{
			name: "CTE shadowing a table name",
			query: `WITH customers AS (SELECT * FROM crm.customers WHERE active)
				SELECT * FROM customers, public.customers`,
			// A qualified name never refers to a CTE.
			want: []split.Access{read("crm", "customers"), read("public", "customers")},
		},
		{
			name: "recursive CTE",
			query: `WITH RECURSIVE tree AS (
					SELECT id FROM categories WHERE parent_id IS NULL
					UNION ALL
					SELECT c.id FROM categories c JOIN tree t ON c.parent_id = t.id)
				SELECT * FROM tree`,
			want: []split.Access{read("", "categories")},
		},
		{
			name: "CTE in a subquery does not hide a table outside it",
			query: `SELECT * FROM recent,
				(WITH recent AS (SELECT 1 AS one) SELECT * FROM recent) x`,
			want: []split.Access{read("", "recent")},
		},
		{
			name: "data-modifying CTE",
			query: `WITH moved AS (DELETE FROM orders WHERE created_at < $1 RETURNING *)
				INSERT INTO orders_archive SELECT * FROM moved`,
			want: []split.Access{write("", "orders"), write("", "orders_archive")},
		},
		{
			name: "data-modifying CTE read by a SELECT",
			query: `WITH done AS (UPDATE jobs SET state = 'done' WHERE id = $1 RETURNING id)
				SELECT * FROM done JOIN job_logs l ON l.job_id = done.id`,
			want: []split.Access{read("", "job_logs"), write("", "jobs")},
		},
		{
			name: "INSERT ... SELECT",
			query: `INSERT INTO order_totals (order_id, total)
				SELECT order_id, sum(amount) FROM order_lines GROUP BY order_id`,
			want: []split.Access{read("", "order_lines"), write("", "order_totals")},
		},
		{
			name: "INSERT ... ON CONFLICT DO UPDATE",
			query: `INSERT INTO stock (sku, qty) VALUES ($1, $2)
				ON CONFLICT (sku) DO UPDATE SET qty = stock.qty + EXCLUDED.qty
				WHERE stock.sku NOT IN (SELECT sku FROM frozen_skus)`,
			want: []split.Access{read("", "frozen_skus"), write("", "stock")},
		},
		{
			name:  "UPDATE ... FROM",
			query: `UPDATE orders o SET status = 'paid' FROM payments p WHERE p.order_id = o.id`,
			want:  []split.Access{write("", "orders"), read("", "payments")},
		},
		{
			name:  "DELETE ... USING",
			query: `DELETE FROM auth.sessions s USING auth.users u WHERE s.user_id = u.id AND u.deleted`,
			want:  []split.Access{write("auth", "sessions"), read("auth", "users")},
		},
		{
			name: "MERGE",
			query: `MERGE INTO inventory i USING incoming n ON i.sku = n.sku
				WHEN MATCHED THEN UPDATE SET qty = i.qty + n.qty
				WHEN NOT MATCHED THEN INSERT (sku, qty) VALUES (n.sku, n.qty)`,
			want: []split.Access{read("", "incoming"), write("", "inventory")},
		},
		{
			name:  "TRUNCATE two tables",
			query: `TRUNCATE staging.orders, staging.lines RESTART IDENTITY`,
			want:  []split.Access{write("staging", "lines"), write("staging", "orders")},
		},
		{
			name:  "COPY FROM STDIN",
			query: `COPY orders (id, total) FROM STDIN WITH (FORMAT csv)`,
			want:  []split.Access{write("", "orders")},
		},
		{
			name:  "COPY TO STDOUT",
			query: `COPY orders TO STDOUT`,
			want:  []split.Access{read("", "orders")},
		},
		{
			name:  "COPY query TO STDOUT",
			query: `COPY (SELECT o.id FROM orders o JOIN customers c ON c.id = o.customer_id) TO STDOUT`,
			want:  []split.Access{read("", "customers"), read("", "orders")},
		},
		{
			name:  "SELECT ... FOR UPDATE",
			query: `SELECT * FROM jobs WHERE state = 'queued' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED`,
			want:  []split.Access{read("", "jobs")},
		},
		{
			name:  "LOCK TABLE",
			query: `LOCK TABLE orders IN SHARE MODE`,
			want:  []split.Access{read("", "orders")},
		},
		{
			name:  "SELECT ... INTO",
			query: `SELECT * INTO TEMP snapshot FROM orders`,
			want:  []split.Access{read("", "orders"), write("", "snapshot")},
		},
		{
			name:  "SELECT ... INTO with UNION",
			query: `SELECT id INTO everyone FROM customers UNION SELECT id FROM prospects`,
			want:  []split.Access{read("", "customers"), write("", "everyone"), read("", "prospects")},
		},
		{
			name:  "CREATE TABLE AS",
			query: `CREATE TABLE reporting.daily AS SELECT created_at::date, count(*) FROM orders GROUP BY 1`,
			want:  []split.Access{read("", "orders"), write("reporting", "daily")},
		},
		{
			name:  "pg_stat_statements normalized",
			query: `SELECT o.id FROM orders o WHERE o.customer_id = $1 AND o.created_at > $2 LIMIT $3`,
			want:  []split.Access{read("", "orders")},
		},
		{
			name:  "two statements",
			query: `SELECT balance FROM accounts WHERE id = $1; INSERT INTO ledger (account_id, amount) VALUES ($1, $2)`,
			want:  []split.Access{read("", "accounts"), write("", "ledger")},
		},
		{
			name:  "read and written in one statement",
			query: `UPDATE counters SET n = n + 1 WHERE id = (SELECT max(id) FROM counters)`,
			want:  []split.Access{write("", "counters")},
		},
		{
			name:  "read and written in two statements",
			query: `SELECT * FROM outbox; DELETE FROM outbox WHERE id = $1; SELECT * FROM outbox`,
			want:  []split.Access{write("", "outbox")},
		},
		{
			name: "catalog relations are kept",
			query: `SELECT c.relname FROM pg_catalog.pg_class c
				JOIN pg_namespace n ON n.oid = c.relnamespace`,
			want: []split.Access{read("", "pg_namespace"), read("pg_catalog", "pg_class")},
		},
		{
			name:  "no table",
			query: `SELECT 1`,
			want:  nil,
		},
		{
			name:  "empty",
			query: ``,
			want:  nil,
		},
		{
			name:  "only a comment",
			query: "  -- nothing to see\n",
			want:  nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := split.Accesses(tt.query)
			if err != nil {
				t.Fatalf("Accesses: %v", err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Accesses(%q)\n got %+v\nwant %+v", tt.query, got, tt.want)
			}
		})
	}
}

func TestAccessesSyntaxError(t *testing.T) {
	got, err := split.Accesses(`SELEC id FROM orders`)
	if err == nil {
		t.Fatalf("Accesses = %+v, want an error", got)
	}
	if !strings.Contains(err.Error(), `syntax error at or near "SELEC"`) {
		t.Errorf("error %q does not carry the parser's message", err)
	}
	var parseErr *parser.Error
	if !errors.As(err, &parseErr) {
		t.Errorf("error %q does not wrap a *parser.Error", err)
	}
}

func TestAccessesConcurrent(t *testing.T) {
	const callers = 4
	query := `UPDATE orders o SET status = $1 FROM payments p WHERE p.order_id = o.id`
	want := []split.Access{write("", "orders"), read("", "payments")}

	var wg sync.WaitGroup
	errs := make([]error, callers)
	results := make([][]split.Access, callers)
	for i := range callers {
		wg.Go(func() {
			for range 20 {
				results[i], errs[i] = split.Accesses(query)
				if errs[i] != nil || !slices.Equal(results[i], want) {
					return
				}
			}
		})
	}
	wg.Wait()
	for i := range callers {
		if errs[i] != nil {
			t.Errorf("caller %d: %v", i, errs[i])
		} else if !slices.Equal(results[i], want) {
			t.Errorf("caller %d: got %+v, want %+v", i, results[i], want)
		}
	}
}

func BenchmarkAccesses(b *testing.B) {
	query := `SELECT o.id, c.name, sum(l.amount)
		FROM orders o
		JOIN customers c ON c.id = o.customer_id
		JOIN order_lines l ON l.order_id = o.id
		WHERE o.created_at > $1 AND c.region = $2
		GROUP BY o.id, c.name`
	// The first call starts the WebAssembly runtime; keep it out of the figure.
	if _, err := split.Accesses(query); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := split.Accesses(query); err != nil {
			b.Fatal(err)
		}
	}
}
