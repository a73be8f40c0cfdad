// Package outbox records a service's events in its own database, inside the
// transaction that makes the domain change they describe.
//
// There is no way to publish an event directly: [Outbox.Record] takes the
// *sqldb.Tx of the caller's transaction, so the domain change and its events
// commit together or not at all. The relay (package relay) later publishes the
// recorded rows to NATS JetStream and deletes them.
//
// Ordering. Rows are numbered by a sequence (seq) as they are inserted; a
// seq is never reused, even after its row is deleted (the relay relies on it:
// see Delete). On
// PostgreSQL, Record takes a transaction-scoped advisory lock per event
// subject (the aggregate id) before inserting, so two transactions recording
// events for the same aggregate run one after the other: the later one draws
// its seq only after the earlier one has committed. Hence for one aggregate,
// seq order is commit order, and a relay that publishes in seq order keeps
// per-aggregate order. (Rows of different aggregates may become visible out
// of seq order; that is harmless.) Two transactions that record events for
// the same two aggregates in opposite orders can deadlock; PostgreSQL aborts
// one of them with an error, as it would for the domain rows themselves. On
// SQLite every transaction runs on the single writer connection, so seq order
// is commit order outright.
//
// Handing off (SQLite). While a relay in the same process leads a SQLite
// outbox, Record also hands it the rows it inserted, with their seqs, once
// their transaction has committed ([Outbox.SetHandoff]); the relay then
// publishes them without reading them back. On SQLite seq order is commit
// order and a rolled-back seq is drawn again, so the relay can tell from
// the seqs alone whether it holds every committed row up to a handed one
// (see package relay). On PostgreSQL seqs are drawn before commit, by
// writers in any process, so a handed row could overtake a committed row of
// the same aggregate that the relay has not read yet: there the relay
// always reads.
//
// Waking the relay. A committed Record signals the relay in the same process
// at once ([Outbox.Wake]). On PostgreSQL, when no relay in this process is the
// leader ([Outbox.SetLocalLeader]), the transaction also sends NOTIFY so that a
// relay in another process wakes. (NOTIFY serialises the commits of the
// transactions that send it, which is why writers next to their leader skip
// it.)
package outbox

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bounded-dev/bounded/platform/contract"
	"github.com/bounded-dev/bounded/platform/sqldb"
)

// NotifyChannel is the PostgreSQL channel Record notifies when no relay in
// the writing process is the leader.
const NotifyChannel = "bounded_outbox"

// lockNamespace is the first key of the two-key advisory locks Record takes
// per subject, so they cannot collide with other advisory locks.
const lockNamespace = 0x0b0c

//go:embed migrations
var migrations embed.FS

// Config configures an Outbox.
type Config struct {
	// MaxEventBytes rejects larger events in Record, before they can block a
	// relay whose broker would refuse them. Default 1 MiB (NATS's default
	// max_payload); headers count.
	MaxEventBytes int
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if c.MaxEventBytes < 0 {
		return fmt.Errorf("outbox: MaxEventBytes %d is negative", c.MaxEventBytes)
	}
	return nil
}

// Outbox records events into a service's database. It is safe for
// concurrent use.
type Outbox struct {
	db          *sqldb.DB
	cfg         Config
	wake        chan struct{}
	localLeader atomic.Bool
	// sqliteInsert is the insert prepared once on SQLite's single writer
	// connection (the driver would parse it again on every Exec otherwise).
	sqliteInsert atomic.Pointer[sql.Stmt]
	// handoff receives the rows Record inserted on SQLite once their
	// transaction has committed; nil when no local relay takes them.
	handoff atomic.Pointer[func([]Row)]
}

const sqliteInsertSQL = `INSERT INTO bounded_outbox (id, source, type, subject, time, content_type, data, traceparent) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`

// ErrTooLarge is returned by Record for an event larger than MaxEventBytes.
var ErrTooLarge = errors.New("outbox: event too large")

// New returns an Outbox over db. Call [Outbox.Migrate] once before use.
func New(db *sqldb.DB, cfg Config) (*Outbox, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.MaxEventBytes == 0 {
		cfg.MaxEventBytes = 1 << 20
	}
	o := &Outbox{db: db, cfg: cfg, wake: make(chan struct{}, 1)}
	return o, nil
}

// DB returns the database the outbox lives in.
func (o *Outbox) DB() *sqldb.DB { return o.db }

// Migrate creates or upgrades the outbox table.
func (o *Outbox) Migrate(ctx context.Context) error {
	sub, err := fs.Sub(migrations, "migrations/"+string(o.db.Dialect()))
	if err != nil {
		return fmt.Errorf("outbox: migrations: %w", err)
	}
	if err := o.db.Migrate(ctx, sub, "bounded_outbox_version"); err != nil {
		return err
	}
	if o.db.Dialect() == sqldb.SQLite && o.sqliteInsert.Load() == nil {
		st, err := o.db.Writer().PrepareContext(ctx, sqliteInsertSQL)
		if err != nil {
			return fmt.Errorf("outbox: prepare: %w", err)
		}
		o.sqliteInsert.Store(st)
	}
	return nil
}

// Wakeups delivers a value after events have been committed. A relay in the
// same process waits on it; one value may stand for many commits.
func (o *Outbox) Wakeups() <-chan struct{} { return o.wake }

// Wake signals Wakeups without blocking.
func (o *Outbox) Wake() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// SetLocalLeader tells the outbox whether a relay in this process is the
// active publisher. While it is, Record skips PostgreSQL NOTIFY.
func (o *Outbox) SetLocalLeader(leader bool) { o.localLeader.Store(leader) }

// SetHandoff makes Record hand f the rows it inserted into a SQLite outbox,
// with their seqs and in seq order, once their transaction has committed,
// in the committing goroutine and before the wake-up; nil stops it. The
// relay leading this outbox sets it. f must not block. Rows of one
// transaction come in one call; calls of different transactions may come
// in any order (they run after the writer connection is given back), so a
// receiver must order them by seq. Record copies what f is given: the
// caller may reuse its event's Data. PostgreSQL never hands off (see the
// package doc).
func (o *Outbox) SetHandoff(f func(rows []Row)) {
	if f == nil {
		o.handoff.Store(nil)
		return
	}
	o.handoff.Store(&f)
}

// Record inserts events into the outbox within tx. They become visible to
// the relay when tx commits and vanish with it if it rolls back. Each event
// must be valid (see contract.Event.Validate) and at most MaxEventBytes.
// Errors: a validation error, ErrTooLarge, or the database's error, after
// which the caller should roll back (returning the error from the Transact
// callback does that).
func (o *Outbox) Record(ctx context.Context, tx *sqldb.Tx, events ...contract.Event) error {
	if len(events) == 0 {
		return nil
	}
	for i := range events {
		e := &events[i]
		if err := e.Validate(); err != nil {
			return fmt.Errorf("outbox: record %s: %w", e.Type, err)
		}
		if n := len(e.Data) + len(e.ID) + len(e.Source) + len(e.Type) + len(e.Subject) + len(e.TraceParent) + 128; n > o.cfg.MaxEventBytes {
			return fmt.Errorf("%w: %s %s is %d bytes, limit %d", ErrTooLarge, e.Type, e.ID, n, o.cfg.MaxEventBytes)
		}
	}
	var err error
	switch tx.Dialect() {
	case sqldb.Postgres:
		err = o.insertPostgres(ctx, tx, events)
	default:
		var handed []Row
		handoff := o.handoff.Load()
		if handoff != nil {
			handed = make([]Row, 0, len(events))
		}
		handed, err = o.insertSQLite(ctx, tx, events, handed)
		if err == nil && handoff != nil {
			tx.AfterCommit(func() { (*handoff)(handed) })
		}
	}
	if err != nil {
		return fmt.Errorf("outbox: record: %w", err)
	}
	tx.AfterCommit(o.Wake)
	return nil
}

// insertPostgres locks each distinct subject (sorted, to keep lock order the
// same across transactions), inserts every event and, when no local relay
// leads, notifies the channel: one statement, one round trip.
func (o *Outbox) insertPostgres(ctx context.Context, tx *sqldb.Tx, events []contract.Event) error {
	notify := !o.localLeader.Load()
	if len(events) == 1 {
		// The common case, in a statement far cheaper to run than the
		// arrays below: lock the subject (if any), notify, insert.
		q := insertOneSQL
		if notify {
			q = insertOneNotifySQL
		}
		e := events[0]
		_, err := tx.ExecContext(ctx, q, e.ID, e.Source, e.Type, e.Subject, e.Time, e.DataContentType, e.Data, e.TraceParent)
		return err
	}
	n := len(events)
	ids, sources, types, subjects := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	times, cts, traces := make([]time.Time, n), make([]string, n), make([]string, n)
	data := make([][]byte, n)
	for i, e := range events {
		ids[i], sources[i], types[i], subjects[i] = e.ID, e.Source, e.Type, e.Subject
		times[i], cts[i], data[i], traces[i] = e.Time, e.DataContentType, e.Data, e.TraceParent
	}
	notifySQL := "false"
	if notify {
		notifySQL = "true"
	}
	_, err := tx.ExecContext(ctx, `
WITH locked AS (
    SELECT count(pg_advisory_xact_lock(`+strconv.Itoa(lockNamespace)+`, hashtext(s))) AS n
    FROM (SELECT DISTINCT s FROM unnest($4::text[]) AS s WHERE s <> '' ORDER BY s) AS subjects
), notified AS (
    SELECT CASE WHEN `+notifySQL+` THEN pg_notify('`+NotifyChannel+`', '') END AS n
)
INSERT INTO bounded_outbox (id, source, type, subject, time, content_type, data, traceparent)
SELECT e.id, e.source, e.type, e.subject, e.time, e.content_type, e.data, e.traceparent
FROM locked, notified, unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[], $7::bytea[], $8::text[])
    WITH ORDINALITY AS e(id, source, type, subject, time, content_type, data, traceparent, ord)
ORDER BY e.ord`,
		ids, sources, types, subjects, times, cts, data, traces)
	return err
}

// insertOneSQL inserts one event after taking its subject's lock; the
// subquery in FROM runs first, once.
var insertOneSQL = `INSERT INTO bounded_outbox (id, source, type, subject, time, content_type, data, traceparent)
SELECT $1, $2, $3, $4, $5, $6, $7, $8
FROM (SELECT CASE WHEN $4::text <> '' THEN pg_advisory_xact_lock(` + strconv.Itoa(lockNamespace) + `, hashtext($4::text)) END) AS locked`

var insertOneNotifySQL = `INSERT INTO bounded_outbox (id, source, type, subject, time, content_type, data, traceparent)
SELECT $1, $2, $3, $4, $5, $6, $7, $8
FROM (SELECT CASE WHEN $4::text <> '' THEN pg_advisory_xact_lock(` + strconv.Itoa(lockNamespace) + `, hashtext($4::text)) END,
             pg_notify('` + NotifyChannel + `', '')) AS locked`

// insertSQLite inserts events one by one; when handed is not nil, it
// appends to it each row as the relay would read it back (its seq, the
// time at the stored precision, a copy of the data).
func (o *Outbox) insertSQLite(ctx context.Context, tx *sqldb.Tx, events []contract.Event, handed []Row) ([]Row, error) {
	var st *sql.Stmt
	if prepared := o.sqliteInsert.Load(); prepared != nil {
		st = tx.StmtContext(ctx, prepared)
		defer st.Close()
	}
	for _, e := range events {
		var res sql.Result
		var err error
		ns := e.Time.UnixNano()
		if st == nil {
			res, err = tx.ExecContext(ctx, sqliteInsertSQL, e.ID, e.Source, e.Type, e.Subject, ns, e.DataContentType, e.Data, e.TraceParent)
		} else {
			res, err = st.ExecContext(ctx, e.ID, e.Source, e.Type, e.Subject, ns, e.DataContentType, e.Data, e.TraceParent)
		}
		if err != nil {
			return nil, err
		}
		if handed == nil {
			continue
		}
		seq, err := res.LastInsertId()
		if err != nil {
			return nil, err
		}
		e.Time = time.Unix(0, ns).UTC()
		e.Data = slices.Clone(e.Data)
		handed = append(handed, Row{Seq: seq, Event: e})
	}
	return handed, nil
}

// Row is one recorded event waiting to be published.
type Row struct {
	Seq   int64
	Event contract.Event
}

// Querier runs queries: a *sql.DB, *sql.Conn or *sql.Tx.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// Exclude names rows a claim must skip (the relay's rows in flight): every
// seq from Lo to Hi, except the seqs listed in Holes. The zero value skips
// nothing.
type Exclude struct {
	Lo, Hi int64
	Holes  []int64
}

// pgPendingSQL claims on PostgreSQL: three arms, each an index range
// scan that starts where its rows start, merged in seq order. One WHERE
// with ORs would be a scan from the head that fetches, and then filters
// out, every row in flight (thousands per claim while a backlog drains).
const pgPendingSQL = `SELECT seq, id::text, source, type, subject, time, content_type, data, traceparent FROM (
(SELECT * FROM bounded_outbox WHERE seq < $1 ORDER BY seq LIMIT $4)
UNION ALL (SELECT * FROM bounded_outbox WHERE seq = ANY($3::bigint[]))
UNION ALL (SELECT * FROM bounded_outbox WHERE seq > $2 ORDER BY seq LIMIT $4)) o ORDER BY seq LIMIT $4`

// Pending returns up to limit rows in seq order, starting from the oldest,
// skipping the rows ex names; the skipping happens in the database, so rows
// in flight are neither read nor sent. q is the connection to read on (the
// relay passes the connection that holds its leadership, so that a relay
// that lost its lock cannot read); nil means the DB's reader pool.
func (o *Outbox) Pending(ctx context.Context, q Querier, limit int, ex Exclude) ([]Row, error) {
	query := o.db.QueryContext // the reader pool, with its prepared statements
	if q != nil {
		query = q.QueryContext
	}
	var rows *sql.Rows
	var err error
	const cols = `SELECT seq, id, source, type, subject, time, content_type, data, traceparent FROM bounded_outbox`
	sqlite := o.db.Dialect() == sqldb.SQLite
	switch {
	case ex.Lo > ex.Hi || ex.Hi == 0:
		rows, err = query(ctx, o.db.Dialect().Rebind(cols+` ORDER BY seq LIMIT $1`), limit)
	case sqlite:
		// Three arms, each a range SQLite can seek to, merged in seq order;
		// one WHERE with ORs would walk every row in flight.
		rows, err = query(ctx, cols+` WHERE seq < ?1
UNION ALL `+cols+` WHERE seq IN (SELECT value FROM json_each(?3))
UNION ALL `+cols+` WHERE seq > ?2
ORDER BY 1 LIMIT ?4`, ex.Lo, ex.Hi, jsonInts(ex.Holes), limit)
	default:
		if ex.Holes == nil {
			ex.Holes = []int64{}
		}
		rows, err = query(ctx, pgPendingSQL, ex.Lo, ex.Hi, ex.Holes, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("outbox: pending: %w", err)
	}
	defer rows.Close()
	out := make([]Row, 0, min(limit, 16)) // most claims of a live relay find a few rows
	var ns int64
	for rows.Next() {
		var r Row
		e := &r.Event
		var err error
		if sqlite {
			err = rows.Scan(&r.Seq, &e.ID, &e.Source, &e.Type, &e.Subject, &ns, &e.DataContentType, &e.Data, &e.TraceParent)
			e.Time = time.Unix(0, ns).UTC()
		} else {
			err = rows.Scan(&r.Seq, &e.ID, &e.Source, &e.Type, &e.Subject, &e.Time, &e.DataContentType, &e.Data, &e.TraceParent)
		}
		if err != nil {
			return nil, fmt.Errorf("outbox: pending: scan: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("outbox: pending: %w", err)
	}
	return out, nil
}

// PendingAndTop is Pending on SQLite (nil q, the reader pool) that also
// returns, from the same snapshot, the highest seq the outbox has drawn and
// committed (0 when none): every committed row up to it was either returned,
// skipped as ex says, or deleted. A seq drawn later is higher, and on SQLite
// one drawn and rolled back is drawn again, which is what lets the relay
// take handed-off rows without reading them (see SetHandoff).
func (o *Outbox) PendingAndTop(ctx context.Context, limit int, ex Exclude) (rows []Row, top int64, err error) {
	if o.db.Dialect() != sqldb.SQLite {
		return nil, 0, errors.New("outbox: PendingAndTop is for SQLite")
	}
	// A read transaction: both statements see one snapshot.
	tx, err := o.db.Reader().BeginTx(ctx, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("outbox: pending: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read only; nothing to keep
	if rows, err = o.Pending(ctx, tx, limit, ex); err != nil {
		return nil, 0, err
	}
	// sqlite_sequence has the outbox's row from its first insert on.
	err = tx.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'bounded_outbox'`).Scan(&top)
	if err != nil {
		return nil, 0, fmt.Errorf("outbox: pending: top: %w", err)
	}
	return rows, top, nil
}

// PendingPgx is Pending on a native pgx connection (PostgreSQL only), which
// decodes rows with far less work than database/sql; the relay's leader
// claims this way.
func (o *Outbox) PendingPgx(ctx context.Context, c *pgx.Conn, limit int, ex Exclude) ([]Row, error) {
	if ex.Holes == nil {
		ex.Holes = []int64{}
	}
	if ex.Lo > ex.Hi || ex.Hi == 0 {
		ex.Lo, ex.Hi = 1, 0 // excludes nothing: seq < 1 is empty, seq > 0 is all
	}
	rows, err := c.Query(ctx, pgPendingSQL, ex.Lo, ex.Hi, ex.Holes, limit)
	if err != nil {
		return nil, fmt.Errorf("outbox: pending: %w", err)
	}
	defer rows.Close()
	out := make([]Row, 0, min(limit, 16)) // most claims of a live relay find a few rows
	for rows.Next() {
		var r Row
		e := &r.Event
		if err := rows.Scan(&r.Seq, &e.ID, &e.Source, &e.Type, &e.Subject, &e.Time, &e.DataContentType, &e.Data, &e.TraceParent); err != nil {
			return nil, fmt.Errorf("outbox: pending: scan: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("outbox: pending: %w", err)
	}
	return out, nil
}

// jsonInts renders seqs as a JSON array, for SQLite's json_each.
func jsonInts(seqs []int64) string {
	var b strings.Builder
	b.Grow(len(seqs)*8 + 2)
	b.WriteByte('[')
	for i, s := range seqs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(s, 10))
	}
	b.WriteByte(']')
	return b.String()
}

// Delete removes published rows by seq, in one statement (one short
// transaction). Deleting a row that is already gone is not an error, and
// can do no harm: seqs are never reused, so a repeated delete cannot hit a
// newer row.
func (o *Outbox) Delete(ctx context.Context, seqs []int64) error {
	if len(seqs) == 0 {
		return nil
	}
	// Delete by runs of consecutive seqs: a range scan of the primary key
	// costs a fraction of one index descent per row, and a batch is
	// usually one run or a few.
	los, his := runs(seqs)
	var err error
	if o.db.Dialect() == sqldb.Postgres {
		_, err = o.db.Writer().ExecContext(ctx, `DELETE FROM bounded_outbox o
USING unnest($1::bigint[], $2::bigint[]) AS r(lo, hi) WHERE o.seq BETWEEN r.lo AND r.hi`, los, his)
	} else {
		err = o.db.Transact(ctx, func(tx *sqldb.Tx) error {
			for i := range los {
				if _, err := tx.ExecContext(ctx, `DELETE FROM bounded_outbox WHERE seq BETWEEN ? AND ?`, los[i], his[i]); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err != nil {
		return fmt.Errorf("outbox: delete %d rows: %w", len(seqs), err)
	}
	return nil
}

// runs returns the runs of consecutive values in seqs as [lo[i], hi[i]].
func runs(seqs []int64) (lo, hi []int64) {
	sorted := slices.Clone(seqs)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	for i, s := range sorted {
		if i == 0 || s != hi[len(hi)-1]+1 {
			lo, hi = append(lo, s), append(hi, s)
			continue
		}
		hi[len(hi)-1] = s
	}
	return lo, hi
}

// Backlog reports how many events wait to be published and the time of the
// oldest (zero when none wait).
func (o *Outbox) Backlog(ctx context.Context) (n int64, oldest time.Time, err error) {
	if o.db.Dialect() == sqldb.Postgres {
		var t sql.NullTime
		err = o.db.Reader().QueryRowContext(ctx,
			`SELECT count(*), (SELECT time FROM bounded_outbox ORDER BY seq LIMIT 1) FROM bounded_outbox`).Scan(&n, &t)
		oldest = t.Time
	} else {
		var t sql.NullInt64
		err = o.db.Reader().QueryRowContext(ctx,
			`SELECT count(*), (SELECT time FROM bounded_outbox ORDER BY seq LIMIT 1) FROM bounded_outbox`).Scan(&n, &t)
		if t.Valid {
			oldest = time.Unix(0, t.Int64).UTC()
		}
	}
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("outbox: backlog: %w", err)
	}
	return n, oldest, nil
}
