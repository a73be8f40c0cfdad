package fulfillment

import (
	"context"
	"fmt"
	"time"

	"github.com/bounded-dev/bounded/platform/outbox"
	"github.com/bounded-dev/bounded/platform/sqldb"
)

// Stats are Fulfillment's totals, as `bounded reconcile` compares them with
// the warehouse's: the shipments and their units in each status, and the
// outbox's position, all read in one statement (one snapshot). Shipments,
// Dispatched and UnitsDispatched sum ByStatus for the comparison: every
// shipment was created (shipment_created), the dispatched ones were
// dispatched (shipment_dispatched); a cancellation publishes nothing.
type Stats struct {
	AsOf            time.Time       `json:"as_of"`
	Outbox          outbox.Position `json:"outbox"`
	Shipments       int64           `json:"shipments"`
	Dispatched      int64           `json:"dispatched"`
	UnitsDispatched int64           `json:"units_dispatched"`
	ByStatus        []StatusTotal   `json:"by_status"`
}

// StatusTotal is the shipments in one status and the units they hold.
type StatusTotal struct {
	Status    string `json:"status"`
	Shipments int64  `json:"shipments"`
	Units     int64  `json:"units"`
}

// stats reads the totals and the outbox's position in one statement: the
// row with an empty status is the outbox's.
func (s *fulfillment) stats(ctx context.Context) (Stats, error) {
	out := Stats{ByStatus: []StatusTotal{}}
	db := s.env.DB
	units := `(SELECT sum(json_extract(j.value, '$.quantity')) FROM json_each(items) j)`
	if db.Dialect() == sqldb.Postgres {
		units = `(SELECT sum((j->>'quantity')::bigint) FROM jsonb_array_elements(items) j)`
	}
	rows, err := db.Reader().QueryContext(ctx, `SELECT status, count(*), CAST(COALESCE(sum(`+units+`), 0) AS bigint)
FROM shipments GROUP BY status
UNION ALL SELECT '', p.backlog, p.recorded FROM (`+outbox.PositionQuery(db.Dialect())+`) p
ORDER BY 1`)
	if err != nil {
		return out, fmt.Errorf("fulfillment: stats: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var t StatusTotal
		if err := rows.Scan(&t.Status, &t.Shipments, &t.Units); err != nil {
			return out, fmt.Errorf("fulfillment: stats: %w", err)
		}
		if t.Status == "" {
			out.Outbox = outbox.Position{Backlog: t.Shipments, Recorded: t.Units}
			continue
		}
		out.ByStatus = append(out.ByStatus, t)
		out.Shipments += t.Shipments
		if t.Status == string(StatusDispatched) {
			out.Dispatched, out.UnitsDispatched = t.Shipments, t.Units
		}
	}
	if err := rows.Err(); err != nil {
		return out, fmt.Errorf("fulfillment: stats: %w", err)
	}
	out.AsOf = time.Now().UTC()
	return out, nil
}
