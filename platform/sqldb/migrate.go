package sqldb

import (
	"context"
	"fmt"
	"hash/fnv"
	"io/fs"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/database"
	"github.com/pressly/goose/v3/lock"
)

// Migrate applies the goose migrations found in fsys (SQL files at its root,
// e.g. an embed.FS sub-tree) that are not yet applied, recording them in the
// version table named table. Each owner of tables in a database uses its own
// version table (a service its own, each toolkit package its own), so their
// migrations never collide.
//
// On PostgreSQL the run holds a session advisory lock derived from table, so
// replicas of a service starting together migrate one at a time.
func (db *DB) Migrate(ctx context.Context, fsys fs.FS, table string) error {
	dialect := database.DialectSQLite3
	if db.dialect == Postgres {
		dialect = database.DialectPostgres
	}
	store, err := database.NewStore(dialect, table)
	if err != nil {
		return fmt.Errorf("sqldb: migrate %s: %w", table, err)
	}
	opts := []goose.ProviderOption{goose.WithStore(store), goose.WithDisableGlobalRegistry(true)}
	if db.dialect == Postgres {
		h := fnv.New64a()
		h.Write([]byte("bounded.migrate." + table))
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(int64(h.Sum64() >> 1)))
		if err != nil {
			return fmt.Errorf("sqldb: migrate %s: %w", table, err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider("", db.write, fsys, opts...)
	if err != nil {
		return fmt.Errorf("sqldb: migrate %s: %w", table, err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("sqldb: migrate %s: %w", table, err)
	}
	return nil
}
