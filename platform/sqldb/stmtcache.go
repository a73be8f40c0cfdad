package sqldb

import (
	"context"
	"database/sql"
	"sync"
)

// SQLite spends much of a small transaction parsing its statements:
// database/sql prepares every Exec and Query afresh, and the modernc driver
// keeps no cache. So on SQLite the DB keeps each statement text it runs
// prepared, once per pool: a service runs a few dozen distinct statements,
// over and over. (PostgreSQL needs none of this: pgx caches prepared
// statements per connection itself.)

// maxCachedStatements bounds the cache; statement texts beyond it (which
// would be generated SQL, e.g. IN lists of varying length) run unprepared.
const maxCachedStatements = 512

type stmtCache struct {
	pool    *sql.DB
	mu      sync.Mutex
	stmts   map[string]*sql.Stmt
	pending map[string]bool // seen, to be prepared when the pool is free
}

func newStmtCache(pool *sql.DB) *stmtCache {
	return &stmtCache{pool: pool, stmts: map[string]*sql.Stmt{}, pending: map[string]bool{}}
}

// lookup returns query's prepared statement, or nil; on a miss it notes the
// query to be prepared by preparePending. It never takes a connection: it
// runs inside transactions, which on SQLite hold the only writer
// connection.
func (c *stmtCache) lookup(query string) *sql.Stmt {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.stmts[query]; ok {
		return st
	}
	if len(c.stmts)+len(c.pending) < maxCachedStatements {
		c.pending[query] = true
	}
	return nil
}

// preparePending prepares the queries lookup missed. Call it with no
// connection of the pool held. A query that fails to prepare (say, its
// table does not exist yet) is dropped; it is noted again on its next use.
func (c *stmtCache) preparePending(ctx context.Context) {
	if c == nil {
		return
	}
	c.mu.Lock()
	if len(c.pending) == 0 {
		c.mu.Unlock()
		return
	}
	queries := make([]string, 0, len(c.pending))
	for q := range c.pending {
		queries = append(queries, q)
	}
	clear(c.pending)
	c.mu.Unlock()
	for _, q := range queries {
		// Without the caller's deadline: the statement outlives the call.
		st, err := c.pool.PrepareContext(context.WithoutCancel(ctx), q)
		if err != nil {
			continue
		}
		c.mu.Lock()
		if c.stmts == nil || c.stmts[q] != nil {
			st.Close() // closed meanwhile, or prepared by another goroutine
		} else {
			c.stmts[q] = st
		}
		c.mu.Unlock()
	}
}

// get is lookup followed, on a miss, by preparing at once: for pools whose
// caller holds no connection (the readers).
func (c *stmtCache) get(ctx context.Context, query string) *sql.Stmt {
	if st := c.lookup(query); st != nil || c == nil {
		return st
	}
	c.preparePending(ctx)
	return c.lookup(query)
}

func (c *stmtCache) close() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.stmts {
		st.Close()
	}
	c.stmts = nil
}

// ExecContext runs a statement in the transaction (prepared once per
// database on SQLite).
func (tx *Tx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := tx.db.writeStmts.lookup(query); st != nil {
		return tx.Tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return tx.Tx.ExecContext(ctx, query, args...)
}

// QueryContext runs a query in the transaction (prepared once per database
// on SQLite).
func (tx *Tx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := tx.db.writeStmts.lookup(query); st != nil {
		return tx.Tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	}
	return tx.Tx.QueryContext(ctx, query, args...)
}

// QueryRowContext runs a query for one row in the transaction (prepared
// once per database on SQLite).
func (tx *Tx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := tx.db.writeStmts.lookup(query); st != nil {
		return tx.Tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return tx.Tx.QueryRowContext(ctx, query, args...)
}
