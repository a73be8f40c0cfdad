package sqlparquet_test

import (
	"io"
	"testing"

	"github.com/bounded-dev/bounded/platform/sqldb"
	"github.com/bounded-dev/bounded/platform/sqlparquet"
	"github.com/bounded-dev/bounded/platform/toolkittest"
)

// BenchmarkExportSQLite exports a 200,000-row fact-like SQLite table to
// io.Discard and reports rows per second.
func BenchmarkExportSQLite(b *testing.B) {
	const rows = 200_000
	db := newDB(b, sqldb.SQLite)
	mustExec(b, db, `CREATE TABLE fact_order_line (
			id          INTEGER PRIMARY KEY,
			order_id    TEXT    NOT NULL,
			sku         TEXT    NOT NULL,
			quantity    INTEGER NOT NULL,
			price_cents INTEGER NOT NULL,
			discount    REAL,
			ordered_at  INTEGER NOT NULL,
			note        TEXT
		)`,
		`WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 200000)
		INSERT INTO fact_order_line
		SELECT i, 'order-' || (i / 3), 'SKU-' || (i % 500), 1 + i % 7, 100 + (i * 37) % 10000,
			CASE WHEN i % 4 = 0 THEN 0.1 ELSE NULL END, 1700000000000 + i * 1000,
			CASE WHEN i % 2 = 0 THEN 'gift wrap, please' ELSE NULL END
		FROM s`)
	e, err := sqlparquet.NewExporter(db, sqlparquet.Config{Columns: map[string]sqlparquet.Kind{"ordered_at": sqlparquet.UnixMillis}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := toolkittest.Context(b)
	b.ReportAllocs()
	var total int64
	for b.Loop() {
		n, err := e.ExportQuery(ctx, io.Discard, `SELECT * FROM fact_order_line`)
		if err != nil {
			b.Fatal(err)
		}
		if n != rows {
			b.Fatalf("exported %d rows, want %d", n, rows)
		}
		total += n
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "rows/s")
}
