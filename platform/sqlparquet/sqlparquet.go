package sqlparquet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"

	"github.com/bounded-dev/bounded/platform/sqldb"
)

// DefaultRowGroupSize is the number of rows in a row group unless
// Config.RowGroupSize says otherwise: small enough that one row group of a
// fact table fits in memory comfortably, large enough for warehouses to
// scan efficiently (DuckDB's own default is 122,880).
const DefaultRowGroupSize = 100_000

// Compression names the codec that compresses every column of a file.
type Compression string

const (
	// Snappy is the default: every Parquet reader supports it.
	Snappy       Compression = "snappy"
	Zstd         Compression = "zstd"
	Gzip         Compression = "gzip"
	Uncompressed Compression = "none"
)

func (c Compression) codec() (compress.Codec, error) {
	switch c {
	case "", Snappy:
		return &parquet.Snappy, nil
	case Zstd:
		return &parquet.Zstd, nil
	case Gzip:
		return &parquet.Gzip, nil
	case Uncompressed:
		return &parquet.Uncompressed, nil
	}
	return nil, fmt.Errorf("sqlparquet: compression %q is not snappy, zstd, gzip or none", string(c))
}

// Config says how to export. The zero value exports with the defaults.
type Config struct {
	// RowGroupSize is the number of rows per row group; the last row group
	// of a file may hold fewer. The exporter holds about one row group in
	// memory, so this bounds its memory. Default DefaultRowGroupSize.
	RowGroupSize int
	// Compression is the codec for every column. Default Snappy.
	Compression Compression
	// Columns overrides the Kind the exporter picks for result columns, by
	// column name (as the query returns it). One Exporter serves many
	// queries, so a name that matches no column of a query is ignored.
	// Decimal cannot be an override.
	Columns map[string]Kind
}

func (c *Config) setDefaults() {
	if c.RowGroupSize == 0 {
		c.RowGroupSize = DefaultRowGroupSize
	}
	if c.Compression == "" {
		c.Compression = Snappy
	}
}

// Validate reports a configuration that cannot be used.
func (c Config) Validate() error {
	if c.RowGroupSize < 0 {
		return fmt.Errorf("sqlparquet: RowGroupSize %d is negative", c.RowGroupSize)
	}
	if _, err := c.Compression.codec(); err != nil {
		return err
	}
	for name, k := range c.Columns {
		if !k.validOverride() {
			return fmt.Errorf("sqlparquet: Columns[%q] = %v is not a Kind an override can name", name, k)
		}
	}
	return nil
}

// Exporter writes the results of SQL queries on one database as Parquet
// files, with a schema built from the result's column types. It is safe for
// concurrent use.
type Exporter struct {
	db    *sqldb.DB
	cfg   Config
	codec compress.Codec
}

// NewExporter returns an Exporter that reads db as cfg says.
func NewExporter(db *sqldb.DB, cfg Config) (*Exporter, error) {
	if db == nil {
		return nil, errors.New("sqlparquet: nil database")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	cfg.Columns = maps.Clone(cfg.Columns) // the caller may change its map later
	codec, _ := cfg.Compression.codec()
	return &Exporter{db: db, cfg: cfg, codec: codec}, nil
}

// ExportQuery runs query with args outside any transaction (on SQLite,
// through the read-only pool) and writes its result to w as one Parquet
// file, one row group per Config.RowGroupSize rows. It returns the number of
// rows written.
//
// Rows stream from the database to w: memory stays around one row group
// whatever the size of the result. On PostgreSQL the query runs in one
// statement, so the file is a consistent snapshot; on SQLite the read holds
// its WAL snapshot until the export ends, which delays checkpoints but
// blocks no writer.
//
// Every column is OPTIONAL unless the driver reports it NOT NULL (neither
// of ours does; [Exporter.ExportTable] asks the catalog instead). An error
// names the column, and the row for a value that cannot be converted. On
// error, w has received an incomplete file that no reader will accept.
func (e *Exporter) ExportQuery(ctx context.Context, w io.Writer, query string, args ...any) (int64, error) {
	return e.export(ctx, "sqlparquet", w, nil, query, args)
}

// ExportTable writes every row of table to DIR/TABLE.parquet, replacing
// any file of that name only once the new one is complete: it writes a
// temporary file in dir, syncs it and renames it over the old one. After an
// error no file is left behind and an earlier export is untouched. dir must
// exist.
//
// table must be a plain identifier (letters, digits, underscores), spelt
// as the catalog stores it (on PostgreSQL, in lower case unless it was
// created quoted); it may name a view. Its NOT NULL columns become
// REQUIRED Parquet fields, the rest OPTIONAL.
func (e *Exporter) ExportTable(ctx context.Context, dir, table string) (n int64, err error) {
	if !identifier.MatchString(table) {
		return 0, fmt.Errorf("sqlparquet: table name %q is not a plain identifier", table)
	}
	notNull, err := e.notNullColumns(ctx, table)
	if err != nil {
		return 0, err
	}
	dst := filepath.Join(dir, table+".parquet")
	f, err := os.CreateTemp(dir, "."+table+".parquet.*.tmp")
	if err != nil {
		return 0, fmt.Errorf("sqlparquet: export %s: %w", table, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if n, err = e.export(ctx, "sqlparquet: export "+table, f, notNull, `SELECT * FROM "`+table+`"`, nil); err != nil {
		return 0, err
	}
	// CreateTemp makes the file private; the export is meant for other
	// tools to load.
	if err = f.Chmod(0o644); err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = f.Close()
	}
	if err == nil {
		err = os.Rename(f.Name(), dst)
	}
	if err != nil {
		return 0, fmt.Errorf("sqlparquet: export %s: %w", table, err)
	}
	// Make the rename itself durable; some platforms cannot sync a
	// directory, and the file is complete either way.
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		d.Close()
	}
	return n, nil
}

var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// notNullColumns returns the names of table's NOT NULL columns, or an
// error if there is no such table or view.
func (e *Exporter) notNullColumns(ctx context.Context, table string) (map[string]bool, error) {
	// On SQLite an INTEGER PRIMARY KEY (the rowid) cannot be NULL either,
	// though the catalog does not mark it NOT NULL.
	exists := `SELECT count(*) > 0 FROM sqlite_schema WHERE type IN ('table', 'view') AND name = ?`
	notNull := `SELECT name FROM pragma_table_info(?1) WHERE "notnull"
		OR (pk = 1 AND upper(type) = 'INTEGER' AND NOT EXISTS (SELECT 1 FROM pragma_table_info(?1) WHERE pk > 1))`
	arg := table
	if e.db.Dialect() == sqldb.Postgres {
		exists = `SELECT to_regclass($1) IS NOT NULL`
		notNull = `SELECT attname FROM pg_attribute
			WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped AND attnotnull`
		arg = `"` + table + `"` // to_regclass parses a name as SQL does: keep its case
	}
	var found bool
	if err := e.db.Reader().QueryRowContext(ctx, exists, arg).Scan(&found); err != nil {
		return nil, fmt.Errorf("sqlparquet: export %s: %w", table, err)
	}
	if !found {
		return nil, fmt.Errorf("sqlparquet: export %s: no such table", table)
	}
	rows, err := e.db.Reader().QueryContext(ctx, notNull, arg)
	if err != nil {
		return nil, fmt.Errorf("sqlparquet: export %s: %w", table, err)
	}
	defer rows.Close()
	names := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("sqlparquet: export %s: %w", table, err)
		}
		names[name] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlparquet: export %s: %w", table, err)
	}
	return names, nil
}

// inferRows is how many rows the exporter reads ahead to pick the Kind of
// a SQLite column with no declared type (an expression).
const inferRows = 1000

// writeBatch is how many rows go to the Parquet writer in one call.
const writeBatch = 256

// export is ExportQuery; notNull, if not nil, lists the columns known to be
// NOT NULL, and op begins every error message.
func (e *Exporter) export(ctx context.Context, op string, w io.Writer, notNull map[string]bool, query string, args []any) (int64, error) {
	rows, err := e.db.Reader().QueryContext(ctx, query, args...)
	if err != nil {
		return 0, fmt.Errorf("%s: query: %w", op, err)
	}
	defer rows.Close()
	types, err := rows.ColumnTypes()
	if err != nil {
		return 0, fmt.Errorf("%s: column types: %w", op, err)
	}
	cols, err := columnsOf(e.db.Dialect(), types, e.cfg.Columns, notNull)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", op, err)
	}

	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	scan := func() ([]any, error) {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("%s: scan: %w", op, err)
		}
		return vals, nil
	}

	// Read ahead to pick the kinds of untyped columns. The rows read here
	// are kept (at most inferRows of them) and written first.
	var ahead [][]any
	if needsInference(cols) {
		for len(ahead) < inferRows && rows.Next() {
			v, err := scan()
			if err != nil {
				return 0, err
			}
			ahead = append(ahead, append([]any(nil), v...))
		}
		if err := inferKinds(cols, ahead); err != nil {
			return 0, fmt.Errorf("%s: %w", op, err)
		}
	}

	pw := parquet.NewWriter(w, schemaOf(cols), parquet.Compression(e.codec),
		parquet.MaxRowsPerRowGroup(int64(e.cfg.RowGroupSize)))
	batch := make([]parquet.Row, 0, writeBatch)
	// flush hands the batched rows to the writer and empties the batch,
	// keeping its rows' slices for reuse (the writer copies values out).
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if _, err := pw.WriteRows(batch); err != nil {
			return fmt.Errorf("%s: write: %w", op, err)
		}
		batch = batch[:0]
		return nil
	}
	var n int64
	add := func(v []any) error {
		n++
		// Reuse the slice of the slot this row takes (flush keeps len <
		// cap here).
		row := batch[:len(batch)+1][len(batch)][:0]
		for i, c := range cols {
			pv, err := c.value(v[i])
			if err != nil {
				return fmt.Errorf("%s: column %q (%s) row %d: %w", op, c.name, c.sqlType, n, err)
			}
			row = append(row, pv)
		}
		batch = append(batch, row)
		if len(batch) == cap(batch) {
			return flush()
		}
		return nil
	}
	for _, v := range ahead {
		if err := add(v); err != nil {
			return 0, err
		}
	}
	ahead = nil
	for rows.Next() {
		v, err := scan()
		if err != nil {
			return 0, err
		}
		if err := add(v); err != nil {
			return 0, err
		}
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("%s: query: %w", op, err)
	}
	if err := flush(); err != nil {
		return 0, err
	}
	if err := pw.Close(); err != nil {
		return 0, fmt.Errorf("%s: write: %w", op, err)
	}
	return n, nil
}
