package reporting

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/bounded-dev/bounded/platform/httpapi"
	"github.com/bounded-dev/bounded/platform/sqldb"
)

// Totals are the warehouse's figures in the shapes the owners' GET /stats
// answer with, for `bounded reconcile` to compare, all read in one
// statement (one snapshot of the warehouse), with the watermarks of that
// snapshot. Each is derived from the facts alone:
//
//   - Orders: fact_order by its latest milestone (cancelled, else shipped,
//     reserved, paid, confirmed) and currency: count and total value;
//   - Payments: fact_payment per payment, by its outcome (captured if it
//     was ever captured, else declined, else voided) and currency, and
//     fact_refund's refunds;
//   - Shipments: fact_shipment's rows, those dispatched and their units;
//   - Stock: per SKU, the sum of fact_stock_movement's deltas (on hand and
//     reserved), which is the stock after the last movement when none is
//     missing.
type Totals struct {
	AsOf       time.Time       `json:"as_of"`
	Watermarks []StreamApplied `json:"watermarks"`
	Orders     []OrderTotal    `json:"orders"`
	Payments   []PaymentTotal  `json:"payments"`
	Shipments  ShipmentTotal   `json:"shipments"`
	OnHand     int64           `json:"on_hand"`
	Reserved   int64           `json:"reserved"`
	Stock      []StockTotal    `json:"stock"`
}

// StreamApplied is the events applied from one stream (its watermark).
type StreamApplied struct {
	Stream        string `json:"stream"`
	EventsApplied int64  `json:"events_applied"`
}

// OrderTotal is the orders in one status and currency.
type OrderTotal struct {
	Status     string `json:"status"`
	Currency   string `json:"currency"`
	Orders     int64  `json:"orders"`
	ValueCents int64  `json:"value_cents"`
}

// PaymentTotal is one currency's payments and refunds.
type PaymentTotal struct {
	Currency      string `json:"currency"`
	Captured      int64  `json:"captured"`
	CapturedCents int64  `json:"captured_cents"`
	Declined      int64  `json:"declined"`
	DeclinedCents int64  `json:"declined_cents"`
	Voided        int64  `json:"voided"`
	VoidedCents   int64  `json:"voided_cents"`
	RefundsIssued int64  `json:"refunds_issued"`
	RefundedCents int64  `json:"refunded_cents"`
}

// ShipmentTotal is the shipments created, those dispatched, and the units
// dispatched.
type ShipmentTotal struct {
	Shipments       int64 `json:"shipments"`
	Dispatched      int64 `json:"dispatched"`
	UnitsDispatched int64 `json:"units_dispatched"`
}

// StockTotal is one SKU's stock.
type StockTotal struct {
	SKU      string `json:"sku"`
	OnHand   int64  `json:"on_hand"`
	Reserved int64  `json:"reserved"`
}

// totalsSQL reads every figure in one statement, one row per figure
// group: (kind, key, currency, n, m).
const totalsSQL = `SELECT 'order', CASE
    WHEN cancelled_at IS NOT NULL THEN 'cancelled'
    WHEN shipped_at IS NOT NULL THEN 'shipped'
    WHEN reserved_at IS NOT NULL THEN 'reserved'
    WHEN paid_at IS NOT NULL THEN 'paid'
    WHEN confirmed_at IS NOT NULL THEN 'confirmed'
    ELSE 'unknown' END, COALESCE(currency, ''), count(*), CAST(COALESCE(sum(total_cents), 0) AS bigint)
  FROM fact_order GROUP BY 2, 3
UNION ALL SELECT 'payment', p.outcome, p.currency, count(*), CAST(COALESCE(sum(p.amount_cents), 0) AS bigint)
  FROM (SELECT payment_id, CASE
      WHEN sum(CASE WHEN outcome = 'captured' THEN 1 ELSE 0 END) > 0 THEN 'captured'
      WHEN sum(CASE WHEN outcome = 'declined' THEN 1 ELSE 0 END) > 0 THEN 'declined'
      ELSE 'voided' END AS outcome, max(currency) AS currency, max(amount_cents) AS amount_cents
    FROM fact_payment GROUP BY payment_id) p
  GROUP BY p.outcome, p.currency
UNION ALL SELECT 'refund', 'issued', currency, count(*), CAST(COALESCE(sum(amount_cents), 0) AS bigint)
  FROM fact_refund GROUP BY currency
UNION ALL SELECT 'shipment', 'all', '', count(*), 0 FROM fact_shipment
UNION ALL SELECT 'shipment', 'dispatched', '', count(*), CAST(COALESCE(sum(units), 0) AS bigint)
  FROM fact_shipment WHERE dispatched_at IS NOT NULL
UNION ALL SELECT 'stock', sku, '', CAST(sum(delta_on_hand) AS bigint), CAST(sum(delta_reserved) AS bigint)
  FROM fact_stock_movement GROUP BY sku
UNION ALL SELECT 'watermark', stream, '', CAST(events_applied AS bigint), 0 FROM watermarks`

// totals reads the warehouse's figures (see Totals).
func totals(ctx context.Context, db *sqldb.DB) (Totals, error) {
	out := Totals{Watermarks: []StreamApplied{}, Orders: []OrderTotal{}, Payments: []PaymentTotal{}, Stock: []StockTotal{}}
	rows, err := db.QueryContext(ctx, totalsSQL)
	if err != nil {
		return out, fmt.Errorf("totals: %w", err)
	}
	defer rows.Close()
	payments := map[string]*PaymentTotal{}
	payment := func(cur string) *PaymentTotal {
		if payments[cur] == nil {
			payments[cur] = &PaymentTotal{Currency: cur}
		}
		return payments[cur]
	}
	for rows.Next() {
		var kind, key, cur string
		var n, m int64
		if err := rows.Scan(&kind, &key, &cur, &n, &m); err != nil {
			return out, fmt.Errorf("totals: %w", err)
		}
		switch kind + " " + key {
		case "payment captured":
			p := payment(cur)
			p.Captured, p.CapturedCents = n, m
		case "payment declined":
			p := payment(cur)
			p.Declined, p.DeclinedCents = n, m
		case "payment voided":
			p := payment(cur)
			p.Voided, p.VoidedCents = n, m
		case "refund issued":
			p := payment(cur)
			p.RefundsIssued, p.RefundedCents = n, m
		case "shipment all":
			out.Shipments.Shipments = n
		case "shipment dispatched":
			out.Shipments.Dispatched, out.Shipments.UnitsDispatched = n, m
		default:
			switch kind {
			case "order":
				out.Orders = append(out.Orders, OrderTotal{Status: key, Currency: cur, Orders: n, ValueCents: m})
			case "stock":
				out.Stock = append(out.Stock, StockTotal{SKU: key, OnHand: n, Reserved: m})
				out.OnHand += n
				out.Reserved += m
			case "watermark":
				out.Watermarks = append(out.Watermarks, StreamApplied{Stream: key, EventsApplied: n})
			}
		}
	}
	if err := rows.Err(); err != nil {
		return out, fmt.Errorf("totals: %w", err)
	}
	for _, p := range payments {
		out.Payments = append(out.Payments, *p)
	}
	slices.SortFunc(out.Payments, func(a, b PaymentTotal) int { return strings.Compare(a.Currency, b.Currency) })
	slices.SortFunc(out.Orders, func(a, b OrderTotal) int {
		return strings.Compare(a.Status+" "+a.Currency, b.Status+" "+b.Currency)
	})
	slices.SortFunc(out.Stock, func(a, b StockTotal) int { return strings.Compare(a.SKU, b.SKU) })
	slices.SortFunc(out.Watermarks, func(a, b StreamApplied) int { return strings.Compare(a.Stream, b.Stream) })
	out.AsOf = time.Now().UTC()
	return out, nil
}

// getTotals answers GET /totals (admin, like the owners' GET /stats it is
// compared with). It takes no parameters.
func (s *reporting) getTotals(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.parseQuery(r); err != nil {
		return err
	}
	t, err := totals(r.Context(), s.env.DB)
	if err != nil {
		return err
	}
	return httpapi.WriteJSON(w, http.StatusOK, t)
}
