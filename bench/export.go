package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bounded-dev/bounded/platform/sqldb"
)

// Summarize returns the percentiles of ds (which it sorts in place), for
// benchmarks outside this package.
func Summarize(ds []time.Duration) Percentiles { return percentiles(ds) }

// RawSQLiteCommits measures the raw SQLite limit the way the toolkit
// benchmark does: one-row autocommit INSERTs (payload bytes of data) by
// writers on sqldb's single writer connection, into a fresh database file
// in dir, for d.
func RawSQLiteCommits(ctx context.Context, dir string, writers, payload int, d time.Duration) (CommitRun, error) {
	db, err := sqldb.Open(ctx, sqldb.Config{DSN: filepath.Join(dir, "raw.db")})
	if err != nil {
		return CommitRun{}, err
	}
	defer db.Close()
	if err := createDomainTable(ctx, db); err != nil {
		return CommitRun{}, err
	}
	cr, err := rawInserts(ctx, db, writers, payload, d)
	if err != nil {
		return cr, fmt.Errorf("raw SQLite commits: %w", err)
	}
	return cr, nil
}

// RawPostgresCommits measures the raw PostgreSQL limit the way the toolkit
// benchmark's raw-postgres phase does: one-row autocommit INSERTs (payload
// bytes of data) by writers, each on a connection of its own, into a fresh
// database on the server of adminDSN, for d. adminDSN must name a role that
// may create databases; the database is dropped again before it returns,
// also when ctx is cancelled (on a fresh context, bounded in time).
func RawPostgresCommits(ctx context.Context, adminDSN string, writers, payload int, d time.Duration) (CommitRun, error) {
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	admin, err := pgx.Connect(pctx, adminDSN)
	if err != nil {
		return CommitRun{}, fmt.Errorf("raw PostgreSQL commits: connect to %s: %w", redactURL(adminDSN), err)
	}
	// Closed after the scope below, which drops the database through it.
	defer admin.Close(context.WithoutCancel(ctx))
	r := &runner{cfg: Config{PostgresAdmin: adminDSN}, pg: admin}
	cr, err := withScope(func(s *scope) (CommitRun, error) {
		db, err := r.newDomainDB(ctx, s, sqldb.Postgres, "bench_raw_")
		if err != nil {
			return CommitRun{}, err
		}
		return rawInserts(ctx, db, writers, payload, d)
	})
	if err != nil {
		return cr, fmt.Errorf("raw PostgreSQL commits: %w", err)
	}
	return cr, nil
}

// rawInserts is the raw figure's loop on db, whose domain table exists.
func rawInserts(ctx context.Context, db *sqldb.DB, writers, payload int, d time.Duration) (CommitRun, error) {
	data := make([]byte, payload)
	insert := db.Dialect().Rebind(insertDomainRow)
	var n atomicCounter
	return commitLoop(ctx, writers, d, 10, nil, func(ctx context.Context, w int) error {
		_, err := db.Writer().ExecContext(ctx, insert, newRowID(), w, n.next(), data)
		return err
	})
}
