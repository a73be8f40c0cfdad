package split_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bounded-dev/bounded/platform/sqldb"
	"github.com/bounded-dev/bounded/platform/testenv"
	"github.com/bounded-dev/bounded/split"
)

// mustPostgres creates a PostgreSQL database for the test, runs stmts in it
// and returns its URL. The database is dropped when the test ends.
func mustPostgres(t testing.TB, stmts ...string) string {
	t.Helper()
	dsn := testenv.NewPostgresDB(t)
	db, err := sqldb.Open(context.Background(), sqldb.Config{DSN: dsn, MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.Writer().ExecContext(context.Background(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	return dsn
}

// mustSQLite creates a SQLite file in the test's temp dir the way a bounded
// service does (sqldb.Open: WAL), fills it in one transaction and returns
// its path.
func mustSQLite(t testing.TB, fill func(tx *sqldb.Tx) error) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "service.db")
	db, err := sqldb.Open(context.Background(), sqldb.Config{DSN: path, MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Transact(context.Background(), fill); err != nil {
		t.Fatal(err)
	}
	return path
}

// execAll runs stmts in tx, stopping at the first error.
func execAll(tx *sqldb.Tx, stmts ...string) error {
	for _, s := range stmts {
		if _, err := tx.ExecContext(context.Background(), s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	return nil
}

func mustCompare(t *testing.T, cfg split.CompareConfig) split.CompareResult {
	t.Helper()
	res, err := split.Compare(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

type counts struct{ shared, service, matched, missing, extra, changed int64 }

func checkCounts(t *testing.T, res split.CompareResult, want counts) {
	t.Helper()
	got := counts{res.SharedRows, res.ServiceRows, res.Matched, res.Missing, res.Extra, res.Changed}
	if got != want {
		t.Errorf("counts (shared, service, matched, missing, extra, changed) = %v, want %v", got, want)
	}
	if res.Equal() != (want.missing+want.extra+want.changed == 0) {
		t.Errorf("Equal() = %v with counts %v", res.Equal(), got)
	}
}

func TestCompareConfigValidate(t *testing.T) {
	ok := split.CompareConfig{
		Shared:  split.Side{DSN: "postgres://x/y", Query: "SELECT 1 AS id"},
		Service: split.Side{DSN: "svc.db", Query: "SELECT 1 AS id"},
		Key:     []string{"id"},
	}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	for name, change := range map[string]func(*split.CompareConfig){
		"no shared DSN":      func(c *split.CompareConfig) { c.Shared.DSN = " " },
		"no service query":   func(c *split.CompareConfig) { c.Service.Query = "" },
		"no key":             func(c *split.CompareConfig) { c.Key = nil },
		"empty key column":   func(c *split.CompareConfig) { c.Key = []string{""} },
		"key named twice":    func(c *split.CompareConfig) { c.Key = []string{"id", "id"} },
		"negative samples":   func(c *split.CompareConfig) { c.Samples = -1 },
		"no service DSN":     func(c *split.CompareConfig) { c.Service.DSN = "" },
		"blank shared query": func(c *split.CompareConfig) { c.Shared.Query = "\n" },
	} {
		t.Run(name, func(t *testing.T) {
			c := ok
			change(&c)
			err := c.Validate()
			if err == nil || !strings.HasPrefix(err.Error(), "split: compare: ") {
				t.Fatalf("Validate() = %v, want a split: compare: error", err)
			}
			if _, cerr := split.Compare(context.Background(), c); cerr == nil || cerr.Error() != err.Error() {
				t.Fatalf("Compare() = %v, want Validate's %v", cerr, err)
			}
		})
	}
}

func TestCompareEqualPostgresAndSQLite(t *testing.T) {
	at := time.Date(2025, 3, 4, 5, 6, 7, 891_000_000, time.UTC)
	shared := mustPostgres(t,
		`CREATE TABLE products (sku text PRIMARY KEY, name text NOT NULL, price numeric(10,2),
			active boolean NOT NULL, note text, updated_at timestamptz NOT NULL)`,
		`INSERT INTO products VALUES
			('A1', 'Anvil', 12.50, true, NULL, '2025-03-04 07:06:07.891+02'),
			('B2', 'Bucket', 3.00, false, '', '2025-03-04 05:06:07.891Z'),
			('C3', 'Crate', NULL, true, 'fragile', '2025-03-04 05:06:07.891Z')`)
	service := mustSQLite(t, func(tx *sqldb.Tx) error {
		if err := execAll(tx, `CREATE TABLE products (sku TEXT PRIMARY KEY, name TEXT NOT NULL,
			price REAL, active INTEGER NOT NULL, note TEXT, updated_at INTEGER NOT NULL)`); err != nil {
			return err
		}
		for _, r := range [][]any{
			{"A1", "Anvil", 12.5, true, nil},
			{"B2", "Bucket", 3.0, false, ""},
			{"C3", "Crate", nil, true, "fragile"},
		} {
			if _, err := tx.ExecContext(context.Background(), `INSERT INTO products VALUES (?, ?, ?, ?, ?, ?)`,
				append(r, sqldb.TimeArg(sqldb.SQLite, at))...); err != nil {
				return err
			}
		}
		return nil
	})
	query := "SELECT sku, name, price, active, note, updated_at FROM products;"
	res := mustCompare(t, split.CompareConfig{
		Shared:  split.Side{DSN: shared, Query: query},
		Service: split.Side{DSN: service, Query: query},
		Key:     []string{"sku"},
	})
	checkCounts(t, res, counts{3, 3, 3, 0, 0, 0})
	if want := []string{"sku", "name", "price", "active", "note", "updated_at"}; !slices.Equal(res.Columns, want) {
		t.Errorf("Columns = %v, want %v", res.Columns, want)
	}
	if len(res.OnlyShared)+len(res.OnlyService)+len(res.Samples) != 0 {
		t.Errorf("OnlyShared %v, OnlyService %v, Samples %v: want none", res.OnlyShared, res.OnlyService, res.Samples)
	}
}

// TestCompareValues compares one value per case, PostgreSQL against SQLite
// as a bounded service stores it, to pin the canonical-text rules.
func TestCompareValues(t *testing.T) {
	at := time.Date(2024, 5, 6, 7, 8, 9, 123_000_000, time.UTC)
	cases := []struct {
		name        string
		pgType      string
		pgValue     string // SQL literal
		sqliteType  string
		sqliteValue any // statement argument
		equal       bool
	}{
		{"numeric vs real", "numeric(10,2)", "12.50", "REAL", 12.5, true},
		{"numeric vs integer", "numeric(10,2)", "12.00", "INTEGER", 12, true},
		{"numeric vs other integer", "numeric(10,2)", "12.50", "INTEGER", 12, false},
		{"numeric vs text", "numeric", "12.50", "TEXT", "12.50", true},
		{"numeric vs numeric affinity", "numeric", "0.00000010", "NUMERIC", "1e-7", true},
		{"negative numeric vs real", "numeric", "-0.50", "REAL", -0.5, true},
		{"integer vs zero-padded text", "integer", "7", "TEXT", "007", false},
		{"bigint vs integer", "bigint", "9007199254740993", "INTEGER", int64(9007199254740993), true},
		{"double vs real", "double precision", "0.1", "REAL", 0.1, true},
		{"float4 vs real", "real", "0.1", "REAL", 0.1, true},
		{"true vs 1", "boolean", "true", "INTEGER", true, true},
		{"false vs 0", "boolean", "false", "INTEGER", 0, true},
		{"true vs 0", "boolean", "true", "INTEGER", false, false},
		{"true vs 2", "boolean", "true", "INTEGER", 2, false},
		{"empty text vs NULL", "text", "''", "TEXT", nil, false},
		{"NULL vs empty text", "text", "NULL", "TEXT", "", false},
		{"text NULL vs NULL", "text", "'NULL'", "TEXT", nil, false},
		{"NULL vs NULL", "text", "NULL", "TEXT", nil, true},
		{"text vs other text", "text", "'abc'", "TEXT", "abd", false},
		{"non-ASCII text", "text", "'é ü 日本'", "TEXT", "é ü 日本", true},
		{"uuid vs text", "uuid", "'0b7c2f4e-58f4-4a38-9a51-2f1b3d8f6a10'", "TEXT", "0b7c2f4e-58f4-4a38-9a51-2f1b3d8f6a10", true},
		{"timestamptz vs TimeArg", "timestamptz", "'2024-05-06 09:08:09.123+02'", "INTEGER", sqldb.TimeArg(sqldb.SQLite, at), true},
		{"timestamptz with microseconds vs TimeArg", "timestamptz", "'2024-05-06 07:08:09.123456Z'", "INTEGER", sqldb.TimeArg(sqldb.SQLite, at), true},
		{"timestamptz vs TimeArg a millisecond later", "timestamptz", "'2024-05-06 07:08:09.123Z'", "INTEGER", sqldb.TimeArg(sqldb.SQLite, at.Add(time.Millisecond)), false},
		{"timestamp vs TimeArg", "timestamp", "'2024-05-06 07:08:09.123'", "INTEGER", sqldb.TimeArg(sqldb.SQLite, at), true},
		{"timestamptz vs SQLite datetime text", "timestamptz", "'2024-05-06 07:08:09.123Z'", "TEXT", "2024-05-06 07:08:09.123", true},
		{"timestamptz vs RFC 3339 text", "timestamptz", "'2024-05-06 07:08:09.123Z'", "TEXT", "2024-05-06T09:08:09.123+02:00", true},
		{"timestamptz vs DATETIME column", "timestamptz", "'2024-05-06 07:08:09.123Z'", "DATETIME", "2024-05-06 07:08:09.123", true},
		{"timestamptz vs other time text", "timestamptz", "'2024-05-06 07:08:09.123Z'", "TEXT", "2024-05-06 07:08:10", false},
		{"date vs text", "date", "'2024-05-06'", "TEXT", "2024-05-06", true},
		{"bytea vs blob", "bytea", `'\xdeadbeef'`, "BLOB", []byte{0xde, 0xad, 0xbe, 0xef}, true},
		{"bytea vs other blob", "bytea", `'\xdeadbeef'`, "BLOB", []byte{0xde, 0xad, 0xbe, 0xee}, false},
		{"UTF-8 bytea vs text", "bytea", "'hi'::bytea", "TEXT", "hi", true},
		{"text vs UTF-8 blob", "text", "'hi'", "BLOB", []byte("hi"), true},
	}
	var pgStmts []string
	for i, c := range cases {
		pgStmts = append(pgStmts,
			fmt.Sprintf("CREATE TABLE c%d (id integer PRIMARY KEY, v %s)", i, c.pgType),
			fmt.Sprintf("INSERT INTO c%d VALUES (1, %s)", i, c.pgValue))
	}
	shared := mustPostgres(t, pgStmts...)
	service := mustSQLite(t, func(tx *sqldb.Tx) error {
		for i, c := range cases {
			if err := execAll(tx, fmt.Sprintf("CREATE TABLE c%d (id INTEGER PRIMARY KEY, v %s)", i, c.sqliteType)); err != nil {
				return err
			}
			if _, err := tx.ExecContext(context.Background(), fmt.Sprintf("INSERT INTO c%d VALUES (1, ?)", i), c.sqliteValue); err != nil {
				return err
			}
		}
		return nil
	})
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			query := fmt.Sprintf("SELECT id, v FROM c%d", i)
			res := mustCompare(t, split.CompareConfig{
				Shared:  split.Side{DSN: shared, Query: query},
				Service: split.Side{DSN: service, Query: query},
				Key:     []string{"id"},
			})
			if c.equal {
				checkCounts(t, res, counts{1, 1, 1, 0, 0, 0})
				return
			}
			checkCounts(t, res, counts{1, 1, 0, 0, 0, 1})
			if len(res.Samples) != 1 || !slices.Equal(res.Samples[0].Columns, []string{"v"}) {
				t.Fatalf("Samples = %+v, want one changing v", res.Samples)
			}
			t.Log(res.Samples[0])
		})
	}
}

func TestCompareDifferences(t *testing.T) {
	create := `CREATE TABLE products (sku text PRIMARY KEY, name text NOT NULL, price numeric(10,2), note text)`
	shared := mustPostgres(t, create, `INSERT INTO products VALUES
		('A1', 'Anvil', 12.50, NULL), ('A2', 'Axe', 20.00, NULL), ('A3', 'Awl', 1.25, NULL),
		('A4', 'Adze', 30.00, 'heavy'), ('A5', 'Auger', 4.00, ''), ('A7', 'Apron', 9.99, NULL)`)
	service := mustPostgres(t, create, `INSERT INTO products VALUES
		('A1', 'Anvil', 12.5, NULL), ('A3', 'Awl', 1.25, NULL),
		('A4', 'Adz', 31, 'heavy'), ('A5', 'Auger', 4, NULL), ('A6', 'Alembic', 50, NULL)`)
	query := "SELECT sku, name, price, note FROM products"
	res := mustCompare(t, split.CompareConfig{
		Shared:  split.Side{DSN: shared, Query: query},
		Service: split.Side{DSN: service, Query: query},
		Key:     []string{"sku"},
		Samples: 1,
	})
	// A2 and A7 missing (one sample kept), A6 extra, A4 and A5 changed.
	checkCounts(t, res, counts{6, 5, 2, 2, 1, 2})
	type sample struct {
		kind, key string
		columns   []string
		shared    map[string]string
		service   map[string]string
	}
	want := []sample{
		{"missing", "A2", nil, map[string]string{"sku": "A2", "name": "Axe", "price": "20"}, nil},
		{"extra", "A6", nil, nil, map[string]string{"sku": "A6", "name": "Alembic", "price": "50"}},
		{"changed", "A4", []string{"name", "price"},
			map[string]string{"sku": "A4", "name": "Adze", "price": "30", "note": "heavy"},
			map[string]string{"sku": "A4", "name": "Adz", "price": "31", "note": "heavy"}},
	}
	if len(res.Samples) != len(want) {
		t.Fatalf("Samples = %+v, want %d", res.Samples, len(want))
	}
	for i, w := range want {
		d := res.Samples[i]
		if d.Kind != w.kind || !slices.Equal(d.Key, []string{w.key}) || !slices.Equal(d.Columns, w.columns) ||
			!mapsEqual(d.Shared, w.shared) || !mapsEqual(d.Service, w.service) {
			t.Errorf("sample %d = %+v, want %+v", i, d, w)
		}
	}
	if got := res.Samples[2].String(); got != `changed ("A4"): name: shared "Adze", service "Adz"; price: shared "30", service "31"` {
		t.Errorf("String() = %s", got)
	}

	// With the default number of samples, the '' against NULL of A5 shows
	// too: '' kept in the map, NULL left out.
	res = mustCompare(t, split.CompareConfig{
		Shared:  split.Side{DSN: shared, Query: query},
		Service: split.Side{DSN: service, Query: query},
		Key:     []string{"sku"},
	})
	if len(res.Samples) != 5 {
		t.Fatalf("Samples = %+v, want 5", res.Samples)
	}
	a5 := res.Samples[4]
	if a5.Key[0] != "A5" || !slices.Equal(a5.Columns, []string{"note"}) {
		t.Fatalf("last sample = %+v, want A5 changing note", a5)
	}
	if v, ok := a5.Shared["note"]; !ok || v != "" {
		t.Errorf("shared note = %q, %v: want the empty text", v, ok)
	}
	if v, ok := a5.Service["note"]; ok {
		t.Errorf("service note = %q: want NULL, absent from the map", v)
	}
	if got := a5.String(); got != `changed ("A5"): note: shared "", service NULL` {
		t.Errorf("String() = %s", got)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if (a == nil) != (b == nil) || len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestCompareTwoColumnKey(t *testing.T) {
	shared := mustPostgres(t,
		`CREATE TABLE lines (tenant text, n integer, qty integer NOT NULL, PRIMARY KEY (tenant, n))`,
		// As text, n orders 1, 10, 2: the merge must follow that on both sides.
		`INSERT INTO lines VALUES ('a', 1, 5), ('a', 2, 6), ('a', 10, 7), ('b', 1, 8), ('b', 2, 9), ('b', 10, 1),
			('a b', 1, 2), ('a', 11, 3)`)
	service := mustSQLite(t, func(tx *sqldb.Tx) error {
		return execAll(tx,
			`CREATE TABLE lines (tenant TEXT, n INTEGER, qty INTEGER NOT NULL, PRIMARY KEY (tenant, n))`,
			`INSERT INTO lines VALUES ('a', 1, 5), ('a', 2, 6), ('b', 1, 8), ('b', 2, 90), ('b', 10, 1),
				('a b', 1, 2), ('a', 11, 3)`)
	})
	res := mustCompare(t, split.CompareConfig{
		Shared:  split.Side{DSN: shared, Query: "SELECT tenant, n, qty FROM lines"},
		Service: split.Side{DSN: service, Query: "SELECT tenant, n, qty FROM lines"},
		Key:     []string{"tenant", "n"},
	})
	checkCounts(t, res, counts{8, 7, 6, 1, 0, 1})
	if len(res.Samples) != 2 {
		t.Fatalf("Samples = %+v, want 2", res.Samples)
	}
	if d := res.Samples[0]; d.Kind != "missing" || !slices.Equal(d.Key, []string{"a", "10"}) {
		t.Errorf("first sample = %+v, want (a, 10) missing", d)
	}
	if d := res.Samples[1]; d.Kind != "changed" || !slices.Equal(d.Key, []string{"b", "2"}) || !slices.Equal(d.Columns, []string{"qty"}) {
		t.Errorf("second sample = %+v, want (b, 2) changing qty", d)
	}
}

func TestCompareColumnsInOneQueryOnly(t *testing.T) {
	shared := mustPostgres(t,
		`CREATE TABLE products (sku text PRIMARY KEY, name text, legacy_flag integer)`,
		`INSERT INTO products VALUES ('A1', 'Anvil', 1), ('A2', 'Axe', 2)`)
	service := mustSQLite(t, func(tx *sqldb.Tx) error {
		return execAll(tx,
			`CREATE TABLE products (sku TEXT PRIMARY KEY, name TEXT, created_by TEXT)`,
			`INSERT INTO products VALUES ('A1', 'Anvil', 'importer'), ('A2', 'Axe', NULL)`)
	})
	res := mustCompare(t, split.CompareConfig{
		Shared:  split.Side{DSN: shared, Query: "SELECT * FROM products"},
		Service: split.Side{DSN: service, Query: "SELECT * FROM products"},
		Key:     []string{"sku"},
	})
	checkCounts(t, res, counts{2, 2, 2, 0, 0, 0})
	if !slices.Equal(res.Columns, []string{"sku", "name"}) ||
		!slices.Equal(res.OnlyShared, []string{"legacy_flag"}) || !slices.Equal(res.OnlyService, []string{"created_by"}) {
		t.Errorf("Columns %v, OnlyShared %v, OnlyService %v", res.Columns, res.OnlyShared, res.OnlyService)
	}
}

func TestCompareErrors(t *testing.T) {
	shared := mustPostgres(t,
		`CREATE TABLE t (id integer PRIMARY KEY, v text)`,
		`CREATE SEQUENCE s`,
		`INSERT INTO t VALUES (1, 'one'), (2, 'two'), (3, 'three')`)
	service := mustSQLite(t, func(tx *sqldb.Tx) error {
		return execAll(tx,
			`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`,
			`INSERT INTO t VALUES (1, 'one'), (2, 'two'), (3, 'three')`)
	})
	const plain = "SELECT id, v FROM t"
	missingFile := filepath.Join(t.TempDir(), "absent.db")
	cases := []struct {
		name                      string
		sharedQuery, serviceQuery string
		serviceDSN                string // default: service
		key                       []string
		want                      string
	}{
		{"repeated key in shared", plain + " UNION ALL SELECT 2, 'again'", plain, "", nil,
			`split: compare: key ("2") appears twice in the shared query: Key must identify one row`},
		{"repeated key in service", plain, plain + " UNION ALL SELECT 3, 'again'", "", nil,
			`split: compare: key ("3") appears twice in the service query: Key must identify one row`},
		{"repeated two-column key", "SELECT id, v FROM t UNION ALL SELECT 1, 'one'", plain, "", []string{"id", "v"},
			`split: compare: key ("1", "one") appears twice in the shared query`},
		{"NULL key", plain + " UNION ALL SELECT NULL, 'none'", plain, "", nil,
			`split: compare: key column "id" is NULL in a row of the shared query`},
		{"key column missing from service", plain, "SELECT v FROM t", "", nil,
			`split: compare: key column "id" is not among the service query's columns (v)`},
		{"key column missing from shared", "SELECT v FROM t", plain, "", nil,
			`split: compare: key column "id" is not among the shared query's columns (v)`},
		{"column twice", "SELECT id, v, v FROM t", plain, "", nil,
			`split: compare: column "v" appears twice in the shared query`},
		{"bad SQL", "SELEC id FROM t", plain, "", nil, "split: compare: shared query: "},
		{"shared side is read only", "SELECT id, v, nextval('s') AS n FROM t", plain, "", nil,
			"read-only transaction"},
		{"missing SQLite file", plain, plain, missingFile, nil, "split: compare: open the service database: sqlite file: "},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := split.CompareConfig{
				Shared:  split.Side{DSN: shared, Query: c.sharedQuery},
				Service: split.Side{DSN: service, Query: c.serviceQuery},
				Key:     c.key,
			}
			if c.serviceDSN != "" {
				cfg.Service.DSN = c.serviceDSN
			}
			if cfg.Key == nil {
				cfg.Key = []string{"id"}
			}
			res, err := split.Compare(context.Background(), cfg)
			if err == nil || !strings.HasPrefix(err.Error(), "split: compare: ") || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Compare() = %+v, %v; want an error with %q", res, err, c.want)
			}
			t.Log(err)
		})
	}
	if _, err := os.Stat(missingFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the missing SQLite file exists after Compare: %v", err)
	}
}

// TestCompareLeavesSQLiteAlone compares against a SQLite file in rollback
// journal mode (not as sqldb would leave it) and checks that not a byte of
// it changed and that no WAL appeared.
func TestCompareLeavesSQLiteAlone(t *testing.T) {
	shared := mustPostgres(t, `CREATE TABLE t (id integer PRIMARY KEY, v text)`, `INSERT INTO t VALUES (1, 'one')`)
	path := filepath.Join(t.TempDir(), "plain.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`, `INSERT INTO t VALUES (1, 'one')`} {
		if _, err := db.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	res := mustCompare(t, split.CompareConfig{
		Shared:  split.Side{DSN: shared, Query: "SELECT id, v FROM t"},
		Service: split.Side{DSN: "file:" + path, Query: "SELECT id, v FROM t"},
		Key:     []string{"id"},
	})
	checkCounts(t, res, counts{1, 1, 1, 0, 0, 0})
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Error("Compare changed the SQLite file")
	}
	if _, err := os.Stat(path + "-wal"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Compare left a WAL beside the SQLite file: %v", err)
	}
}

func TestCompareLargeTableStreams(t *testing.T) {
	const n = 20000
	// Shared lacks 15000, the service lacks 5000, and 12345 differs.
	shared := mustPostgres(t,
		`CREATE TABLE items (id integer PRIMARY KEY, name text NOT NULL, price numeric(10,2) NOT NULL)`,
		fmt.Sprintf(`INSERT INTO items SELECT g, 'item ' || g, (g * 7 %% 1000) / 100.0
			FROM generate_series(1, %d) g WHERE g <> 15000`, n),
		`UPDATE items SET name = 'renamed' WHERE id = 12345`)
	service := mustSQLite(t, func(tx *sqldb.Tx) error {
		if err := execAll(tx, `CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price REAL NOT NULL)`); err != nil {
			return err
		}
		for g := 1; g <= n; g++ {
			if g == 5000 {
				continue
			}
			if _, err := tx.ExecContext(context.Background(), `INSERT INTO items VALUES (?, ?, ?)`,
				g, fmt.Sprint("item ", g), float64(g*7%1000)/100); err != nil {
				return err
			}
		}
		return nil
	})
	var last split.CompareProgress
	start := time.Now()
	res := mustCompare(t, split.CompareConfig{
		Shared:  split.Side{DSN: shared, Query: "SELECT id, name, price FROM items"},
		Service: split.Side{DSN: service, Query: "SELECT id, name, price FROM items"},
		Key:     []string{"id"},
		Progress: func(p split.CompareProgress) {
			if p.SharedRows < last.SharedRows || p.ServiceRows < last.ServiceRows {
				t.Errorf("progress went back: %+v after %+v", p, last)
			}
			last = p
		},
	})
	t.Logf("compared %d + %d rows in %v (last progress %+v)", res.SharedRows, res.ServiceRows, time.Since(start), last)
	checkCounts(t, res, counts{n - 1, n - 1, n - 3, 1, 1, 1})
	var got []string
	for _, d := range res.Samples {
		got = append(got, d.Kind+" "+d.Key[0]+" "+strings.Join(d.Columns, ","))
	}
	if want := []string{"missing 5000 ", "extra 15000 ", "changed 12345 name"}; !slices.Equal(got, want) {
		t.Errorf("samples %q, want %q", got, want)
	}
	if last.SharedRows > res.SharedRows || last.ServiceRows > res.ServiceRows {
		t.Errorf("progress %+v beyond the result's rows", last)
	}
}

// TestCompareByteOrderNotLocale merges text keys whose order under a
// linguistic collation differs from their byte order.
func TestCompareByteOrderNotLocale(t *testing.T) {
	keys := []string{"a", "B", "_x", "é", "e", "Z", "ab", "A", "f"}
	coll := pickCollation(t, testenv.PostgresAdmin(t))
	values := make([]string, len(keys))
	for i, k := range keys {
		values[i] = fmt.Sprintf("('%s', %d)", k, i)
	}
	shared := mustPostgres(t,
		fmt.Sprintf(`CREATE TABLE k (k text COLLATE %s PRIMARY KEY, n integer)`, coll),
		`INSERT INTO k VALUES `+strings.Join(values, ", "))
	checkLocaleOrder(t, shared, coll)

	// The service's copy lacks '_x' and has an extra 'é2'; 'f' differs.
	var serviceRows []string
	for i, k := range keys {
		switch k {
		case "_x":
		case "f":
			serviceRows = append(serviceRows, fmt.Sprintf("('%s', %d)", k, 100))
		default:
			serviceRows = append(serviceRows, fmt.Sprintf("('%s', %d)", k, i))
		}
	}
	serviceRows = append(serviceRows, "('é2', 42)")
	services := map[string]string{
		"sqlite": mustSQLite(t, func(tx *sqldb.Tx) error {
			return execAll(tx, `CREATE TABLE k (k TEXT COLLATE NOCASE, n INTEGER)`,
				`INSERT INTO k VALUES `+strings.Join(serviceRows, ", "))
		}),
		"postgres": mustPostgres(t,
			fmt.Sprintf(`CREATE TABLE k (k text COLLATE %s PRIMARY KEY, n integer)`, coll),
			`INSERT INTO k VALUES `+strings.Join(serviceRows, ", ")),
	}
	for name, service := range services {
		t.Run(name, func(t *testing.T) {
			res := mustCompare(t, split.CompareConfig{
				Shared:  split.Side{DSN: shared, Query: "SELECT k, n FROM k"},
				Service: split.Side{DSN: service, Query: "SELECT k, n FROM k"},
				Key:     []string{"k"},
			})
			checkCounts(t, res, counts{9, 9, 7, 1, 1, 1})
			var got []string
			for _, d := range res.Samples {
				got = append(got, d.Kind+" "+d.Key[0])
			}
			if want := []string{"missing _x", "extra é2", "changed f"}; !slices.Equal(got, want) {
				t.Errorf("samples %q, want %q", got, want)
			}
		})
	}
}

// pickCollation returns a linguistic collation the server has, quoted.
func pickCollation(t *testing.T, dsn string) string {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, c := range []string{"und-x-icu", "en-x-icu", "en_US.utf8", "en_US.UTF-8"} {
		var one int
		err := db.QueryRow(`SELECT 1 FROM pg_collation WHERE collname = $1`, c).Scan(&one)
		if err == nil {
			return `"` + c + `"`
		}
	}
	t.Log("no linguistic collation on this server; keys use the database's default")
	return `"default"`
}

// checkLocaleOrder logs whether the collation orders the keys other than
// bytewise, which is what makes the test demanding.
func checkLocaleOrder(t *testing.T, dsn, coll string) {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var ordered string
	if err := db.QueryRow(`SELECT string_agg(k, ' ' ORDER BY k) FROM k`).Scan(&ordered); err != nil {
		t.Fatal(err)
	}
	byBytes := strings.Fields(ordered)
	slices.Sort(byBytes)
	t.Logf("%s orders %q; bytes order %q", coll, ordered, strings.Join(byBytes, " "))
	if ordered == strings.Join(byBytes, " ") {
		t.Log("the collation happens to order bytewise: the test is weaker")
	}
}

// TestCompareProgressAndCancel runs a shared query that takes 30 s before
// its first row, sees progress reported while it waits, and cancels from
// the progress callback: Compare must stop at once.
func TestCompareProgressAndCancel(t *testing.T) {
	shared := mustPostgres(t, `CREATE TABLE t (id integer PRIMARY KEY, v text)`, `INSERT INTO t VALUES (1, 'one')`)
	service := mustSQLite(t, func(tx *sqldb.Tx) error {
		return execAll(tx, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`, `INSERT INTO t VALUES (1, 'one')`)
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var calls []split.CompareProgress
	start := time.Now()
	_, err := split.Compare(ctx, split.CompareConfig{
		Shared:  split.Side{DSN: shared, Query: "SELECT t.id, t.v FROM t, (SELECT pg_sleep(30)) AS s"},
		Service: split.Side{DSN: service, Query: "SELECT id, v FROM t"},
		Key:     []string{"id"},
		Progress: func(p split.CompareProgress) {
			calls = append(calls, p)
			cancel()
		},
	})
	elapsed := time.Since(start)
	if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "split: compare: ") {
		t.Fatalf("Compare() error = %v, want split: compare: ... context canceled", err)
	}
	if elapsed > 10*time.Second {
		t.Errorf("Compare took %v after cancellation", elapsed)
	}
	if len(calls) == 0 || calls[0].SharedRows != 0 || calls[0].Elapsed < 900*time.Millisecond {
		t.Errorf("progress calls %+v, want one at about a second with no shared rows", calls)
	}
	t.Logf("stopped after %v: %v", elapsed, err)
}
