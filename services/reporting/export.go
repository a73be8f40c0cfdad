package reporting

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/bounded-dev/bounded/platform/httpapi"
	"github.com/bounded-dev/bounded/platform/sqlparquet"
)

// ExportTables are the warehouse's tables GET /admin/export/{table} sends
// as Parquet: the dimensions and the facts (not the bookkeeping, not the
// read model).
var ExportTables = []string{
	"dim_category", "dim_product", "dim_date",
	"fact_checkout", "fact_order", "fact_order_line", "fact_payment", "fact_refund",
	"fact_reservation", "fact_stockout", "fact_shipment", "fact_stock_movement", "fact_purchase_order",
}

// ParquetContentType is the media type of an exported table.
const ParquetContentType = "application/vnd.apache.parquet"

// exportColumns says what the warehouse's columns mean where the SQL type
// does not: on SQLite its times are INTEGER milliseconds and its flags
// INTEGER 0/1 (on PostgreSQL they are timestamptz and boolean already).
func exportColumns(names []string) map[string]sqlparquet.Kind {
	kinds := map[string]sqlparquet.Kind{}
	for _, n := range names {
		switch {
		case strings.HasSuffix(n, "_at"):
			kinds[n] = sqlparquet.UnixMillis
		case n == "active" || n == "inferred":
			kinds[n] = sqlparquet.Bool
		}
	}
	return kinds
}

// exportTable answers one table of the warehouse as a Parquet file. The
// file is written whole first (a consistent snapshot of the table, in one
// query) and then sent with its length, so that a client never takes a
// cut-short download for a table.
func (s *reporting) exportTable(w http.ResponseWriter, r *http.Request) error {
	table := r.PathValue("table")
	if !slices.Contains(ExportTables, table) {
		return httpapi.Errorf(httpapi.ErrNotFound, "no table %q to export; the tables are %s", table, strings.Join(ExportTables, ", "))
	}
	cols, err := s.tableColumns(r, table)
	if err != nil {
		return err
	}
	ex, err := sqlparquet.NewExporter(s.env.DB, sqlparquet.Config{Columns: exportColumns(cols)})
	if err != nil {
		return err
	}
	f, err := os.CreateTemp("", "bounded-export-*.parquet")
	if err != nil {
		return fmt.Errorf("export %s: %w", table, err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	rows, err := ex.ExportQuery(r.Context(), f, `SELECT * FROM `+table)
	if err != nil {
		return fmt.Errorf("export %s: %w", table, err)
	}
	size, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return fmt.Errorf("export %s: %w", table, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("export %s: %w", table, err)
	}
	w.Header().Set("Content-Type", ParquetContentType)
	w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
	w.Header().Set("Content-Disposition", `attachment; filename="`+table+`.parquet"`)
	w.Header().Set("Bounded-Rows", strconv.FormatInt(rows, 10))
	_, _ = io.Copy(w, f) // a client gone away: nothing more to do
	return nil
}

// tableColumns lists table's columns, in order.
func (s *reporting) tableColumns(r *http.Request, table string) ([]string, error) {
	rows, err := s.env.DB.Reader().QueryContext(r.Context(), `SELECT * FROM `+table+` WHERE 1 = 0`)
	if err != nil {
		return nil, fmt.Errorf("export %s: %w", table, err)
	}
	defer rows.Close()
	return rows.Columns()
}

// listExports answers the tables GET /admin/export/{table} sends.
func (s *reporting) listExports(w http.ResponseWriter, r *http.Request) error {
	return httpapi.WriteJSON(w, http.StatusOK, map[string]any{"tables": ExportTables, "content_type": ParquetContentType})
}
