package orders

import (
	"context"
	"fmt"
	"time"

	"github.com/bounded-dev/bounded/platform/outbox"
)

// Stats are Orders' totals, as `bounded reconcile` compares them with the
// warehouse's: the orders and their value in each status and currency,
// and the outbox's position, all read in one statement (one snapshot).
type Stats struct {
	AsOf     time.Time       `json:"as_of"`
	Outbox   outbox.Position `json:"outbox"`
	ByStatus []StatusTotal   `json:"by_status"`
}

// StatusTotal is the orders in one status and currency.
type StatusTotal struct {
	Status     string `json:"status"`
	Currency   string `json:"currency"`
	Orders     int64  `json:"orders"`
	ValueCents int64  `json:"value_cents"`
}

// stats reads the totals and the outbox's position in one statement: the
// row with an empty status is the outbox's (no order has one).
func (st *store) stats(ctx context.Context) (Stats, error) {
	out := Stats{ByStatus: []StatusTotal{}}
	rows, err := st.db.Reader().QueryContext(ctx, `SELECT status, currency, count(*), CAST(COALESCE(sum(total_cents), 0) AS bigint)
FROM orders GROUP BY status, currency
UNION ALL SELECT '', '', p.backlog, p.recorded FROM (`+outbox.PositionQuery(st.db.Dialect())+`) p
ORDER BY 1, 2`)
	if err != nil {
		return out, fmt.Errorf("orders: stats: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var t StatusTotal
		if err := rows.Scan(&t.Status, &t.Currency, &t.Orders, &t.ValueCents); err != nil {
			return out, fmt.Errorf("orders: stats: %w", err)
		}
		if t.Status == "" {
			out.Outbox = outbox.Position{Backlog: t.Orders, Recorded: t.ValueCents}
			continue
		}
		out.ByStatus = append(out.ByStatus, t)
	}
	if err := rows.Err(); err != nil {
		return out, fmt.Errorf("orders: stats: %w", err)
	}
	out.AsOf = time.Now().UTC()
	return out, nil
}
