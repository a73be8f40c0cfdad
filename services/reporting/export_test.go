package reporting_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/bounded-dev/bounded/platform/servicetest"
	"github.com/bounded-dev/bounded/platform/sqldb"
	"github.com/bounded-dev/bounded/services/reporting"
)

// TestExportParquet exports every warehouse table of the known scenario
// as Parquet, reads each file back, and checks its rows against the
// table's, with the times as timestamps and the flags as booleans.
func TestExportParquet(t *testing.T) {
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		w := start(t, d)
		w.load(t, newScenario(t).events...)
		db, err := sqldb.Open(context.Background(), sqldb.Config{DSN: w.DSNs["reporting"]})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()

		for _, table := range reporting.ExportTables {
			f := w.exportFile(t, table)
			var n int64
			if err := db.Reader().QueryRowContext(context.Background(), `SELECT count(*) FROM `+table).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if f.NumRows() != n {
				t.Errorf("%s: %d rows in the file, %d in the table", table, f.NumRows(), n)
			}
		}

		// One table value by value: the lines' quantities and times.
		f := w.exportFile(t, "fact_order_line")
		if f.NumRows() == 0 {
			t.Fatal("no order lines exported")
		}
		schema := f.Schema()
		col, ok := schema.Lookup("confirmed_at")
		if !ok {
			t.Fatalf("no confirmed_at in %s", schema)
		}
		var ts *format.TimestampType
		if lt := col.Node.Type().LogicalType(); lt != nil {
			ts, _ = lt.Value.(*format.TimestampType)
		}
		if ts == nil || !ts.IsAdjustedToUTC {
			t.Fatalf("confirmed_at is %v, want a UTC timestamp", col.Node.Type())
		}
		unit := ts.Unit.Value.Duration()
		var sum, want int64
		var earliest time.Time
		rows := f.RowGroups()[0].Rows()
		defer rows.Close()
		qty, _ := schema.Lookup("quantity")
		buf := make([]parquet.Row, 64)
		for {
			k, err := rows.ReadRows(buf)
			for _, r := range buf[:k] {
				sum += r[qty.ColumnIndex].Int64()
				at := time.Unix(0, r[col.ColumnIndex].Int64()*int64(unit))
				if earliest.IsZero() || at.Before(earliest) {
					earliest = at
				}
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if err := db.Reader().QueryRowContext(context.Background(), `SELECT sum(quantity) FROM fact_order_line`).Scan(&want); err != nil {
			t.Fatal(err)
		}
		if sum != want {
			t.Errorf("quantities in the file add up to %d, in the table to %d", sum, want)
		}
		if day := earliest.UTC().Format("2006-01-02"); day != "2026-03-02" {
			t.Errorf("earliest line confirmed on %s, want the scenario's first day 2026-03-02", day)
		}

		// An unknown table: 404 problem; no token: 401.
		w.MustProblem(t, "GET", "/reporting/admin/export/watermarks", nil, true, http.StatusNotFound)
		w.MustProblem(t, "GET", "/reporting/admin/export/fact_order", nil, false, http.StatusUnauthorized)
	})
}

// exportFile fetches one table's export and opens it.
func (w *warehouse) exportFile(t *testing.T, table string) *parquet.File {
	t.Helper()
	resp := w.Do(t, "GET", "/reporting/admin/export/"+table, nil, true)
	if resp.Status != http.StatusOK {
		t.Fatalf("export %s: %d %s", table, resp.Status, resp.Body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != reporting.ParquetContentType {
		t.Fatalf("export %s: Content-Type %q", table, ct)
	}
	f, err := parquet.OpenFile(bytes.NewReader(resp.Body), int64(len(resp.Body)))
	if err != nil {
		t.Fatalf("export %s: %v", table, err)
	}
	if rows := resp.Header.Get("Bounded-Rows"); rows != strconv.FormatInt(f.NumRows(), 10) {
		t.Errorf("export %s: Bounded-Rows %s, the file holds %d", table, rows, f.NumRows())
	}
	return f
}
