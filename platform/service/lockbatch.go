package service

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/bounded-dev/bounded/platform/contract"
	"github.com/bounded-dev/bounded/platform/sqldb"
)

// LockKeys returns a Spec.PrepareBatch for a service whose handlers lock
// rows per key (an order's rows, say) and whose consumers of several
// streams may each batch events of the same keys: one consumer's batch
// holding order A's row and waiting for B's, another's holding B's and
// waiting for A's, is a deadlock PostgreSQL breaks only after
// deadlock_timeout. Before the handlers run, it takes a transaction-scoped
// advisory lock (in namespace space) on every key the batch names, in one
// order; two batches then meet on the first key they share instead of
// crossing. key returns an event's key ("" for none). SQLite, with its one
// writer, needs no locks: nothing is done there.
func LockKeys(space int32, key func(contract.Event) string) func(context.Context, *sqldb.Tx, []contract.Event) error {
	return func(ctx context.Context, tx *sqldb.Tx, batch []contract.Event) error {
		if tx.Dialect() != sqldb.Postgres {
			return nil
		}
		var keys []string
		for _, e := range batch {
			if k := key(e); k != "" {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		keys = slices.Compact(keys)
		if len(keys) == 0 {
			return nil
		}
		args := make([]any, len(keys))
		values := make([]string, len(keys))
		for i, k := range keys {
			args[i], values[i] = k, "($"+strconv.Itoa(i+1)+")"
		}
		// pg_advisory_xact_lock is volatile: PostgreSQL calls it after the
		// sort, row by row, in the order of the locks' own keys.
		_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(`+strconv.Itoa(int(space))+`, h)
			FROM (SELECT DISTINCT hashtext(k) AS h FROM (VALUES `+strings.Join(values, ", ")+`) AS keys (k)) AS hashes
			ORDER BY h`, args...)
		if err != nil {
			return fmt.Errorf("lock %d keys: %w", len(keys), err)
		}
		return nil
	}
}

// JSONField returns a LockKeys key: the string field name at the top of
// the event's data ("" when the data has none).
func JSONField(name string) func(contract.Event) string {
	return func(e contract.Event) string {
		var fields map[string]json.RawMessage
		if json.Unmarshal(e.Data, &fields) != nil {
			return ""
		}
		var s string
		if json.Unmarshal(fields[name], &s) != nil {
			return ""
		}
		return s
	}
}
