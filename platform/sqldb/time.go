package sqldb

import (
	"fmt"
	"time"
)

// Times are stored as each engine stores them best: timestamptz on
// PostgreSQL, integer Unix milliseconds on SQLite (which has no time type;
// integers compare and index as times should). TimeArg and TimeCol are
// the two halves of that rule, for every service's store.

// TimeArg is t as a statement argument for dialect d: NULL for the zero
// time, Unix milliseconds on SQLite, UTC on PostgreSQL.
func TimeArg(d Dialect, t time.Time) any {
	switch {
	case t.IsZero():
		return nil
	case d == SQLite:
		return t.UnixMilli()
	}
	return t.UTC()
}

// TimeCol scans a time column of either dialect into *T (UTC); NULL scans
// as the zero time.
type TimeCol struct{ T *time.Time }

// Scan implements sql.Scanner.
func (c TimeCol) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		*c.T = time.Time{}
	case time.Time:
		*c.T = x.UTC()
	case int64:
		*c.T = time.UnixMilli(x).UTC()
	default:
		return fmt.Errorf("time column: unexpected %T", v)
	}
	return nil
}
