package inventory

import (
	"context"
	"fmt"
	"time"

	"github.com/bounded-dev/bounded/platform/outbox"
)

// Stats are Inventory's totals, as `bounded reconcile` compares them with
// the warehouse's: every SKU's stock (on hand and reserved), their sums,
// and the outbox's position, all read in one statement (one snapshot).
type Stats struct {
	AsOf     time.Time       `json:"as_of"`
	Outbox   outbox.Position `json:"outbox"`
	OnHand   int64           `json:"on_hand"`
	Reserved int64           `json:"reserved"`
	Stock    []StockTotal    `json:"stock"`
}

// StockTotal is one SKU's stock.
type StockTotal struct {
	SKU      string `json:"sku"`
	OnHand   int64  `json:"on_hand"`
	Reserved int64  `json:"reserved"`
}

// stats reads the stock and the outbox's position in one statement: the
// row with an empty SKU is the outbox's (no SKU is empty). SKUs are sorted.
func (s *svc) stats(ctx context.Context) (Stats, error) {
	out := Stats{Stock: []StockTotal{}}
	db := s.env.DB
	rows, err := db.Reader().QueryContext(ctx, `SELECT sku, CAST(on_hand AS bigint), CAST(reserved AS bigint) FROM stock_items
UNION ALL SELECT '', p.backlog, p.recorded FROM (`+outbox.PositionQuery(db.Dialect())+`) p
ORDER BY 1`)
	if err != nil {
		return out, fmt.Errorf("inventory: stats: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var t StockTotal
		if err := rows.Scan(&t.SKU, &t.OnHand, &t.Reserved); err != nil {
			return out, fmt.Errorf("inventory: stats: %w", err)
		}
		if t.SKU == "" {
			out.Outbox = outbox.Position{Backlog: t.OnHand, Recorded: t.Reserved}
			continue
		}
		out.Stock = append(out.Stock, t)
		out.OnHand += t.OnHand
		out.Reserved += t.Reserved
	}
	if err := rows.Err(); err != nil {
		return out, fmt.Errorf("inventory: stats: %w", err)
	}
	out.AsOf = time.Now().UTC()
	return out, nil
}
