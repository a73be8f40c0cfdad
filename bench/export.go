package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

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
	data := make([]byte, payload)
	insert := db.Dialect().Rebind(insertDomainRow)
	var n atomicCounter
	cr, err := commitLoop(ctx, writers, d, 10, nil, func(ctx context.Context, w int) error {
		_, err := db.Writer().ExecContext(ctx, insert, newRowID(), w, n.next(), data)
		return err
	})
	if err != nil {
		return cr, fmt.Errorf("raw SQLite commits: %w", err)
	}
	return cr, nil
}
