package split

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/bounded-dev/bounded/platform/sqldb"

	_ "modernc.org/sqlite" // the "sqlite" driver, for the read-only SQLite side
)

// Side is one database and the query whose rows are compared.
type Side struct {
	DSN   string // postgres://... or a SQLite file (sqldb.DialectOf decides)
	Query string // e.g. "SELECT sku, name, price_cents FROM products"
}

// CompareConfig says what Compare compares.
type CompareConfig struct {
	// Shared is the shared database and its query; Service the service's
	// own database and the query that should return the same rows.
	Shared, Service Side
	// Key names the columns, in both queries' output, that identify a row.
	// Required. Their values must have the same text on both engines (see
	// Compare).
	Key []string
	// Samples is how many differences of each kind the result keeps as
	// examples. Default 10.
	Samples int
	// Progress, if set, is called about every second while Compare runs,
	// from a goroutine of Compare's own, never concurrently with itself and
	// never after Compare has returned. It must not block for long.
	Progress func(CompareProgress)
}

// CompareProgress is how far a running Compare has read.
type CompareProgress struct {
	SharedRows, ServiceRows int64 // rows read so far from each side
	Elapsed                 time.Duration
}

const defaultSamples = 10

// Validate reports a configuration Compare cannot run.
func (c CompareConfig) Validate() error {
	for _, s := range []struct {
		name string
		side Side
	}{{"shared", c.Shared}, {"service", c.Service}} {
		if strings.TrimSpace(s.side.DSN) == "" {
			return fmt.Errorf("split: compare: the %s side has no DSN", s.name)
		}
		if strings.TrimSpace(s.side.Query) == "" {
			return fmt.Errorf("split: compare: the %s side has no query", s.name)
		}
	}
	if len(c.Key) == 0 {
		return errors.New("split: compare: no Key: name the columns that identify a row")
	}
	for i, k := range c.Key {
		if k == "" {
			return errors.New("split: compare: empty Key column name")
		}
		if slices.Contains(c.Key[:i], k) {
			return fmt.Errorf("split: compare: Key column %q is named twice", k)
		}
	}
	if c.Samples < 0 {
		return fmt.Errorf("split: compare: Samples %d is negative", c.Samples)
	}
	return nil
}

// Kinds of Difference.
const (
	DiffMissing = "missing" // the row is in the shared database only
	DiffExtra   = "extra"   // the row is in the service's database only
	DiffChanged = "changed" // both hold the row, with different values
)

// Difference is one row the two databases disagree on.
type Difference struct {
	Key     []string `json:"key"`               // the key columns' text, in CompareConfig.Key's order
	Kind    string   `json:"kind"`              // DiffMissing, DiffExtra or DiffChanged
	Columns []string `json:"columns,omitempty"` // Changed: the compared columns whose values differ
	// Shared and Service are the row as each database holds it, every column
	// of that side's query as canonical text (see Compare); nil when the
	// side does not hold the row. A NULL column is absent from the map, so
	// that it stays distinct from '' and from the text 'NULL'.
	Shared  map[string]string `json:"shared,omitempty"`
	Service map[string]string `json:"service,omitempty"`
}

// String describes d on one line, showing NULL as NULL and text quoted.
func (d Difference) String() string {
	key := formatKey(d.Key)
	switch d.Kind {
	case DiffMissing:
		return "missing " + key + ": only the shared database holds it"
	case DiffExtra:
		return "extra " + key + ": only the service's database holds it"
	}
	var b strings.Builder
	b.WriteString("changed " + key + ":")
	for i, c := range d.Columns {
		if i > 0 {
			b.WriteByte(';')
		}
		fmt.Fprintf(&b, " %s: shared %s, service %s", c, showValue(d.Shared, c), showValue(d.Service, c))
	}
	return b.String()
}

func showValue(row map[string]string, col string) string {
	if v, ok := row[col]; ok {
		return strconv.Quote(v)
	}
	return "NULL"
}

// CompareResult is what Compare found. Every row read is counted once:
// SharedRows = Matched + Changed + Missing and
// ServiceRows = Matched + Changed + Extra.
type CompareResult struct {
	SharedRows  int64    `json:"shared_rows"`
	ServiceRows int64    `json:"service_rows"`
	Matched     int64    `json:"matched"` // rows both hold, equal in every compared column
	Missing     int64    `json:"missing"` // rows per kind of Difference
	Extra       int64    `json:"extra"`
	Changed     int64    `json:"changed"`
	Columns     []string `json:"columns"`
	// OnlyShared and OnlyService are the columns only one query returns;
	// they are not compared.
	OnlyShared  []string `json:"only_shared,omitempty"`
	OnlyService []string `json:"only_service,omitempty"`
	// Samples holds the first differences of each kind, in key order within
	// a kind, up to CompareConfig.Samples of each.
	Samples []Difference `json:"samples"`
}

// Equal reports whether every row matched on every compared column (the
// columns in OnlyShared and OnlyService were not compared).
func (r CompareResult) Equal() bool { return r.Missing == 0 && r.Extra == 0 && r.Changed == 0 }

// Compare reads the rows of cfg.Shared's query and cfg.Service's query and
// matches them by cfg.Key, streaming both: memory holds a row of each side
// and the samples, never a table.
//
// Each side runs its query wrapped as
//
//	SELECT <key as text>, q.* FROM (<query>) q ORDER BY <key as text>
//
// where a key column as text is CAST(q."k" AS text) COLLATE "C" on
// PostgreSQL and CAST(q."k" AS TEXT) COLLATE BINARY on SQLite: both order
// bytewise, as Go compares strings, so the two ordered streams merge in Go
// without either engine's locale deciding the order. A key therefore
// matches when its text is the same on both engines: text, integer and uuid
// keys are; for a key whose text differs between engines (a timestamptz, a
// numeric with trailing zeros, a bool) project a comparable text in the
// query. The sort happens in the database: an index on the key helps only
// if it is on that text in that collation. A key that repeats, or is NULL,
// on either side is an error: Key must identify one row.
//
// The columns both queries return (matched by name, exactly as each engine
// names them) are compared, key columns included; the others are reported
// in OnlyShared and OnlyService. A key column missing from either query is
// an error, and so is a column name a query returns twice.
//
// Values are compared as canonical text, so that the same data compares
// equal across PostgreSQL and SQLite:
//
//   - NULL equals only NULL: not the empty text, nor the text NULL.
//   - Numbers are plain decimals without noise: integers as integers,
//     numeric 12.50 as 12.5 (no trailing zeros, no exponent), floats in the
//     shortest form that reads back the same (a PostgreSQL real at single
//     precision, so 0.1 stays 0.1), -0 as 0. Numeric 12.50, real 12.5 and
//     text '12.50' compared with a number are all 12.5; a text with a
//     leading zero ('007') is not read as a number, as it is likely a code.
//   - Booleans are true and false. An integer 0 or 1 compared with a
//     boolean reads as false or true: SQLite keeps booleans as 0 and 1.
//   - Times are UTC in RFC 3339 with nanoseconds (time.RFC3339Nano). An
//     integer compared with a time reads as Unix milliseconds, which is how
//     bounded stores times in SQLite (sqldb.TimeArg), and the time it is
//     compared with is truncated to the millisecond, the precision that
//     store keeps. A text compared with a time reads as a time if it has
//     one of the forms 2006-01-02T15:04:05.999999999Z07:00, the same with a
//     space for the T, with a zone of Z07 or none (UTC, as SQLite's date
//     functions write it), or a bare date. Other integers (seconds,
//     nanoseconds) are not guessed at: project comparable text in the query
//     instead, e.g. to_char on the PostgreSQL side.
//   - Bytes (bytea, BLOB, json) are their text if it is valid UTF-8, else \x
//     followed by lowercase hex; so a BLOB holding UTF-8 equals the text.
//   - Everything else compares as the text the driver returns (uuid,
//     intervals, arrays, jsonb as PostgreSQL prints it).
//
// The PostgreSQL side runs in a read-only transaction with TimeZone set to
// UTC, so text the query makes from a timestamptz is UTC. The SQLite side
// is opened read-only (mode=ro), not through sqldb.Open, which creates a
// missing file and switches it to WAL: a compare must not modify the
// service's database. A missing SQLite file is an error.
//
// Errors are wrapped "split: compare: ..."; when ctx ends Compare stops and
// returns an error that wraps ctx.Err(). On error the result is zero.
func Compare(ctx context.Context, cfg CompareConfig) (CompareResult, error) {
	if err := cfg.Validate(); err != nil {
		return CompareResult{}, err
	}
	if cfg.Samples == 0 {
		cfg.Samples = defaultSamples
	}
	res, err := compare(ctx, cfg)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
			err = fmt.Errorf("%w (%w)", ctxErr, err)
		}
		return CompareResult{}, fmt.Errorf("split: compare: %w", err)
	}
	return res, nil
}

func compare(ctx context.Context, cfg CompareConfig) (CompareResult, error) {
	// Progress is reported from the start: the databases may sort for a
	// long while before the first row arrives.
	var sharedRead, serviceRead atomic.Int64
	if cfg.Progress != nil {
		stop := reportProgress(cfg.Progress, &sharedRead, &serviceRead)
		defer stop()
	}
	shared, err := openCompareSide(ctx, "shared", cfg.Shared)
	if err != nil {
		return CompareResult{}, err
	}
	defer shared.close()
	service, err := openCompareSide(ctx, "service", cfg.Service)
	if err != nil {
		return CompareResult{}, err
	}
	defer service.close()

	var res CompareResult
	sCols, err := shared.describe(ctx, cfg.Key)
	if err != nil {
		return CompareResult{}, err
	}
	vCols, err := service.describe(ctx, cfg.Key)
	if err != nil {
		return CompareResult{}, err
	}
	// peer[i] is the index of the other side's column of the same name, or
	// -1 when only this side has it.
	sPeer, vPeer := peers(sCols, vCols), peers(vCols, sCols)
	for i, c := range sCols {
		if sPeer[i] >= 0 {
			res.Columns = append(res.Columns, c)
		} else {
			res.OnlyShared = append(res.OnlyShared, c)
		}
	}
	for i, c := range vCols {
		if vPeer[i] < 0 {
			res.OnlyService = append(res.OnlyService, c)
		}
	}

	// Both queries stream at once, each on a connection of its own side.
	s, err := shared.stream(ctx, cfg.Key, &sharedRead)
	if err != nil {
		return CompareResult{}, err
	}
	defer s.rows.Close()
	v, err := service.stream(ctx, cfg.Key, &serviceRead)
	if err != nil {
		return CompareResult{}, err
	}
	defer v.rows.Close()
	if !slices.Equal(s.cols, sCols) || !slices.Equal(v.cols, vCols) {
		return CompareResult{}, errors.New("a query returned other columns on its second run")
	}

	samples := map[string]int{}
	sample := func(d Difference) {
		if samples[d.Kind] < cfg.Samples {
			samples[d.Kind]++
			res.Samples = append(res.Samples, d)
		}
	}
	sOK, err := s.next(ctx)
	if err != nil {
		return CompareResult{}, err
	}
	vOK, err := v.next(ctx)
	if err != nil {
		return CompareResult{}, err
	}
	for sOK || vOK {
		c := 0
		switch {
		case !vOK:
			c = -1
		case !sOK:
			c = 1
		default:
			c = compareKeys(s.key, v.key)
		}
		switch {
		case c < 0:
			res.Missing++
			sample(Difference{Key: slices.Clone(s.key), Kind: DiffMissing, Shared: s.rowText(nil, nil)})
		case c > 0:
			res.Extra++
			sample(Difference{Key: slices.Clone(v.key), Kind: DiffExtra, Service: v.rowText(nil, nil)})
		default:
			var changed []string
			for i, col := range sCols {
				if j := sPeer[i]; j >= 0 && !sameValue(s.vals[i], s.hints[i], v.vals[j], v.hints[j]) {
					changed = append(changed, col)
				}
			}
			if changed == nil {
				res.Matched++
			} else {
				res.Changed++
				sample(Difference{
					Key: slices.Clone(s.key), Kind: DiffChanged, Columns: changed,
					Shared: s.rowText(sPeer, v), Service: v.rowText(vPeer, s),
				})
			}
		}
		if c <= 0 {
			if sOK, err = s.next(ctx); err != nil {
				return CompareResult{}, err
			}
		}
		if c >= 0 {
			if vOK, err = v.next(ctx); err != nil {
				return CompareResult{}, err
			}
		}
	}
	res.SharedRows, res.ServiceRows = s.read.Load(), v.read.Load()
	// Samples are grouped by kind, in key order within each.
	order := map[string]int{DiffMissing: 0, DiffExtra: 1, DiffChanged: 2}
	slices.SortStableFunc(res.Samples, func(a, b Difference) int { return order[a.Kind] - order[b.Kind] })
	return res, nil
}

// reportProgress calls progress every second with the rows read so far,
// until the returned stop is called; stop returns once progress will not be
// called again.
func reportProgress(progress func(CompareProgress), shared, service *atomic.Int64) (stop func()) {
	start := time.Now()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				progress(CompareProgress{SharedRows: shared.Load(), ServiceRows: service.Load(), Elapsed: time.Since(start)})
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

func peers(cols, other []string) []int {
	p := make([]int, len(cols))
	for i, c := range cols {
		p[i] = slices.Index(other, c)
	}
	return p
}

// compareSide is one side's open database, which only ever reads.
type compareSide struct {
	name      string // "shared" or "service", for errors
	queryText string
	dialect   sqldb.Dialect
	q         interface {
		QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	}
	closers []func() error // run in reverse order
}

func openCompareSide(ctx context.Context, name string, s Side) (*compareSide, error) {
	side := &compareSide{name: name, queryText: s.Query, dialect: sqldb.DialectOf(s.DSN)}
	switch side.dialect {
	case sqldb.Postgres:
		// One query at a time runs on the transaction's connection; the pool
		// is kept small as the shared server's connections are precious.
		db, err := sqldb.Open(ctx, sqldb.Config{DSN: s.DSN, MaxConns: 2})
		if err != nil {
			return nil, fmt.Errorf("open the %s database: %w", name, err)
		}
		side.closers = append(side.closers, db.Close)
		tx, err := db.Reader().BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
		if err != nil {
			side.close()
			return nil, fmt.Errorf("%s database %s: begin: %w", name, db.Redacted(), err)
		}
		side.closers = append(side.closers, tx.Rollback)
		if _, err := tx.ExecContext(ctx, "SET LOCAL TimeZone TO 'UTC'"); err != nil {
			side.close()
			return nil, fmt.Errorf("%s database %s: %w", name, db.Redacted(), err)
		}
		side.q = tx
	default:
		db, err := openSQLiteReadOnly(s.DSN)
		if err != nil {
			return nil, fmt.Errorf("open the %s database: %w", name, err)
		}
		side.closers = append(side.closers, db.Close)
		if err := db.PingContext(ctx); err != nil {
			side.close()
			return nil, fmt.Errorf("open the %s database %s: %w", name, s.DSN, err)
		}
		side.q = db
	}
	return side, nil
}

// openSQLiteReadOnly opens a SQLite file the way sqldb.Open names it (a path,
// optionally prefixed with file: or sqlite:, its parameters dropped), but
// read-only: mode=ro fails on a missing file instead of creating it, and
// changes nothing in the file (sqldb.Open would switch it to WAL).
func openSQLiteReadOnly(dsn string) (*sql.DB, error) {
	path := strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite:"), "file:")
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite path %q: %w", path, err)
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("sqlite file: %w", err)
	}
	u := url.URL{Scheme: "file", Path: abs, RawQuery: "mode=ro&_pragma=busy_timeout(5000)"}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return nil, fmt.Errorf("sqlite %s: %w", abs, err)
	}
	db.SetMaxOpenConns(2)
	return db, nil
}

func (c *compareSide) close() {
	for i := len(c.closers) - 1; i >= 0; i-- {
		_ = c.closers[i]() // read only: nothing is lost if closing fails
	}
}

func (c *compareSide) wrap(query string) string {
	return "(\n" + strings.TrimRight(strings.TrimSpace(query), "; \t\r\n") + "\n) q"
}

// describe returns the names of the columns the side's query returns, and
// checks that the key columns are among them, each name once.
func (c *compareSide) describe(ctx context.Context, key []string) ([]string, error) {
	rows, err := c.q.QueryContext(ctx, "SELECT q.* FROM "+c.wrap(c.queryText)+" LIMIT 0")
	if err != nil {
		return nil, fmt.Errorf("%s query: %w", c.name, err)
	}
	cols, err := rows.Columns()
	rows.Close()
	if err != nil {
		return nil, fmt.Errorf("%s query: %w", c.name, err)
	}
	for i, col := range cols {
		if slices.Contains(cols[:i], col) {
			return nil, fmt.Errorf("column %q appears twice in the %s query: name each column once", col, c.name)
		}
	}
	for _, k := range key {
		if !slices.Contains(cols, k) {
			return nil, fmt.Errorf("key column %q is not among the %s query's columns (%s)", k, c.name, strings.Join(cols, ", "))
		}
	}
	return cols, nil
}

// keyText is the SQL for key column k as text that orders bytewise. On
// SQLite the explicit COLLATE BINARY matters: a CAST keeps the collation
// the column was declared with (NOCASE, say).
func (c *compareSide) keyText(k string) string {
	if c.dialect == sqldb.Postgres {
		return "CAST(q." + quoteIdent(k) + ` AS text) COLLATE "C"`
	}
	return "CAST(q." + quoteIdent(k) + " AS TEXT) COLLATE BINARY"
}

func (c *compareSide) stream(ctx context.Context, key []string, read *atomic.Int64) (*rowStream, error) {
	texts := make([]string, len(key))
	for i, k := range key {
		texts[i] = c.keyText(k)
	}
	query := "SELECT " + strings.Join(texts, ", ") + ", q.* FROM " + c.wrap(c.queryText) +
		" ORDER BY " + strings.Join(texts, ", ")
	rows, err := c.q.QueryContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("%s query: %w", c.name, err)
	}
	s := &rowStream{side: c.name, rows: rows, keyCols: key, read: read}
	cols, err := rows.Columns()
	if err == nil && len(cols) < len(key) {
		err = errors.New("fewer columns than keys")
	}
	var types []*sql.ColumnType
	if err == nil {
		types, err = rows.ColumnTypes()
	}
	if err != nil {
		rows.Close()
		return nil, fmt.Errorf("%s query: %w", c.name, err)
	}
	s.cols = cols[len(key):]
	s.raw = make([]any, len(cols))
	s.ptrs = make([]any, len(cols))
	for i := range s.raw {
		s.ptrs[i] = &s.raw[i]
	}
	s.vals = s.raw[len(key):]
	s.hints = make([]valueHint, len(s.cols))
	if c.dialect == sqldb.Postgres {
		// The PostgreSQL driver hands numeric over as a string and real as
		// a float64; only the column type tells them from text and double.
		for i, t := range types[len(key):] {
			switch t.DatabaseTypeName() {
			case "NUMERIC":
				s.hints[i] = hintDecimal
			case "FLOAT4":
				s.hints[i] = hintFloat32
			}
		}
	}
	return s, nil
}

// rowStream reads one side's rows in key order.
type rowStream struct {
	side      string
	rows      *sql.Rows
	keyCols   []string
	cols      []string      // the query's columns
	raw, ptrs []any         // scan targets: key texts, then the query's columns
	vals      []any         // raw[len(keyCols):]
	hints     []valueHint   // per query column
	key, prev []string      // the current row's key and the one before
	read      *atomic.Int64 // rows read so far
}

// next reads the next row into s.key and s.vals; false at the end. It checks
// that keys strictly increase, which is what the merge relies on.
func (s *rowStream) next(ctx context.Context) (bool, error) {
	if !s.rows.Next() {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		if err := s.rows.Err(); err != nil {
			return false, fmt.Errorf("%s query: %w", s.side, err)
		}
		return false, nil
	}
	if err := s.rows.Scan(s.ptrs...); err != nil {
		return false, fmt.Errorf("%s query: %w", s.side, err)
	}
	s.prev, s.key = s.key, s.prev[:0]
	for i, col := range s.keyCols {
		switch k := s.raw[i].(type) {
		case nil:
			return false, fmt.Errorf("key column %q is NULL in a row of the %s query: Key must identify one row", col, s.side)
		case string:
			s.key = append(s.key, k)
		case []byte:
			s.key = append(s.key, string(k))
		default:
			s.key = append(s.key, fmt.Sprint(k))
		}
	}
	if s.read.Add(1) > 1 {
		switch c := compareKeys(s.prev, s.key); {
		case c == 0:
			return false, fmt.Errorf("key %s appears twice in the %s query: Key must identify one row", formatKey(s.key), s.side)
		case c > 0:
			// The database did not order as asked: a collation or encoding
			// that is not bytewise after all. Merging on would report
			// differences that are not there.
			return false, fmt.Errorf("the %s query returned key %s after %s, out of byte order", s.side, formatKey(s.key), formatKey(s.prev))
		}
	}
	return true, nil
}

// rowText is the current row as canonical text, NULL columns left out.
// peer maps a column to the other side's column of the same name (-1: none)
// in other's current row; nil when the other side has no such row.
func (s *rowStream) rowText(peer []int, other *rowStream) map[string]string {
	m := make(map[string]string, len(s.cols))
	for i, col := range s.cols {
		pk := kindNull
		if peer != nil && peer[i] >= 0 {
			pk = kindOf(other.vals[peer[i]], other.hints[peer[i]])
		}
		if t, ok := canonical(s.vals[i], s.hints[i], pk); ok {
			m[col] = t
		}
	}
	return m
}

// compareKeys compares two keys column by column, bytewise.
func compareKeys(a, b []string) int {
	for i := range a {
		if c := strings.Compare(a[i], b[i]); c != 0 {
			return c
		}
	}
	return 0
}

func formatKey(key []string) string {
	q := make([]string, len(key))
	for i, k := range key {
		q[i] = strconv.Quote(k)
	}
	return "(" + strings.Join(q, ", ") + ")"
}

// valueHint is what a column's type says about a value the driver hands over
// in a more general Go type.
type valueHint uint8

const (
	hintNone    valueHint = iota
	hintDecimal           // PostgreSQL numeric, handed over as a string
	hintFloat32           // PostgreSQL real, handed over as a float64
)

// valueKind is what a value is, for deciding how its peer reads.
type valueKind uint8

const (
	kindNull valueKind = iota
	kindText
	kindBytes
	kindInt
	kindFloat
	kindDecimal
	kindBool
	kindTime
)

func kindOf(v any, h valueHint) valueKind {
	switch v.(type) {
	case nil:
		return kindNull
	case bool:
		return kindBool
	case int64, int32, int16, int8, int, uint64, uint32, uint16, uint8, uint:
		return kindInt
	case float64, float32:
		return kindFloat
	case time.Time:
		return kindTime
	case []byte:
		if h == hintDecimal {
			return kindDecimal
		}
		return kindBytes
	case string:
		if h == hintDecimal {
			return kindDecimal
		}
	}
	return kindText
}

func isNumber(k valueKind) bool { return k == kindInt || k == kindFloat || k == kindDecimal }

// sameValue reports whether a and b are equal as canonical text.
func sameValue(a any, ah valueHint, b any, bh valueHint) bool {
	ak, bk := kindOf(a, ah), kindOf(b, bh)
	if ak == kindNull || bk == kindNull {
		return ak == bk
	}
	if ak == bk && ah == bh && rawEqual(a, b) {
		return true // the same value of the same type has the same text
	}
	at, _ := canonical(a, ah, bk)
	bt, _ := canonical(b, bh, ak)
	return at == bt
}

func rawEqual(a, b any) bool {
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		return ok && x == y
	case int64:
		y, ok := b.(int64)
		return ok && x == y
	case []byte:
		y, ok := b.([]byte)
		return ok && string(x) == string(y)
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y)
	}
	return false
}

// canonical is v as the text it compares by (see Compare), and false for
// NULL. peer is the kind of the value v is compared with (kindNull when
// none), which decides how an integer or a text reads.
func canonical(v any, h valueHint, peer valueKind) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", false
	case bool:
		return strconv.FormatBool(x), true
	case int64:
		switch {
		case peer == kindBool && (x == 0 || x == 1):
			return strconv.FormatBool(x == 1), true
		case peer == kindTime:
			return formatTime(time.UnixMilli(x)), true
		}
		return strconv.FormatInt(x, 10), true
	case float64:
		bits := 64
		if h == hintFloat32 {
			bits = 32
		}
		s := strconv.FormatFloat(x, 'f', -1, bits)
		if s == "-0" {
			s = "0"
		}
		return s, true
	case time.Time:
		if peer == kindInt {
			x = time.UnixMilli(x.UnixMilli())
		}
		return formatTime(x), true
	case []byte:
		if h == hintDecimal || utf8.Valid(x) {
			return canonical(string(x), h, peer)
		}
		return `\x` + hex.EncodeToString(x), true
	case string:
		switch {
		case h == hintDecimal:
			if d, ok := plainDecimal(x, false); ok {
				return d, true
			}
		case isNumber(peer):
			if d, ok := plainDecimal(x, true); ok {
				return d, true
			}
		case peer == kindTime:
			if t, ok := parseTimeText(x); ok {
				return formatTime(t), true
			}
		}
		return x, true
	case float32:
		return canonical(float64(x), hintFloat32, peer)
	case int32, int16, int8, int, uint64, uint32, uint16, uint8, uint:
		s := fmt.Sprint(x)
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return canonical(i, h, peer)
		}
		return s, true
	}
	return fmt.Sprint(v), true
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// timeTextLayouts are the forms a text compared with a time may have. Go
// accepts any fraction of a second after the seconds, or none; a form
// without a zone is UTC.
var timeTextLayouts = []string{
	"2006-01-02T15:04:05Z07:00",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02T15:04:05Z07",
	"2006-01-02 15:04:05Z07",
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05",
	"2006-01-02",
}

func parseTimeText(s string) (time.Time, bool) {
	for _, layout := range timeTextLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// plainDecimal rewrites a decimal number as the shortest plain decimal of the
// same value: no exponent, no leading or trailing zeros, no sign on zero
// ("-012.500e1" is "-125"). strict, for a text that may not be meant as a
// number, accepts only an optional '-', digits and an optional fraction,
// with no leading zero before another digit.
func plainDecimal(s string, strict bool) (string, bool) {
	neg := false
	rest := s
	if rest != "" && (rest[0] == '-' || rest[0] == '+') {
		if strict && rest[0] == '+' {
			return "", false
		}
		neg, rest = rest[0] == '-', rest[1:]
	}
	mant, exp := rest, 0
	if i := strings.IndexAny(rest, "eE"); i >= 0 {
		if strict {
			return "", false
		}
		e, err := strconv.Atoi(rest[i+1:])
		// A bound on the exponent keeps a hostile value from growing a huge
		// string; PostgreSQL's numeric never prints one anyway.
		if err != nil || e > 1000 || e < -1000 {
			return "", false
		}
		mant, exp = rest[:i], e
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	if intPart == "" && frac == "" || !allDigits(intPart) || !allDigits(frac) {
		return "", false
	}
	if strict && (intPart == "" || len(intPart) > 1 && intPart[0] == '0') {
		return "", false
	}
	digits := intPart + frac
	point := len(intPart) + exp // digits[:point] is the integer part
	for digits != "" && digits[0] == '0' {
		digits, point = digits[1:], point-1
	}
	for len(digits) > max(point, 0) && digits[len(digits)-1] == '0' {
		digits = digits[:len(digits)-1]
	}
	if digits == "" {
		return "0", true
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	switch {
	case point <= 0:
		b.WriteString("0.")
		b.WriteString(strings.Repeat("0", -point))
		b.WriteString(digits)
	case point >= len(digits):
		b.WriteString(digits)
		b.WriteString(strings.Repeat("0", point-len(digits)))
	default:
		b.WriteString(digits[:point])
		b.WriteByte('.')
		b.WriteString(digits[point:])
	}
	return b.String(), true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
