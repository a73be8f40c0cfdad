package reporting

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/bounded-dev/bounded/platform/sqldb"
)

// The reports are read-only queries over the warehouse. Each takes a
// period of whole UTC days (dates of the facts' own business times, never
// of when they were loaded), so that its figures do not depend on when or
// in which order the events arrived, only on which have.
//
// Their result types are the API's answers: a report is a view, not a
// domain object, and has no other form.

// period is an inclusive range of dim_date keys; the zero keys mean
// unbounded.
type period struct {
	From, To time.Time // zero: unbounded
}

func (p period) keys() (int, int) {
	lo, hi := 0, 99991231
	if !p.From.IsZero() {
		lo = dateKey(p.From)
	}
	if !p.To.IsZero() {
		hi = dateKey(p.To)
	}
	return lo, hi
}

// SalesRow is one group of order lines: a day, a product or a category, in
// one currency. Gross counts every line of every order confirmed in the
// period; cancelled, the lines of those orders cancelled since; net, the
// difference.
type SalesRow struct {
	Day            string `json:"day,omitempty"`
	SKU            string `json:"sku,omitempty"`
	Category       string `json:"category,omitempty"`
	Name           string `json:"name,omitempty"`
	Currency       string `json:"currency"`
	Orders         int64  `json:"orders"`
	Units          int64  `json:"units"`
	GrossCents     int64  `json:"gross_cents"`
	CancelledCents int64  `json:"cancelled_cents"`
	NetCents       int64  `json:"net_cents"`
}

// salesBy is the dimension sales are grouped by.
type salesBy string

const (
	byDay      salesBy = "day"
	byProduct  salesBy = "product"
	byCategory salesBy = "category"
)

const salesMeasures = `l.currency, COUNT(DISTINCT l.order_id), CAST(SUM(l.quantity) AS BIGINT), CAST(SUM(l.amount_cents) AS BIGINT),
	CAST(SUM(CASE WHEN o.cancelled_at IS NOT NULL THEN l.amount_cents ELSE 0 END) AS BIGINT)`

// salesNet orders the groups by net sales.
const salesNet = `SUM(l.amount_cents) - SUM(CASE WHEN o.cancelled_at IS NOT NULL THEN l.amount_cents ELSE 0 END)`

func sales(ctx context.Context, db *sqldb.DB, by salesBy, p period, limit int) ([]SalesRow, error) {
	var q string
	switch by {
	case byDay:
		q = `SELECT d.day, '', ` + salesMeasures + `
			FROM fact_order_line l JOIN dim_date d ON d.date_key = l.date_key
			LEFT JOIN fact_order o ON o.order_id = l.order_id
			WHERE l.date_key BETWEEN $1 AND $2
			GROUP BY d.day, l.currency ORDER BY d.day, l.currency LIMIT $3`
	case byProduct:
		// An inferred product (no catalog event yet) has no name: the
		// order line's name stands in; its category is not known yet.
		q = `SELECT l.sku, COALESCE(p.name, MAX(l.product_name)), ` + salesMeasures + `, COALESCE(p.category, '')
			FROM fact_order_line l LEFT JOIN dim_product p ON p.sku = l.sku
			LEFT JOIN fact_order o ON o.order_id = l.order_id
			WHERE l.date_key BETWEEN $1 AND $2
			GROUP BY l.sku, p.name, p.category, l.currency
			ORDER BY ` + salesNet + ` DESC, l.sku, l.currency LIMIT $3`
	case byCategory:
		q = `SELECT COALESCE(p.category, ''), COALESCE(c.name, p.category, '(unknown)'), ` + salesMeasures + `
			FROM fact_order_line l LEFT JOIN dim_product p ON p.sku = l.sku
			LEFT JOIN dim_category c ON c.slug = p.category
			LEFT JOIN fact_order o ON o.order_id = l.order_id
			WHERE l.date_key BETWEEN $1 AND $2
			GROUP BY p.category, c.name, l.currency
			ORDER BY ` + salesNet + ` DESC, 1, l.currency LIMIT $3`
	default:
		return nil, fmt.Errorf("sales by %q", by)
	}
	lo, hi := p.keys()
	rows, err := db.QueryContext(ctx, db.Dialect().Rebind(q), lo, hi, limit)
	if err != nil {
		return nil, fmt.Errorf("sales by %s: %w", by, err)
	}
	defer rows.Close()
	out := []SalesRow{}
	for rows.Next() {
		var r SalesRow
		var key, name string
		dest := []any{&key, &name, &r.Currency, &r.Orders, &r.Units, &r.GrossCents, &r.CancelledCents}
		if by == byProduct {
			dest = append(dest, &r.Category)
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("sales by %s: %w", by, err)
		}
		switch by {
		case byDay:
			r.Day = key
		case byProduct:
			r.SKU, r.Name = key, name
		case byCategory:
			r.Category, r.Name = key, name
		}
		r.NetCents = r.GrossCents - r.CancelledCents
		out = append(out, r)
	}
	return out, rows.Err()
}

// Funnel follows the orders placed in the period (confirmed, or created
// cancelled, on a day of it) through the steps each reached, as Orders
// announced them; checkouts are Cart's in the period.
type Funnel struct {
	CheckedOut    int64         `json:"checked_out"`
	Stages        []FunnelStage `json:"stages"`
	Cancellations []ReasonCount `json:"cancellations"`
}

// FunnelStage is how many of the orders placed reached a step.
type FunnelStage struct {
	Stage  string  `json:"stage"`
	Orders int64   `json:"orders"`
	Share  float64 `json:"share_of_placed"` // 0 to 1
}

// ReasonCount counts the facts of one reason.
type ReasonCount struct {
	Reason string `json:"reason"`
	Count  int64  `json:"count"`
}

func funnel(ctx context.Context, db *sqldb.DB, p period) (Funnel, error) {
	lo, hi := p.keys()
	q := db.Dialect().Rebind
	var f Funnel
	if err := db.QueryRowContext(ctx, q(`SELECT COUNT(*) FROM fact_checkout WHERE date_key BETWEEN $1 AND $2`), lo, hi).Scan(&f.CheckedOut); err != nil {
		return f, fmt.Errorf("funnel: %w", err)
	}
	const placed = `COALESCE(confirmed_date_key, cancelled_date_key) BETWEEN $1 AND $2`
	var n [6]int64
	if err := db.QueryRowContext(ctx, q(`SELECT COUNT(*), COUNT(confirmed_at), COUNT(paid_at), COUNT(reserved_at), COUNT(shipped_at), COUNT(cancelled_at)
		FROM fact_order WHERE `+placed), lo, hi).Scan(&n[0], &n[1], &n[2], &n[3], &n[4], &n[5]); err != nil {
		return f, fmt.Errorf("funnel: %w", err)
	}
	for i, stage := range []string{"placed", "confirmed", "paid", "reserved", "shipped", "cancelled"} {
		f.Stages = append(f.Stages, FunnelStage{Stage: stage, Orders: n[i], Share: ratio(n[i], n[0])})
	}
	var err error
	f.Cancellations, err = reasonCounts(ctx, db, `SELECT cancel_reason, COUNT(*) FROM fact_order
		WHERE cancelled_at IS NOT NULL AND `+placed+` GROUP BY cancel_reason ORDER BY 2 DESC, 1`, lo, hi)
	return f, err
}

func reasonCounts(ctx context.Context, db *sqldb.DB, query string, args ...any) ([]ReasonCount, error) {
	rows, err := db.QueryContext(ctx, db.Dialect().Rebind(query), args...)
	if err != nil {
		return nil, fmt.Errorf("reasons: %w", err)
	}
	defer rows.Close()
	out := []ReasonCount{}
	for rows.Next() {
		var r ReasonCount
		var reason sql.NullString
		if err := rows.Scan(&reason, &r.Count); err != nil {
			return nil, fmt.Errorf("reasons: %w", err)
		}
		r.Reason = reason.String
		out = append(out, r)
	}
	return out, rows.Err()
}

// ratio is n/of, 0 when of is 0, rounded to 4 decimals.
func ratio(n, of int64) float64 {
	if of == 0 {
		return 0
	}
	return math.Round(float64(n)/float64(of)*10000) / 10000
}

// Payments is the payments decided and the refunds issued in the period.
// The decline rate is declined / (captured + declined): voided payments
// were called off, not decided. The refund rate is the payments refunded
// (in the period) over those captured (in the period).
type Payments struct {
	Captured         int64            `json:"captured"`
	Declined         int64            `json:"declined"`
	Voided           int64            `json:"voided"`
	DeclineRate      float64          `json:"decline_rate"`
	Refunds          int64            `json:"refunds"`
	RefundedPayments int64            `json:"refunded_payments"`
	RefundRate       float64          `json:"refund_rate"`
	DeclinesByReason []ReasonCount    `json:"declines_by_reason"`
	Amounts          []PaymentAmounts `json:"amounts"`
}

// PaymentAmounts are the sums of one currency.
type PaymentAmounts struct {
	Currency      string `json:"currency"`
	CapturedCents int64  `json:"captured_cents"`
	DeclinedCents int64  `json:"declined_cents"`
	VoidedCents   int64  `json:"voided_cents"`
	RefundedCents int64  `json:"refunded_cents"`
}

func payments(ctx context.Context, db *sqldb.DB, p period) (Payments, error) {
	lo, hi := p.keys()
	q := db.Dialect().Rebind
	var out Payments
	amounts := map[string]*PaymentAmounts{}
	amount := func(cur string) *PaymentAmounts {
		if amounts[cur] == nil {
			amounts[cur] = &PaymentAmounts{Currency: cur}
		}
		return amounts[cur]
	}
	rows, err := db.QueryContext(ctx, q(`SELECT outcome, currency, COUNT(*), CAST(SUM(amount_cents) AS BIGINT)
		FROM fact_payment WHERE date_key BETWEEN $1 AND $2 GROUP BY outcome, currency`), lo, hi)
	if err != nil {
		return out, fmt.Errorf("payments: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var outcome, cur string
		var n, cents int64
		if err := rows.Scan(&outcome, &cur, &n, &cents); err != nil {
			return out, fmt.Errorf("payments: %w", err)
		}
		a := amount(cur)
		switch outcome {
		case "captured":
			out.Captured += n
			a.CapturedCents += cents
		case "declined":
			out.Declined += n
			a.DeclinedCents += cents
		case "voided":
			out.Voided += n
			a.VoidedCents += cents
		}
	}
	if err := rows.Err(); err != nil {
		return out, fmt.Errorf("payments: %w", err)
	}
	rows.Close()
	refunds, err := db.QueryContext(ctx, q(`SELECT currency, COUNT(*), COUNT(DISTINCT payment_id), CAST(SUM(amount_cents) AS BIGINT)
		FROM fact_refund WHERE date_key BETWEEN $1 AND $2 GROUP BY currency`), lo, hi)
	if err != nil {
		return out, fmt.Errorf("refunds: %w", err)
	}
	defer refunds.Close()
	for refunds.Next() {
		var cur string
		var n, paymentsRefunded, cents int64
		if err := refunds.Scan(&cur, &n, &paymentsRefunded, &cents); err != nil {
			return out, fmt.Errorf("refunds: %w", err)
		}
		out.Refunds += n
		out.RefundedPayments += paymentsRefunded
		amount(cur).RefundedCents += cents
	}
	if err := refunds.Err(); err != nil {
		return out, fmt.Errorf("refunds: %w", err)
	}
	out.DeclineRate = ratio(out.Declined, out.Captured+out.Declined)
	out.RefundRate = ratio(out.RefundedPayments, out.Captured)
	out.Amounts = []PaymentAmounts{}
	for _, a := range amounts {
		out.Amounts = append(out.Amounts, *a)
	}
	slices.SortFunc(out.Amounts, func(a, b PaymentAmounts) int { return compare(a.Currency, b.Currency) })
	out.DeclinesByReason, err = reasonCounts(ctx, db, `SELECT reason, COUNT(*) FROM fact_payment
		WHERE outcome = 'declined' AND date_key BETWEEN $1 AND $2 GROUP BY reason ORDER BY 2 DESC, 1`, lo, hi)
	return out, err
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// LeadTime is one fulfillment duration over the shipments dispatched in
// the period, in seconds: its median, 95th percentile (nearest rank) and
// maximum.
type LeadTime struct {
	Measure    string  `json:"measure"`
	From       string  `json:"from_event"`
	To         string  `json:"to_event"`
	Shipments  int     `json:"shipments"`
	P50Seconds float64 `json:"p50_seconds"`
	P95Seconds float64 `json:"p95_seconds"`
	MaxSeconds float64 `json:"max_seconds"`
}

// leadTimes measures confirmed → dispatched (the order's confirmed_at, from
// Orders, to the shipment's dispatched_at, from Fulfillment: what a
// customer waits) and created → dispatched (the shipment's creation, once
// confirmed and reserved, to its dispatch: what the warehouse adds, payment
// included). A shipment whose order's confirmation has not arrived yet
// counts only in the second.
func leadTimes(ctx context.Context, db *sqldb.DB, p period) ([]LeadTime, error) {
	lo, hi := p.keys()
	rows, err := db.QueryContext(ctx, db.Dialect().Rebind(`SELECT o.confirmed_at, s.created_at, s.dispatched_at
		FROM fact_shipment s LEFT JOIN fact_order o ON o.order_id = s.order_id
		WHERE s.dispatched_date_key BETWEEN $1 AND $2`), lo, hi)
	if err != nil {
		return nil, fmt.Errorf("lead time: %w", err)
	}
	defer rows.Close()
	var confirmed, created []time.Duration
	for rows.Next() {
		var c, cr, d time.Time
		if err := rows.Scan(sqldb.TimeCol{T: &c}, sqldb.TimeCol{T: &cr}, sqldb.TimeCol{T: &d}); err != nil {
			return nil, fmt.Errorf("lead time: %w", err)
		}
		if !c.IsZero() {
			confirmed = append(confirmed, d.Sub(c))
		}
		if !cr.IsZero() {
			created = append(created, d.Sub(cr))
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("lead time: %w", err)
	}
	return []LeadTime{
		leadTime("confirmed_to_dispatched", "orders.order_confirmed", "fulfillment.shipment_dispatched", confirmed),
		leadTime("created_to_dispatched", "fulfillment.shipment_created", "fulfillment.shipment_dispatched", created),
	}, nil
}

func leadTime(measure, from, to string, ds []time.Duration) LeadTime {
	l := LeadTime{Measure: measure, From: from, To: to, Shipments: len(ds)}
	if len(ds) == 0 {
		return l
	}
	slices.Sort(ds)
	l.P50Seconds, l.P95Seconds = percentile(ds, 0.50).Seconds(), percentile(ds, 0.95).Seconds()
	l.MaxSeconds = ds[len(ds)-1].Seconds()
	return l
}

// percentile is the nearest-rank percentile q of sorted ds (not empty).
func percentile(ds []time.Duration, q float64) time.Duration {
	i := int(math.Ceil(q*float64(len(ds)))) - 1
	return ds[max(0, min(i, len(ds)-1))]
}

// Stockouts is the reservations decided in the period and the lines that
// could not be reserved, by SKU and reason.
type Stockouts struct {
	ReservationsConfirmed int64         `json:"reservations_confirmed"`
	ReservationsFailed    int64         `json:"reservations_failed"`
	StockoutRate          float64       `json:"stockout_rate"`
	Rows                  []StockoutRow `json:"rows"`
}

// StockoutRow is one SKU's refused lines: how many orders, how many units
// they asked for and how many were missing.
type StockoutRow struct {
	SKU            string    `json:"sku"`
	Name           string    `json:"name"`
	Reason         string    `json:"reason"`
	Orders         int64     `json:"orders"`
	UnitsRequested int64     `json:"units_requested"`
	UnitsShort     int64     `json:"units_short"`
	LastAt         time.Time `json:"last_at"`
}

func stockouts(ctx context.Context, db *sqldb.DB, p period, limit int) (Stockouts, error) {
	lo, hi := p.keys()
	q := db.Dialect().Rebind
	out := Stockouts{Rows: []StockoutRow{}}
	rs, err := reasonCounts(ctx, db, `SELECT outcome, COUNT(*) FROM fact_reservation
		WHERE outcome IN ('confirmed', 'failed') AND date_key BETWEEN $1 AND $2 GROUP BY outcome`, lo, hi)
	if err != nil {
		return out, err
	}
	for _, r := range rs {
		if r.Reason == "confirmed" {
			out.ReservationsConfirmed = r.Count
		} else {
			out.ReservationsFailed = r.Count
		}
	}
	out.StockoutRate = ratio(out.ReservationsFailed, out.ReservationsConfirmed+out.ReservationsFailed)
	rows, err := db.QueryContext(ctx, q(`SELECT so.sku, COALESCE(p.name, ''), so.reason, COUNT(*), CAST(SUM(so.requested) AS BIGINT),
			CAST(SUM(so.requested - so.available) AS BIGINT), MAX(so.failed_at)
		FROM fact_stockout so LEFT JOIN dim_product p ON p.sku = so.sku
		WHERE so.date_key BETWEEN $1 AND $2
		GROUP BY so.sku, p.name, so.reason ORDER BY 4 DESC, so.sku, so.reason LIMIT $3`), lo, hi, limit)
	if err != nil {
		return out, fmt.Errorf("stock-outs: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r StockoutRow
		if err := rows.Scan(&r.SKU, &r.Name, &r.Reason, &r.Orders, &r.UnitsRequested, &r.UnitsShort, sqldb.TimeCol{T: &r.LastAt}); err != nil {
			return out, fmt.Errorf("stock-outs: %w", err)
		}
		out.Rows = append(out.Rows, r)
	}
	return out, rows.Err()
}

// PurchaseOrders is the purchase orders placed, flagged (not sent: the
// product's data was incomplete) and received in the period, by SKU.
// Open counts those placed (ever) and not received yet.
type PurchaseOrders struct {
	Placed        int64              `json:"placed"`
	Flagged       int64              `json:"flagged"`
	Received      int64              `json:"received"`
	Open          int64              `json:"open"`
	UnitsOrdered  int64              `json:"units_ordered"`
	UnitsReceived int64              `json:"units_received"`
	Rows          []PurchaseOrderRow `json:"rows"`
}

// PurchaseOrderRow is one SKU's purchase orders.
type PurchaseOrderRow struct {
	SKU           string `json:"sku"`
	Name          string `json:"name"`
	Placed        int64  `json:"placed"`
	Flagged       int64  `json:"flagged"`
	Received      int64  `json:"received"`
	Open          int64  `json:"open"`
	UnitsOrdered  int64  `json:"units_ordered"`
	UnitsReceived int64  `json:"units_received"`
}

func purchaseOrders(ctx context.Context, db *sqldb.DB, p period, limit int) (PurchaseOrders, error) {
	lo, hi := p.keys()
	const (
		placed   = `po.placed_date_key BETWEEN $1 AND $2`
		flagged  = `po.flagged_date_key BETWEEN $1 AND $2`
		received = `po.received_date_key BETWEEN $1 AND $2`
	)
	rows, err := db.QueryContext(ctx, db.Dialect().Rebind(`SELECT po.sku, COALESCE(p.name, ''),
			CAST(SUM(CASE WHEN `+placed+` THEN 1 ELSE 0 END) AS BIGINT),
			CAST(SUM(CASE WHEN `+flagged+` THEN 1 ELSE 0 END) AS BIGINT),
			CAST(SUM(CASE WHEN `+received+` THEN 1 ELSE 0 END) AS BIGINT),
			CAST(SUM(CASE WHEN po.placed_at IS NOT NULL AND po.received_at IS NULL THEN 1 ELSE 0 END) AS BIGINT),
			CAST(SUM(CASE WHEN `+placed+` THEN COALESCE(po.quantity, 0) ELSE 0 END) AS BIGINT),
			CAST(SUM(CASE WHEN `+received+` THEN COALESCE(po.received_quantity, 0) ELSE 0 END) AS BIGINT)
		FROM fact_purchase_order po LEFT JOIN dim_product p ON p.sku = po.sku
		WHERE `+placed+` OR `+flagged+` OR `+received+` OR (po.placed_at IS NOT NULL AND po.received_at IS NULL)
		GROUP BY po.sku, p.name ORDER BY po.sku`), lo, hi)
	out := PurchaseOrders{Rows: []PurchaseOrderRow{}}
	if err != nil {
		return out, fmt.Errorf("purchase orders: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r PurchaseOrderRow
		if err := rows.Scan(&r.SKU, &r.Name, &r.Placed, &r.Flagged, &r.Received, &r.Open, &r.UnitsOrdered, &r.UnitsReceived); err != nil {
			return out, fmt.Errorf("purchase orders: %w", err)
		}
		out.Placed += r.Placed
		out.Flagged += r.Flagged
		out.Received += r.Received
		out.Open += r.Open
		out.UnitsOrdered += r.UnitsOrdered
		out.UnitsReceived += r.UnitsReceived
		if len(out.Rows) < limit {
			out.Rows = append(out.Rows, r)
		}
	}
	return out, rows.Err()
}

// Watermark is how far the warehouse has got in one source stream: the
// events applied from it (each once) and the newest event time among them.
type Watermark struct {
	Stream        string    `json:"stream"`
	EventsApplied int64     `json:"events_applied"`
	LastEventAt   time.Time `json:"last_event_at"`
	LastEventID   string    `json:"last_event_id"`
	LastAppliedAt time.Time `json:"last_applied_at"`
}

func watermarks(ctx context.Context, db *sqldb.DB) ([]Watermark, error) {
	rows, err := db.QueryContext(ctx, `SELECT stream, events_applied, last_event_at, last_event_id, last_applied_at FROM watermarks ORDER BY stream`)
	if err != nil {
		return nil, fmt.Errorf("watermarks: %w", err)
	}
	defer rows.Close()
	out := []Watermark{}
	for rows.Next() {
		var w Watermark
		if err := rows.Scan(&w.Stream, &w.EventsApplied, sqldb.TimeCol{T: &w.LastEventAt}, &w.LastEventID, sqldb.TimeCol{T: &w.LastAppliedAt}); err != nil {
			return nil, fmt.Errorf("watermarks: %w", err)
		}
		out = append(out, w)
	}
	return out, rows.Err()
}
