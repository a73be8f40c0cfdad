// Package sqldb opens a service's own database and runs work in transactions.
//
// A service owns exactly one database. In embedded mode it is a SQLite file; in
// distributed mode a PostgreSQL database reached as the service's own role. The
// same code runs on both: [Open] picks the dialect from the DSN, [DB.Migrate]
// applies the service's embedded goose migrations, and [DB.Transact] runs a
// callback in a transaction. Other toolkit packages (outbox, inbox) write their
// rows through the [Tx] handed to that callback, which is how a domain change
// and its events commit or roll back together.
//
// SQLite is opened in WAL mode with a single writer connection: every
// transaction goes through that one connection (SQLite admits one writer at a
// time anyway, and queuing in Go is cheaper than SQLITE_BUSY retries), while
// reads outside transactions use a separate pool of read-only connections.
package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	_ "modernc.org/sqlite"             // registers the "sqlite" database/sql driver
)

// Dialect names the database engine behind a DB.
type Dialect string

const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// Config says how to open a database. Only DSN is required.
type Config struct {
	// DSN is either a PostgreSQL URL (postgres:// or postgresql://) or a
	// SQLite file path (optionally prefixed with file: or sqlite:).
	DSN string
	// MaxConns bounds the PostgreSQL pool, or the SQLite reader pool.
	// Default: 4 × GOMAXPROCS, at least 8.
	MaxConns int
	// SQLiteSynchronous is SQLite's synchronous pragma. The default NORMAL
	// survives a process crash without losing committed transactions (the WAL
	// is written before commit returns) but may lose the last transactions on
	// power loss; FULL also survives power loss at the cost of an fsync per
	// commit.
	SQLiteSynchronous string
	// BusyTimeout is how long a SQLite connection waits on a lock held by
	// another process before failing. Default 5 s.
	BusyTimeout time.Duration
}

func (c *Config) setDefaults() {
	if c.MaxConns == 0 {
		c.MaxConns = max(8, 4*runtime.GOMAXPROCS(0))
	}
	if c.SQLiteSynchronous == "" {
		c.SQLiteSynchronous = "NORMAL"
	}
	if c.BusyTimeout == 0 {
		c.BusyTimeout = 5 * time.Second
	}
}

// Validate reports a configuration that cannot be opened.
func (c Config) Validate() error {
	if strings.TrimSpace(c.DSN) == "" {
		return errors.New("sqldb: empty DSN")
	}
	if c.MaxConns < 0 {
		return fmt.Errorf("sqldb: MaxConns %d is negative", c.MaxConns)
	}
	switch strings.ToUpper(c.SQLiteSynchronous) {
	case "", "OFF", "NORMAL", "FULL", "EXTRA":
	default:
		return fmt.Errorf("sqldb: SQLiteSynchronous %q is not OFF, NORMAL, FULL or EXTRA", c.SQLiteSynchronous)
	}
	return nil
}

// DB is one service's database. It is safe for concurrent use.
type DB struct {
	dialect Dialect
	dsn     string
	path    string // SQLite: the file's absolute path
	// write runs transactions; read serves queries outside transactions.
	// They are the same pool on PostgreSQL.
	write *sql.DB
	read  *sql.DB

	mu          sync.Mutex
	afterCommit []func() // hooks run after every committed transaction
	commits     atomic.Int64
	// Prepared statements, on SQLite only (see stmtcache.go).
	writeStmts, readStmts *stmtCache
}

// Commits is the number of transactions Transact has committed (a
// statement run outside Transact, on Writer, is not counted).
func (db *DB) Commits() int64 { return db.commits.Load() }

// DialectOf tells which engine a DSN names.
func DialectOf(dsn string) Dialect {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return Postgres
	}
	return SQLite
}

// Open opens the database named by cfg.DSN and checks that it answers.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	db := &DB{dialect: DialectOf(cfg.DSN), dsn: cfg.DSN}
	switch db.dialect {
	case Postgres:
		pool, err := sql.Open("pgx", cfg.DSN)
		if err != nil {
			return nil, fmt.Errorf("sqldb: open postgres: %w", err)
		}
		pool.SetMaxOpenConns(cfg.MaxConns)
		pool.SetMaxIdleConns(cfg.MaxConns)
		pool.SetConnMaxIdleTime(5 * time.Minute)
		db.write, db.read = pool, pool
	case SQLite:
		path := strings.TrimPrefix(strings.TrimPrefix(cfg.DSN, "sqlite:"), "file:")
		if i := strings.IndexByte(path, '?'); i >= 0 {
			path = path[:i]
		}
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, fmt.Errorf("sqldb: sqlite path %q: %w", path, err)
		}
		pragmas := url.Values{}
		pragmas.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", cfg.BusyTimeout.Milliseconds()))
		pragmas.Add("_pragma", "journal_mode(WAL)")
		pragmas.Add("_pragma", "synchronous("+strings.ToUpper(cfg.SQLiteSynchronous)+")")
		pragmas.Add("_pragma", "foreign_keys(1)")
		// The writer begins IMMEDIATE so that a transaction takes the write
		// lock up front instead of failing to upgrade a read lock later.
		w, err := sql.Open("sqlite", "file:"+abs+"?"+pragmas.Encode()+"&_txlock=immediate")
		if err != nil {
			return nil, fmt.Errorf("sqldb: open sqlite: %w", err)
		}
		w.SetMaxOpenConns(1)
		w.SetMaxIdleConns(1)
		w.SetConnMaxIdleTime(0)
		w.SetConnMaxLifetime(0)
		pragmas.Add("_pragma", "query_only(1)")
		r, err := sql.Open("sqlite", "file:"+abs+"?"+pragmas.Encode())
		if err != nil {
			w.Close()
			return nil, fmt.Errorf("sqldb: open sqlite: %w", err)
		}
		r.SetMaxOpenConns(cfg.MaxConns)
		r.SetMaxIdleConns(cfg.MaxConns)
		db.write, db.read, db.path = w, r, abs
		db.writeStmts, db.readStmts = newStmtCache(w), newStmtCache(r)
		// Create the file and switch it to WAL before any reader opens it.
		if _, err := w.ExecContext(ctx, "PRAGMA user_version"); err != nil {
			db.Close()
			return nil, fmt.Errorf("sqldb: open sqlite %s: %w", abs, err)
		}
	}
	if err := db.read.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqldb: connect %s: %w", db.Redacted(), err)
	}
	return db, nil
}

// Dialect tells which engine the database runs on.
func (db *DB) Dialect() Dialect { return db.dialect }

// DSN returns the DSN the database was opened with (it may hold a password).
func (db *DB) DSN() string { return db.dsn }

// Path returns the absolute path of a SQLite database's file; "" on
// PostgreSQL.
func (db *DB) Path() string { return db.path }

// Redacted returns the DSN with any password replaced, for logs and errors.
func (db *DB) Redacted() string {
	if db.dialect != Postgres {
		return db.dsn
	}
	u, err := url.Parse(db.dsn)
	if err != nil {
		return "postgres://(unparsable DSN)"
	}
	return u.Redacted()
}

// Close closes every connection.
func (db *DB) Close() error {
	db.writeStmts.close()
	db.readStmts.close()
	err := db.write.Close()
	if db.read != db.write {
		err = errors.Join(err, db.read.Close())
	}
	return err
}

// Reader is the pool for queries outside transactions. On SQLite its
// connections are read-only; write through [DB.Transact].
func (db *DB) Reader() *sql.DB { return db.read }

// Writer is the pool transactions run on (one connection on SQLite). Use it
// for statements that must run outside a transaction; prefer [DB.Transact].
func (db *DB) Writer() *sql.DB { return db.write }

// QueryContext runs a read query outside a transaction.
func (db *DB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := db.readStmts.get(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return db.read.QueryContext(ctx, query, args...)
}

// QueryRowContext runs a read query for one row outside a transaction.
func (db *DB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := db.readStmts.get(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return db.read.QueryRowContext(ctx, query, args...)
}

// OnCommit registers f to run after every transaction committed through
// [DB.Transact] on this DB, in the committing goroutine. Hooks must be fast
// and must not block (the outbox uses one to wake the relay).
func (db *DB) OnCommit(f func()) {
	db.mu.Lock()
	db.afterCommit = append(db.afterCommit, f)
	db.mu.Unlock()
}

// Tx is a transaction in progress, handed to the callback of [DB.Transact].
// It is not safe for concurrent use, like the *sql.Tx it embeds.
type Tx struct {
	*sql.Tx
	db           *DB
	afterCommit  []func()
	beforeCommit []func(context.Context) error
	memo         map[any]any
}

// BeforeCommit registers f to run, in the transaction, once the function
// given to Transact has returned nil and before it commits (in the order
// registered). An error from f rolls the transaction back and is
// Transact's. It suits writes gathered over several handlers that share
// the transaction (one row per key, written once).
func (tx *Tx) BeforeCommit(f func(ctx context.Context) error) {
	tx.beforeCommit = append(tx.beforeCommit, f)
}

// Memo returns what compute returns for key, computing it once per
// transaction: later calls with key in the same transaction return the
// first value without calling compute. An error is returned, not kept (the
// next call computes again). It suits a read whose answer cannot change
// while the transaction runs — a row it has locked, say — done by each of
// several handlers that share the transaction (a consumer's batch). A Tx
// is used by one goroutine at a time; so is Memo.
func (tx *Tx) Memo(key any, compute func() (any, error)) (any, error) {
	if v, ok := tx.memo[key]; ok {
		return v, nil
	}
	v, err := compute()
	if err != nil {
		return nil, err
	}
	if tx.memo == nil {
		tx.memo = map[any]any{}
	}
	tx.memo[key] = v
	return v, nil
}

// Dialect tells which engine the transaction runs on.
func (tx *Tx) Dialect() Dialect { return tx.db.dialect }

// AfterCommit registers f to run once the transaction has committed. It does
// not run if the transaction rolls back.
func (tx *Tx) AfterCommit(f func()) { tx.afterCommit = append(tx.afterCommit, f) }

// Transact runs fn in a transaction and commits it if fn returns nil. If fn
// returns an error or panics, the transaction is rolled back and the error
// (or panic) is passed on. After a commit, the Tx's and the DB's after-commit
// hooks run in that order.
func (db *DB) Transact(ctx context.Context, fn func(*Tx) error) (err error) {
	sqltx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqldb: begin: %w", err)
	}
	tx := &Tx{Tx: sqltx, db: db}
	// Statements this transaction ran for the first time are prepared once
	// it has given its connection back (this defer runs after the one below
	// that rolls back on a panic).
	defer db.writeStmts.preparePending(ctx)
	defer func() {
		if p := recover(); p != nil {
			_ = sqltx.Rollback()
			panic(p)
		}
	}()
	err = fn(tx)
	for i := 0; err == nil && i < len(tx.beforeCommit); i++ {
		err = tx.beforeCommit[i](ctx)
	}
	if err != nil {
		if rbErr := sqltx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) {
			return errors.Join(err, fmt.Errorf("sqldb: rollback: %w", rbErr))
		}
		return err
	}
	if err := sqltx.Commit(); err != nil {
		return fmt.Errorf("sqldb: commit: %w", err)
	}
	db.commits.Add(1)
	for _, f := range tx.afterCommit {
		f()
	}
	db.mu.Lock()
	hooks := db.afterCommit
	db.mu.Unlock()
	for _, f := range hooks {
		f()
	}
	return nil
}

// Rebind rewrites PostgreSQL's numbered parameters ($1, $2, …) into SQLite's
// (?1, ?2, …), so that one query text serves both engines. It does not look
// inside string literals: write no '$' in them.
func (d Dialect) Rebind(query string) string {
	if d != SQLite || strings.IndexByte(query, '$') < 0 {
		return query
	}
	b := []byte(query)
	for i := 0; i < len(b)-1; i++ {
		if b[i] == '$' && b[i+1] >= '0' && b[i+1] <= '9' {
			b[i] = '?'
		}
	}
	return string(b)
}
