package payments

import (
	"context"
	"io/fs"

	"github.com/bounded-dev/bounded/platform/sqldb"
)

// Unexported parts the black-box tests fuzz or need.

// ParseOrderQuery is parseOrderQuery.
var ParseOrderQuery = parseOrderQuery

// Migrate creates Payments' tables in db, as the host does at start, for
// tests of a StoredSimulator without the service.
func Migrate(ctx context.Context, db *sqldb.DB) error {
	sub, err := fs.Sub(migrations, "migrations/"+string(db.Dialect()))
	if err != nil {
		return err
	}
	return db.Migrate(ctx, sub, "schema_version")
}
