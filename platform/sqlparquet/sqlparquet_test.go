package sqlparquet_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/bounded-dev/bounded/platform/sqldb"
	"github.com/bounded-dev/bounded/platform/sqlparquet"
	"github.com/bounded-dev/bounded/platform/testenv"
	"github.com/bounded-dev/bounded/platform/toolkittest"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// newDB returns an empty database of dialect d, closed when the test ends.
func newDB(tb testing.TB, d sqldb.Dialect) *sqldb.DB {
	tb.Helper()
	db, err := sqldb.Open(toolkittest.Context(tb), sqldb.Config{DSN: toolkittest.DSN(tb, d)})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// each runs fn against a fresh database of every dialect.
func each(t *testing.T, fn func(t *testing.T, db *sqldb.DB)) {
	for _, d := range toolkittest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			fn(t, newDB(t, d))
		})
	}
}

func mustExec(tb testing.TB, db *sqldb.DB, stmts ...string) {
	tb.Helper()
	err := db.Transact(toolkittest.Context(tb), func(tx *sqldb.Tx) error {
		for _, s := range stmts {
			if _, err := tx.ExecContext(toolkittest.Context(tb), s); err != nil {
				return fmt.Errorf("%s: %w", s, err)
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
}

func mustExporter(tb testing.TB, db *sqldb.DB, cfg sqlparquet.Config) *sqlparquet.Exporter {
	tb.Helper()
	e, err := sqlparquet.NewExporter(db, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

// file is a Parquet file as read back with parquet-go's reader.
type file struct {
	// fields describe the leaf columns in file order:
	// "name repetition PHYSICAL LOGICAL".
	fields []string
	// rowGroups holds the number of rows of each row group.
	rowGroups []int64
	// rows holds each row's values as Go values: nil for NULL, bool,
	// int32, int64, float32, float64, or string for (fixed-length) byte
	// arrays.
	rows [][]any
}

func readParquet(tb testing.TB, data []byte) file {
	tb.Helper()
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		tb.Fatalf("open parquet: %v", err)
	}
	var out file
	for _, fld := range f.Schema().Fields() {
		rep := "required"
		if fld.Optional() {
			rep = "optional"
		}
		phys := fld.Type().Kind().String()
		if fld.Type().Kind() == parquet.FixedLenByteArray {
			phys += fmt.Sprintf("(%d)", fld.Type().Length())
		}
		desc := strings.Join([]string{fld.Name(), rep, phys}, " ")
		if lt := fld.Type().LogicalType(); lt != nil && lt.String() != "" {
			desc += " " + lt.String()
		}
		out.fields = append(out.fields, desc)
	}
	if got := f.NumRows(); got < 0 {
		tb.Fatalf("NumRows %d", got)
	}
	for _, rg := range f.RowGroups() {
		out.rowGroups = append(out.rowGroups, rg.NumRows())
		rows := rg.Rows()
		buf := make([]parquet.Row, 64)
		for {
			n, err := rows.ReadRows(buf)
			for _, r := range buf[:n] {
				vals := make([]any, len(r))
				for i, v := range r {
					vals[i] = goValue(v)
				}
				out.rows = append(out.rows, vals)
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				tb.Fatalf("read rows: %v", err)
			}
		}
		rows.Close()
	}
	if int64(len(out.rows)) != f.NumRows() {
		tb.Fatalf("read %d rows, footer says %d", len(out.rows), f.NumRows())
	}
	return out
}

func goValue(v parquet.Value) any {
	if v.IsNull() {
		return nil
	}
	switch v.Kind() {
	case parquet.Boolean:
		return v.Boolean()
	case parquet.Int32:
		return v.Int32()
	case parquet.Int64:
		return v.Int64()
	case parquet.Float:
		return v.Float()
	case parquet.Double:
		return v.Double()
	case parquet.ByteArray, parquet.FixedLenByteArray:
		return string(v.ByteArray())
	}
	panic(fmt.Sprintf("unexpected value kind %v", v.Kind()))
}

func readFile(tb testing.TB, path string) file {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return readParquet(tb, data)
}

// micros is t as a Parquet TIMESTAMP(MICROS).
func micros(t time.Time) int64 { return t.UnixMicro() }

// days is the Parquet DATE of y-m-d.
func days(y int, m time.Month, d int) int32 {
	return int32(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// int128 is the 16-byte big-endian two's complement of the decimal integer
// s, as a DECIMAL on FIXED_LEN_BYTE_ARRAY(16) holds it.
func int128(s string) string {
	i, ok := new(big.Int).SetString(s, 10)
	if !ok {
		panic(s)
	}
	neg := i.Sign() < 0
	b := make([]byte, 16)
	new(big.Int).Abs(i).FillBytes(b)
	if neg { // invert and add one
		for k := range b {
			b[k] = ^b[k]
		}
		for k := 15; k >= 0; k-- {
			b[k]++
			if b[k] != 0 {
				break
			}
		}
	}
	return string(b)
}

func compareFile(t *testing.T, got file, wantFields []string, wantRows [][]any) {
	t.Helper()
	if !reflect.DeepEqual(got.fields, wantFields) {
		t.Errorf("fields:\n got %q\nwant %q", got.fields, wantFields)
	}
	if len(got.rows) != len(wantRows) {
		t.Fatalf("got %d rows, want %d", len(got.rows), len(wantRows))
	}
	for r := range wantRows {
		for c := range wantRows[r] {
			if c >= len(got.rows[r]) {
				t.Errorf("row %d: no column %d", r, c)
				continue
			}
			g, w := got.rows[r][c], wantRows[r][c]
			if !reflect.DeepEqual(g, w) {
				name := ""
				if c < len(got.fields) {
					name = strings.Fields(got.fields[c])[0]
				}
				t.Errorf("row %d column %d (%s): got %#v (%T), want %#v (%T)", r, c, name, g, g, w, w)
			}
		}
	}
}

const uuidText = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"

func TestPostgresTypes(t *testing.T) {
	t.Parallel()
	db := newDB(t, sqldb.Postgres)
	mustExec(t, db, `CREATE TABLE everything (
			id       int8 PRIMARY KEY,
			label    text NOT NULL,
			code     varchar(20),
			padded   char(5),
			small    int2,
			medium   int4,
			big      int8,
			flag     bool,
			ratio    float4,
			measure  float8,
			price    numeric(9,2),
			amount   numeric(18,4),
			huge     numeric(38,10),
			free     numeric,
			wide     numeric(60,2),
			at       timestamptz,
			wall     timestamp,
			day      date,
			raw      bytea,
			doc      jsonb,
			doc_text json,
			ref      uuid
		)`,
		`INSERT INTO everything VALUES
			(1, 'héllo, 世界 🌍', 'ABC-1', 'ab', -32768, 2147483647, -9223372036854775808, true,
			 1.5, -12345678.901234567, -1234567.89, 12345678901234.5678,
			 -1234567890123456789012345678.0123456789, 3.14159265358979323846264338327950288419,
			 -12345678901234567890123456789012345678901234567890.25,
			 '2024-03-10 12:34:56.123456+05:30', '2024-03-10 12:34:56.654321', '1969-07-20',
			 '\x00ff10', '{"b": [1, 2.5, null], "a": "ü"}', '{"b":1,  "a":2}', '`+uuidText+`'),
			(2, '', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
			 NULL, NULL, NULL, NULL, NULL, NULL, NULL),
			(3, 'max', 'zz', 'abcde', 32767, -2147483648, 9223372036854775807, false,
			 -0.25, 1e308, 9999999.99, -0.0001, 0, -0.000000000000000000001, 0,
			 '1900-01-01 00:00:00.000001-08', '2262-04-11 23:47:16.854775', '0001-01-01',
			 '', '[]', '"just a string"', '00000000-0000-0000-0000-000000000000')`,
	)
	dir := t.TempDir()
	n, err := mustExporter(t, db, sqlparquet.Config{}).ExportTable(toolkittest.Context(t), dir, "everything")
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("exported %d rows, want 3", n)
	}
	wantFields := []string{
		"id required INT64 INT(64,true)",
		"label required BYTE_ARRAY STRING",
		"code optional BYTE_ARRAY STRING",
		"padded optional BYTE_ARRAY STRING",
		"small optional INT32 INT(16,true)",
		"medium optional INT32 INT(32,true)",
		"big optional INT64 INT(64,true)",
		"flag optional BOOLEAN",
		"ratio optional FLOAT",
		"measure optional DOUBLE",
		"price optional INT32 DECIMAL(9,2)",
		"amount optional INT64 DECIMAL(18,4)",
		"huge optional FIXED_LEN_BYTE_ARRAY(16) DECIMAL(38,10)",
		"free optional BYTE_ARRAY STRING",
		"wide optional BYTE_ARRAY STRING",
		"at optional INT64 TIMESTAMP(isAdjustedToUTC=true,unit=MICROS)",
		"wall optional INT64 TIMESTAMP(isAdjustedToUTC=false,unit=MICROS)",
		"day optional INT32 DATE",
		"raw optional BYTE_ARRAY",
		"doc optional BYTE_ARRAY JSON",
		"doc_text optional BYTE_ARRAY JSON",
		"ref optional BYTE_ARRAY STRING",
	}
	wantRows := [][]any{
		{int64(1), "héllo, 世界 🌍", "ABC-1", "ab   ", int32(-32768), int32(2147483647), int64(math.MinInt64), true,
			float32(1.5), -12345678.901234567, int32(-123456789), int64(123456789012345678),
			int128("-12345678901234567890123456780123456789"), "3.14159265358979323846264338327950288419",
			"-12345678901234567890123456789012345678901234567890.25",
			micros(time.Date(2024, 3, 10, 7, 4, 56, 123456000, time.UTC)),
			micros(time.Date(2024, 3, 10, 12, 34, 56, 654321000, time.UTC)), days(1969, 7, 20),
			"\x00\xff\x10", `{"a": "ü", "b": [1, 2.5, null]}`, `{"b":1,  "a":2}`, uuidText},
		{int64(2), "", nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil},
		{int64(3), "max", "zz", "abcde", int32(32767), int32(-2147483648), int64(math.MaxInt64), false,
			float32(-0.25), 1e308, int32(999999999), int64(-1), int128("0"), "-0.000000000000000000001", "0.00",
			micros(time.Date(1900, 1, 1, 8, 0, 0, 1000, time.UTC)),
			micros(time.Date(2262, 4, 11, 23, 47, 16, 854775000, time.UTC)), days(1, 1, 1),
			"", "[]", `"just a string"`, "00000000-0000-0000-0000-000000000000"},
	}
	got := readFile(t, filepath.Join(dir, "everything.parquet"))
	compareFile(t, got, wantFields, wantRows)
	if !reflect.DeepEqual(got.rowGroups, []int64{3}) {
		t.Errorf("row groups %v, want [3]", got.rowGroups)
	}

	// ExportQuery knows nothing of NOT NULL, keeps the query's column
	// order, and honours overrides.
	var buf bytes.Buffer
	e := mustExporter(t, db, sqlparquet.Config{Columns: map[string]sqlparquet.Kind{
		"ref": sqlparquet.UUID, "at": sqlparquet.UnixMillis, "flag": sqlparquet.Bool, "unused": sqlparquet.Int64,
	}})
	n, err = e.ExportQuery(toolkittest.Context(t), &buf, `SELECT ref, label, id, at, flag FROM everything WHERE id <> $1 ORDER BY id`, 2)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("exported %d rows, want 2", n)
	}
	compareFile(t, readParquet(t, buf.Bytes()), []string{
		"ref optional FIXED_LEN_BYTE_ARRAY(16) UUID",
		"label optional BYTE_ARRAY STRING",
		"id optional INT64 INT(64,true)",
		"at optional INT64 TIMESTAMP(isAdjustedToUTC=true,unit=MICROS)",
		"flag optional BOOLEAN",
	}, [][]any{
		{"\xa0\xee\xbc\x99\x9c\x0b\x4e\xf8\xbb\x6d\x6b\xb9\xbd\x38\x0a\x11", "héllo, 世界 🌍", int64(1), wantRows[0][15], true},
		{string(make([]byte, 16)), "max", int64(3), wantRows[2][15], false},
	})
}

func TestSQLiteTypes(t *testing.T) {
	t.Parallel()
	db := newDB(t, sqldb.SQLite)
	mustExec(t, db, `CREATE TABLE everything (
			id       INTEGER PRIMARY KEY, -- the rowid: never NULL
			label    TEXT NOT NULL,
			code     VARCHAR(20),
			n        INTEGER,
			flag     BOOLEAN,
			measure  REAL,
			loose    NUMERIC,
			price    DECIMAL(9,2),
			amount   DECIMAL(20,4),
			at       DATETIME,
			day      DATE,
			raw      BLOB,
			doc      JSON,
			at_ms    INTEGER,
			at_text  TEXT,
			flag_int INTEGER
		)`,
		`INSERT INTO everything VALUES
			(1, 'héllo, 世界 🌍', 'ABC-1', -9223372036854775808, 1, -1.5e-300, 42, -1234567.89, 123.4567,
			 '2024-03-10 12:34:56.123456789+05:30', '1969-07-20', x'00ff10', '{"a":[1,2,{"b":"ü"}]}',
			 1710074096123, '2024-03-10T12:34:56.5-03:00', 0),
			(2, '', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
			(3, 'max', 'zz', 9223372036854775807, 0, 1e308, 2.5, 0.07, -0.0001,
			 '1900-01-01 00:00:00.000001Z', '2000-02-29', x'ff', '[]',
			 -1, '2024-03-10 12:34:56', 1)`,
	)
	cfg := sqlparquet.Config{Columns: map[string]sqlparquet.Kind{
		"at_ms": sqlparquet.UnixMillis, "at_text": sqlparquet.Timestamp, "flag_int": sqlparquet.Bool,
		"stamp": sqlparquet.UnixMillis, // only in the query below
	}}
	dir := t.TempDir()
	n, err := mustExporter(t, db, cfg).ExportTable(toolkittest.Context(t), dir, "everything")
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("exported %d rows, want 3", n)
	}
	ts := "INT64 TIMESTAMP(isAdjustedToUTC=true,unit=MICROS)"
	wantFields := []string{
		"id required INT64 INT(64,true)",
		"label required BYTE_ARRAY STRING",
		"code optional BYTE_ARRAY STRING",
		"n optional INT64 INT(64,true)",
		"flag optional BOOLEAN",
		"measure optional DOUBLE",
		"loose optional DOUBLE",
		"price optional INT32 DECIMAL(9,2)",
		"amount optional FIXED_LEN_BYTE_ARRAY(16) DECIMAL(20,4)",
		"at optional " + ts,
		"day optional INT32 DATE",
		"raw optional BYTE_ARRAY",
		"doc optional BYTE_ARRAY JSON",
		"at_ms optional " + ts,
		"at_text optional " + ts,
		"flag_int optional BOOLEAN",
	}
	wantRows := [][]any{
		{int64(1), "héllo, 世界 🌍", "ABC-1", int64(math.MinInt64), true, -1.5e-300, 42.0, int32(-123456789), int128("1234567"),
			micros(time.Date(2024, 3, 10, 7, 4, 56, 123456000, time.UTC)), days(1969, 7, 20), "\x00\xff\x10", `{"a":[1,2,{"b":"ü"}]}`,
			micros(time.UnixMilli(1710074096123)), micros(time.Date(2024, 3, 10, 15, 34, 56, 5e8, time.UTC)), false},
		{int64(2), "", nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil},
		{int64(3), "max", "zz", int64(math.MaxInt64), false, 1e308, 2.5, int32(7), int128("-1"),
			micros(time.Date(1900, 1, 1, 0, 0, 0, 1000, time.UTC)), days(2000, 2, 29), "\xff", "[]",
			int64(-1000), micros(time.Date(2024, 3, 10, 12, 34, 56, 0, time.UTC)), true},
	}
	compareFile(t, readFile(t, filepath.Join(dir, "everything.parquet")), wantFields, wantRows)

	// Expressions have no declared type: their kinds come from the values.
	var buf bytes.Buffer
	n, err = mustExporter(t, db, cfg).ExportQuery(toolkittest.Context(t), &buf, `
		SELECT id, n % 7 AS remainder, measure / 2 AS half, label || '!' AS shout,
			CASE id WHEN 1 THEN 1 ELSE 0.5 END AS mixed, NULL AS always_null, at_ms + 0 AS stamp
		FROM everything ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("exported %d rows, want 3", n)
	}
	compareFile(t, readParquet(t, buf.Bytes()), []string{
		"id optional INT64 INT(64,true)",
		"remainder optional INT64 INT(64,true)",
		"half optional DOUBLE",
		"shout optional BYTE_ARRAY STRING",
		"mixed optional DOUBLE",
		"always_null optional BYTE_ARRAY STRING",
		"stamp optional " + ts,
	}, [][]any{
		{int64(1), int64(math.MinInt64 % 7), -0.75e-300, "héllo, 世界 🌍!", 1.0, nil, wantRows[0][13]},
		{int64(2), nil, nil, "!", 0.5, nil, nil},
		{int64(3), int64(math.MaxInt64 % 7), 0.5e308, "max!", 0.5, nil, int64(-1000)},
	})
}

func TestEmptyTable(t *testing.T) {
	each(t, func(t *testing.T, db *sqldb.DB) {
		mustExec(t, db, `CREATE TABLE empty (id INTEGER NOT NULL, name TEXT, amount DECIMAL(10,2))`)
		dir := t.TempDir()
		n, err := mustExporter(t, db, sqlparquet.Config{}).ExportTable(toolkittest.Context(t), dir, "empty")
		if err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("exported %d rows, want 0", n)
		}
		id := "id required INT32 INT(32,true)" // PostgreSQL's integer is int4
		if db.Dialect() == sqldb.SQLite {
			id = "id required INT64 INT(64,true)"
		}
		got := readFile(t, filepath.Join(dir, "empty.parquet"))
		compareFile(t, got, []string{id, "name optional BYTE_ARRAY STRING", "amount optional INT64 DECIMAL(10,2)"}, nil)
		if len(got.rowGroups) > 1 || len(got.rowGroups) == 1 && got.rowGroups[0] != 0 {
			t.Errorf("row groups %v, want none or one empty", got.rowGroups)
		}
	})
}

// fillSeries creates table name(id, label, at) holding n rows, id 1..n.
func fillSeries(tb testing.TB, db *sqldb.DB, name string, n int) {
	tb.Helper()
	if db.Dialect() == sqldb.Postgres {
		mustExec(tb, db,
			`CREATE TABLE `+name+` (id int8 PRIMARY KEY, label text, at timestamptz NOT NULL)`,
			fmt.Sprintf(`INSERT INTO %s SELECT i, 'row ' || i, timestamptz 'epoch' + (1700000000000 + i) * interval '1 millisecond'
				FROM generate_series(1, %d) AS i`, name, n))
		return
	}
	mustExec(tb, db,
		`CREATE TABLE `+name+` (id INTEGER PRIMARY KEY, label TEXT, at INTEGER NOT NULL)`,
		fmt.Sprintf(`WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < %d)
			INSERT INTO %s SELECT i, 'row ' || i, 1700000000000 + i FROM s`, n, name))
}

func TestManyRowGroups(t *testing.T) {
	each(t, func(t *testing.T, db *sqldb.DB) {
		const rows = 25_000
		fillSeries(t, db, "series", rows)
		cfg := sqlparquet.Config{RowGroupSize: 10_000, Compression: sqlparquet.Zstd,
			Columns: map[string]sqlparquet.Kind{"at": sqlparquet.UnixMillis}}
		dir := t.TempDir()
		n, err := mustExporter(t, db, cfg).ExportTable(toolkittest.Context(t), dir, "series")
		if err != nil {
			t.Fatal(err)
		}
		if n != rows {
			t.Errorf("exported %d rows, want %d", n, rows)
		}
		got := readFile(t, filepath.Join(dir, "series.parquet"))
		if !reflect.DeepEqual(got.rowGroups, []int64{10_000, 10_000, 5_000}) {
			t.Errorf("row groups %v, want [10000 10000 5000]", got.rowGroups)
		}
		seen := make([]bool, rows+1)
		for _, r := range got.rows {
			id := r[0].(int64)
			if id < 1 || id > rows || seen[id] {
				t.Fatalf("unexpected or repeated id %d", id)
			}
			seen[id] = true
			if want := fmt.Sprint("row ", id); r[1] != want {
				t.Fatalf("id %d: label %v, want %s", id, r[1], want)
			}
			if want := (1700000000000 + id) * 1000; r[2] != want {
				t.Fatalf("id %d: at %v, want %d", id, r[2], want)
			}
		}
	})
}

func TestCompression(t *testing.T) {
	t.Parallel()
	db := newDB(t, sqldb.SQLite)
	fillSeries(t, db, "series", 100)
	for c, want := range map[sqlparquet.Compression]format.CompressionCodec{
		"": format.Snappy, sqlparquet.Snappy: format.Snappy, sqlparquet.Zstd: format.Zstd,
		sqlparquet.Gzip: format.Gzip, sqlparquet.Uncompressed: format.Uncompressed,
	} {
		var buf bytes.Buffer
		if _, err := mustExporter(t, db, sqlparquet.Config{Compression: c}).ExportQuery(toolkittest.Context(t), &buf, `SELECT * FROM series`); err != nil {
			t.Fatalf("%q: %v", c, err)
		}
		f, err := parquet.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if err != nil {
			t.Fatalf("%q: %v", c, err)
		}
		if got := f.Metadata().RowGroups[0].Columns[1].MetaData.Codec; got != want {
			t.Errorf("%q: codec %v, want %v", c, got, want)
		}
		if got := readParquet(t, buf.Bytes()); len(got.rows) != 100 || got.rows[99][1] != "row 100" {
			t.Errorf("%q: read back %d rows", c, len(got.rows))
		}
	}
}

// dirEntries lists the names in dir.
func dirEntries(tb testing.TB, dir string) []string {
	tb.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestFailureLeavesNoPartialFile(t *testing.T) {
	each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := toolkittest.Context(t)
		e := mustExporter(t, db, sqlparquet.Config{RowGroupSize: 1000})
		dir := t.TempDir()

		if _, err := e.ExportTable(ctx, dir, "missing"); err == nil || !strings.Contains(err.Error(), "missing") {
			t.Errorf("export of a missing table: err %v, want one naming the table", err)
		}
		if _, err := e.ExportTable(ctx, dir, "bad; DROP TABLE x"); err == nil {
			t.Error("export of a table name that is no identifier: no error")
		}
		if _, err := e.ExportQuery(ctx, io.Discard, `SELEKT 1`); err == nil {
			t.Error("bad query: no error")
		}
		if names := dirEntries(t, dir); len(names) != 0 {
			t.Errorf("files left after failed exports: %v", names)
		}

		// A failure after several row groups have been written leaves the
		// previous export in place and no temporary file.
		fillSeries(t, db, "series", 5000)
		if _, err := e.ExportTable(ctx, dir, "series"); err != nil {
			t.Fatal(err)
		}
		before, err := os.ReadFile(filepath.Join(dir, "series.parquet"))
		if err != nil {
			t.Fatal(err)
		}
		mustExec(t, db, `CREATE VIEW failing AS SELECT id, 1 / (id - 4000) AS x FROM series`)
		if db.Dialect() == sqldb.SQLite {
			// SQLite's division by zero is NULL, not an error; a value the
			// column's kind cannot take fails instead.
			mustExec(t, db, `DROP VIEW failing`,
				`CREATE VIEW failing AS SELECT id, CASE WHEN id = 4000 THEN x'00' ELSE id END AS x FROM series`)
		}
		_, err = e.ExportTable(ctx, dir, "failing")
		if err == nil {
			t.Fatal("export of a failing view: no error")
		}
		t.Logf("mid-stream failure: %v", err)
		if names := dirEntries(t, dir); !reflect.DeepEqual(names, []string{"series.parquet"}) {
			t.Errorf("files after a failed export: %v, want only series.parquet", names)
		}
		// The earlier export is untouched by a failure of another, or of
		// its own table.
		mustExec(t, db, `DROP VIEW failing`, `ALTER TABLE series RENAME TO series_old`)
		if db.Dialect() == sqldb.Postgres {
			mustExec(t, db, `CREATE VIEW series AS
				SELECT id, label, at + (1 / (id - 4000)) * interval '0 seconds' AS at FROM series_old`)
		} else {
			mustExec(t, db, `CREATE VIEW series AS
				SELECT id, label, CASE WHEN id = 4000 THEN 'oops' ELSE at END AS at FROM series_old`)
		}
		if _, err := mustExporter(t, db, sqlparquet.Config{RowGroupSize: 1000, Columns: map[string]sqlparquet.Kind{"at": sqlparquet.UnixMillis}}).
			ExportTable(ctx, dir, "series"); err == nil {
			t.Fatal("export of a failing series: no error")
		}
		after, err := os.ReadFile(filepath.Join(dir, "series.parquet"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(before, after) {
			t.Error("a failed export changed the earlier file")
		}
		if names := dirEntries(t, dir); !reflect.DeepEqual(names, []string{"series.parquet"}) {
			t.Errorf("files after a failed export: %v, want only series.parquet", names)
		}
	})
}

func TestUnsupportedType(t *testing.T) {
	t.Parallel()
	db := newDB(t, sqldb.Postgres)
	mustExec(t, db, `CREATE TABLE odd (id int8, wait interval, tags int4[])`)
	e := mustExporter(t, db, sqlparquet.Config{})
	for _, col := range []string{"wait", "tags"} {
		_, err := e.ExportQuery(toolkittest.Context(t), io.Discard, `SELECT id, `+col+` FROM odd`)
		if err == nil || !strings.Contains(err.Error(), `"`+col+`"`) {
			t.Errorf("%s: err %v, want one naming the column", col, err)
		} else {
			t.Logf("%s: %v", col, err)
		}
	}
	// The cast the error suggests works.
	mustExec(t, db, `INSERT INTO odd VALUES (1, '1 day 2 hours', '{1,2}')`)
	var buf bytes.Buffer
	if _, err := e.ExportQuery(toolkittest.Context(t), &buf, `SELECT wait::text, tags::text FROM odd`); err != nil {
		t.Fatal(err)
	}
	compareFile(t, readParquet(t, buf.Bytes()),
		[]string{"wait optional BYTE_ARRAY STRING", "tags optional BYTE_ARRAY STRING"},
		[][]any{{"1 day 02:00:00", "{1,2}"}})
}

func TestValueErrorsNameColumnAndRow(t *testing.T) {
	t.Parallel()
	db := newDB(t, sqldb.SQLite)
	mustExec(t, db, `CREATE TABLE t (id INTEGER NOT NULL, day DATE, n INTEGER, s TEXT)`,
		`INSERT INTO t VALUES (1, '2024-01-01', 1, 'a'), (2, 'not a date', 2, 'b'), (3, NULL, 'three', 'c'),
			(4, NULL, 4, CAST(x'ff' AS TEXT))`)
	e := mustExporter(t, db, sqlparquet.Config{})
	for _, tc := range []struct{ query, want string }{
		{`SELECT day FROM t ORDER BY id`, `column "day" (DATE) row 2`},
		{`SELECT n FROM t ORDER BY id`, `column "n" (INTEGER) row 3`},
		{`SELECT s FROM t WHERE id IS NOT NULL ORDER BY id`, `column "s" (TEXT) row 4: text is not valid UTF-8`},
		{`SELECT 1 AS a, 2 AS a`, `column "a" appears twice`},
	} {
		_, err := e.ExportQuery(toolkittest.Context(t), io.Discard, tc.query)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want it to contain %q", tc.query, err, tc.want)
		}
	}
	dir := t.TempDir()
	_, err := e.ExportTable(toolkittest.Context(t), dir, "t")
	if err == nil || !strings.Contains(err.Error(), `column "day" (DATE) row 2`) {
		t.Errorf("ExportTable: err %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  sqlparquet.Config
		want string
	}{
		{sqlparquet.Config{RowGroupSize: -1}, "RowGroupSize"},
		{sqlparquet.Config{Compression: "lzo"}, "compression"},
		{sqlparquet.Config{Columns: map[string]sqlparquet.Kind{"x": 0}}, `Columns["x"]`},
		{sqlparquet.Config{Columns: map[string]sqlparquet.Kind{"x": sqlparquet.Decimal}}, `Columns["x"]`},
		{sqlparquet.Config{Columns: map[string]sqlparquet.Kind{"x": 99}}, `Kind(99)`},
	} {
		if err := tc.cfg.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err %v, want it to contain %q", tc.cfg, err, tc.want)
		}
	}
	if err := (sqlparquet.Config{}).Validate(); err != nil {
		t.Errorf("zero Config: %v", err)
	}
	if _, err := sqlparquet.NewExporter(nil, sqlparquet.Config{}); err == nil {
		t.Error("NewExporter(nil): no error")
	}
}

func TestCancelledContext(t *testing.T) {
	each(t, func(t *testing.T, db *sqldb.DB) {
		fillSeries(t, db, "series", 10)
		ctx, cancel := context.WithCancel(toolkittest.Context(t))
		cancel()
		_, err := mustExporter(t, db, sqlparquet.Config{}).ExportQuery(ctx, io.Discard, `SELECT * FROM series`)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err %v, want context.Canceled", err)
		}
	})
}

func TestSQLiteRowidIsRequired(t *testing.T) {
	t.Parallel()
	db := newDB(t, sqldb.SQLite)
	mustExec(t, db, `CREATE TABLE single (id INTEGER PRIMARY KEY, name TEXT)`,
		`CREATE TABLE pair (a INTEGER, b INTEGER, PRIMARY KEY (a, b))`)
	dir := t.TempDir()
	e := mustExporter(t, db, sqlparquet.Config{})
	for table, want := range map[string][]string{
		"single": {"id required INT64 INT(64,true)", "name optional BYTE_ARRAY STRING"},
		// Not a rowid: SQLite lets such a key hold NULLs.
		"pair": {"a optional INT64 INT(64,true)", "b optional INT64 INT(64,true)"},
	} {
		if _, err := e.ExportTable(toolkittest.Context(t), dir, table); err != nil {
			t.Fatal(err)
		}
		compareFile(t, readFile(t, filepath.Join(dir, table+".parquet")), want, nil)
	}
}
