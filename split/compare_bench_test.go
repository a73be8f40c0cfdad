package split_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/bounded-dev/bounded/platform/sqldb"
	"github.com/bounded-dev/bounded/split"
)

// benchRows is the size of the table BenchmarkCompare compares.
const benchRows = 200_000

// BenchmarkCompare compares a 200,000-row table in the shared PostgreSQL
// database with the service's copy (PostgreSQL, and SQLite as bounded
// writes it), beside the raw limit measured in the same run: the same two
// ordered queries streamed and scanned, nothing compared. Rows/s counts
// the rows of both sides.
//
//	go test ./split -run '^$' -bench Compare -benchtime 3x
func BenchmarkCompare(b *testing.B) {
	ctx := context.Background()
	fill := []string{
		`CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, price numeric(10,2) NOT NULL, updated timestamptz NOT NULL)`,
		fmt.Sprintf(`INSERT INTO items SELECT g, 'item ' || g, (g * 7 %% 100000) / 100.0,
			timestamptz '2026-01-01 00:00:00+00' + g * interval '1 second' FROM generate_series(1, %d) g`, benchRows),
		`ANALYZE items`,
	}
	shared := mustPostgres(b, fill...)
	servicePG := mustPostgres(b, fill...)
	serviceSQLite := mustSQLite(b, func(tx *sqldb.Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price REAL NOT NULL, updated INTEGER NOT NULL)`); err != nil {
			return err
		}
		start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		for g := 1; g <= benchRows; g++ {
			if _, err := tx.ExecContext(ctx, `INSERT INTO items VALUES (?, ?, ?, ?)`, g, fmt.Sprint("item ", g),
				float64(g*7%100000)/100, sqldb.TimeArg(sqldb.SQLite, start.Add(time.Duration(g)*time.Second))); err != nil {
				return err
			}
		}
		return nil
	})
	const query = "SELECT id, name, price, updated FROM items"
	for _, service := range []struct{ name, dsn, keyText string }{
		{"postgres", servicePG, `CAST(q."id" AS text) COLLATE "C"`},
		{"sqlite", serviceSQLite, `CAST(q."id" AS TEXT) COLLATE BINARY`},
	} {
		b.Run(service.name+"/raw", func(b *testing.B) {
			for b.Loop() {
				n := scanAll(b, "pgx", shared, `SELECT CAST(q."id" AS text) COLLATE "C" AS k, q.* FROM (`+query+`) q ORDER BY k`)
				n += scanAll(b, sqlDriver(service.dsn), service.dsn, `SELECT `+service.keyText+` AS k, q.* FROM (`+query+`) q ORDER BY k`)
				if n != 2*benchRows {
					b.Fatalf("%d rows", n)
				}
			}
			b.ReportMetric(float64(2*benchRows*b.N)/b.Elapsed().Seconds(), "rows/s")
		})
		b.Run(service.name+"/compare", func(b *testing.B) {
			for b.Loop() {
				res, err := split.Compare(ctx, split.CompareConfig{
					Shared: split.Side{DSN: shared, Query: query}, Service: split.Side{DSN: service.dsn, Query: query},
					Key: []string{"id"},
				})
				if err != nil {
					b.Fatal(err)
				}
				if !res.Equal() || res.Matched != benchRows {
					b.Fatalf("%+v", res)
				}
			}
			b.ReportMetric(float64(2*benchRows*b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

func sqlDriver(dsn string) string {
	if sqldb.DialectOf(dsn) == sqldb.Postgres {
		return "pgx"
	}
	return "sqlite"
}

// scanAll runs query and scans every row's columns, returning the rows.
func scanAll(b *testing.B, driver, dsn, query string) int {
	b.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(query)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		b.Fatal(err)
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	n := 0
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			b.Fatal(err)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	return n
}
