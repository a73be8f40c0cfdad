package outbox

import "github.com/bounded-dev/bounded/platform/sqldb"

// Position is how far a service's outbox has got: how many events wait to
// be published (Backlog) and the seq of the newest event ever recorded
// (Recorded; 0 when none has been). Recorded only grows; on SQLite it is
// the number of events ever recorded, on PostgreSQL a sequence's value,
// which may skip numbers (a rolled-back transaction burns its seqs).
//
// A service reports it beside figures read in the same statement (see
// PositionQuery): Backlog 0 then means that every event describing those
// figures has been published, and an unchanged Recorded between two reads
// means that no event was recorded in between. It carries its JSON shape
// because it is reported as is by every service's stats route.
type Position struct {
	Backlog  int64 `json:"backlog"`
	Recorded int64 `json:"recorded"`
}

// PositionQuery is a SELECT of one row and two columns, the outbox's
// backlog and Recorded, for a service to read in the same statement as the
// figures it reports (UNION ALL, or a subquery), so that both come from one
// snapshot of its database. The sequence on PostgreSQL is outside
// snapshots: it may be ahead of the rows the statement sees (a transaction
// in flight drew its seq), never behind them.
func PositionQuery(d sqldb.Dialect) string {
	if d == sqldb.Postgres {
		return `SELECT (SELECT count(*) FROM bounded_outbox) AS backlog,
  COALESCE(pg_sequence_last_value(pg_get_serial_sequence('bounded_outbox', 'seq')::regclass), 0) AS recorded`
	}
	return `SELECT (SELECT count(*) FROM bounded_outbox) AS backlog,
  COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'bounded_outbox'), 0) AS recorded`
}
