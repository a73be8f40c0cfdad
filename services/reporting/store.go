package reporting

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/bounded-dev/bounded/platform/sqldb"
)

// Storage of times: timestamptz on PostgreSQL, INTEGER unix milliseconds
// on SQLite. Times from events are truncated to milliseconds so that both
// dialects give back what was stored.

// dbTime is t as a query argument: NULL when zero.
func dbTime(d sqldb.Dialect, t time.Time) any {
	switch {
	case t.IsZero():
		return nil
	case d == sqldb.SQLite:
		return t.UnixMilli()
	}
	return t.UTC().Truncate(time.Millisecond)
}

// timeCol scans a time column of either dialect; NULL scans as zero.
type timeCol struct{ t *time.Time }

func (c timeCol) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		*c.t = time.Time{}
	case time.Time:
		*c.t = v.UTC()
	case int64:
		*c.t = time.UnixMilli(v).UTC()
	default:
		return fmt.Errorf("time column: unexpected %T", v)
	}
	return nil
}

// now is the service's clock, at the precision both dialects store.
func now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

// dateKey is t's day in UTC as YYYYMMDD, the key of dim_date.
func dateKey(t time.Time) int {
	y, m, d := t.UTC().Date()
	return y*10000 + int(m)*100 + d
}

// nullable arguments: NULL for the zero value.
func nullStr(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullInt(n int64, known bool) any {
	if !known {
		return nil
	}
	return n
}

func nullKey(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return dateKey(t)
}

// exec runs a statement written with PostgreSQL's $n parameters on tx.
func exec(ctx context.Context, tx *sqldb.Tx, query string, args ...any) error {
	_, err := tx.ExecContext(ctx, rebind(tx.Dialect(), query), args...)
	return err
}

// rebound caches Rebind's rewrites: the statements are a few dozen
// constants, and rewriting one on every call showed in a rebuild's profile
// (9% of its CPU).
var rebound sync.Map // sqldb.Dialect + query → query for that dialect

func rebind(d sqldb.Dialect, query string) string {
	if d == sqldb.Postgres {
		return query
	}
	if q, ok := rebound.Load(query); ok {
		return q.(string)
	}
	q := d.Rebind(query)
	rebound.Store(query, q)
	return q
}

// --- dimensions

// ensureDate adds t's day to dim_date unless it is there.
func (s *reporting) ensureDate(ctx context.Context, tx *sqldb.Tx, t time.Time) error {
	key := dateKey(t)
	if _, ok := s.dates.Load(key); ok {
		return nil
	}
	u := t.UTC()
	_, week := u.ISOWeek()
	wd := int(u.Weekday())
	if wd == 0 {
		wd = 7
	}
	err := exec(ctx, tx, `INSERT INTO dim_date (date_key, day, year, month, day_of_month, iso_week, weekday)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
		key, u.Format(time.DateOnly), u.Year(), int(u.Month()), u.Day(), week, wd)
	if err != nil {
		return fmt.Errorf("date %d: %w", key, err)
	}
	// Remembered only once committed: a rolled-back insert is not there.
	tx.AfterCommit(func() { s.dates.Store(key, true) })
	return nil
}

// product is a product dimension row from catalog.product_updated.
type product struct {
	SKU, Name, Category, Currency string
	PriceCents, Version           int64
	Active                        bool
}

// upsertProduct stores p over an inferred row or an older version; an
// older or equal version than the one kept changes nothing.
func upsertProduct(ctx context.Context, tx *sqldb.Tx, p product) error {
	err := exec(ctx, tx, `INSERT INTO dim_product (sku, name, category, price_cents, currency, active, version, inferred)
		VALUES ($1, $2, $3, $4, $5, $6, $7, false)
		ON CONFLICT (sku) DO UPDATE SET name = excluded.name, category = excluded.category,
			price_cents = excluded.price_cents, currency = excluded.currency, active = excluded.active,
			version = excluded.version, inferred = false
		WHERE dim_product.inferred OR dim_product.version < excluded.version`,
		p.SKU, p.Name, nullStr(p.Category), p.PriceCents, p.Currency, p.Active, p.Version)
	if err != nil {
		return fmt.Errorf("product %s: %w", p.SKU, err)
	}
	if p.Category != "" {
		return inferCategory(ctx, tx, p.Category)
	}
	return nil
}

// inferProduct makes an inferred product row for sku, a product a fact
// names before Catalog's event about it has arrived (or one Catalog never
// announced). Its attributes stay NULL until the real event fills them.
func inferProduct(ctx context.Context, tx *sqldb.Tx, sku string) error {
	if err := exec(ctx, tx, `INSERT INTO dim_product (sku, inferred) VALUES ($1, true) ON CONFLICT DO NOTHING`, sku); err != nil {
		return fmt.Errorf("inferred product %s: %w", sku, err)
	}
	return nil
}

func upsertCategory(ctx context.Context, tx *sqldb.Tx, slug, name string, version int64) error {
	err := exec(ctx, tx, `INSERT INTO dim_category (slug, name, version, inferred) VALUES ($1, $2, $3, false)
		ON CONFLICT (slug) DO UPDATE SET name = excluded.name, version = excluded.version, inferred = false
		WHERE dim_category.inferred OR dim_category.version < excluded.version`, slug, name, version)
	if err != nil {
		return fmt.Errorf("category %s: %w", slug, err)
	}
	return nil
}

func inferCategory(ctx context.Context, tx *sqldb.Tx, slug string) error {
	if err := exec(ctx, tx, `INSERT INTO dim_category (slug, inferred) VALUES ($1, true) ON CONFLICT DO NOTHING`, slug); err != nil {
		return fmt.Errorf("inferred category %s: %w", slug, err)
	}
	return nil
}

// --- facts

// orderFacts is what one event tells of an order; zero fields are not
// known from it. Upserting keeps what other events told (COALESCE), so the
// order of arrival does not matter, and the same fact twice changes
// nothing.
type orderFacts struct {
	OrderID, CustomerEmail, Currency string
	TotalCents                       int64
	HasTotal                         bool
	Confirmed, Paid, Reserved        time.Time
	Shipped, Cancelled               time.Time
	CancelReason, CancelPrevious     string
}

func upsertFactOrder(ctx context.Context, tx *sqldb.Tx, f orderFacts) error {
	d := tx.Dialect()
	err := exec(ctx, tx, `INSERT INTO fact_order (order_id, customer_email, total_cents, currency,
			confirmed_at, confirmed_date_key, paid_at, reserved_at, shipped_at,
			cancelled_at, cancelled_date_key, cancel_reason, cancel_previous)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
		ON CONFLICT (order_id) DO UPDATE SET
			customer_email = COALESCE(excluded.customer_email, fact_order.customer_email),
			total_cents = COALESCE(excluded.total_cents, fact_order.total_cents),
			currency = COALESCE(excluded.currency, fact_order.currency),
			confirmed_at = COALESCE(excluded.confirmed_at, fact_order.confirmed_at),
			confirmed_date_key = COALESCE(excluded.confirmed_date_key, fact_order.confirmed_date_key),
			paid_at = COALESCE(excluded.paid_at, fact_order.paid_at),
			reserved_at = COALESCE(excluded.reserved_at, fact_order.reserved_at),
			shipped_at = COALESCE(excluded.shipped_at, fact_order.shipped_at),
			cancelled_at = COALESCE(excluded.cancelled_at, fact_order.cancelled_at),
			cancelled_date_key = COALESCE(excluded.cancelled_date_key, fact_order.cancelled_date_key),
			cancel_reason = COALESCE(excluded.cancel_reason, fact_order.cancel_reason),
			cancel_previous = COALESCE(excluded.cancel_previous, fact_order.cancel_previous)`,
		f.OrderID, nullStr(f.CustomerEmail), nullInt(f.TotalCents, f.HasTotal), nullStr(f.Currency),
		dbTime(d, f.Confirmed), nullKey(f.Confirmed), dbTime(d, f.Paid), dbTime(d, f.Reserved), dbTime(d, f.Shipped),
		dbTime(d, f.Cancelled), nullKey(f.Cancelled), nullStr(f.CancelReason), nullStr(f.CancelPrevious))
	if err != nil {
		return fmt.Errorf("order %s: %w", f.OrderID, err)
	}
	return nil
}

type orderLine struct {
	LineNo              int
	SKU, Name, Currency string
	Quantity, UnitPrice int64
	ConfirmedAt         time.Time
}

func insertOrderLine(ctx context.Context, tx *sqldb.Tx, orderID string, l orderLine) error {
	err := exec(ctx, tx, `INSERT INTO fact_order_line (order_id, line_no, sku, product_name, quantity, unit_price_cents,
			amount_cents, currency, confirmed_at, date_key)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING`,
		orderID, l.LineNo, l.SKU, l.Name, l.Quantity, l.UnitPrice, l.Quantity*l.UnitPrice, l.Currency,
		dbTime(tx.Dialect(), l.ConfirmedAt), dateKey(l.ConfirmedAt))
	if err != nil {
		return fmt.Errorf("order %s line %d: %w", orderID, l.LineNo, err)
	}
	return nil
}

type checkout struct {
	CartID, OrderID, CustomerEmail, Currency string
	Units, ValueCents                        int64
	At                                       time.Time
}

func insertCheckout(ctx context.Context, tx *sqldb.Tx, c checkout) error {
	err := exec(ctx, tx, `INSERT INTO fact_checkout (cart_id, order_id, customer_email, units, value_cents, currency, checked_out_at, date_key)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
		c.CartID, c.OrderID, c.CustomerEmail, c.Units, c.ValueCents, c.Currency, dbTime(tx.Dialect(), c.At), dateKey(c.At))
	if err != nil {
		return fmt.Errorf("checkout of cart %s: %w", c.CartID, err)
	}
	return nil
}

type payment struct {
	PaymentID, Outcome, OrderID, Currency, Reason string
	AmountCents                                   int64
	Attempts                                      int
	At                                            time.Time
}

func insertPayment(ctx context.Context, tx *sqldb.Tx, p payment) error {
	var attempts any
	if p.Attempts > 0 {
		attempts = p.Attempts
	}
	err := exec(ctx, tx, `INSERT INTO fact_payment (payment_id, outcome, order_id, amount_cents, currency, reason, attempts, at, date_key)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING`,
		p.PaymentID, p.Outcome, p.OrderID, p.AmountCents, p.Currency, nullStr(p.Reason), attempts, dbTime(tx.Dialect(), p.At), dateKey(p.At))
	if err != nil {
		return fmt.Errorf("payment %s %s: %w", p.PaymentID, p.Outcome, err)
	}
	return nil
}

type refund struct {
	RefundID, PaymentID, OrderID, Currency, Reason string
	AmountCents                                    int64
	At                                             time.Time
}

func insertRefund(ctx context.Context, tx *sqldb.Tx, r refund) error {
	err := exec(ctx, tx, `INSERT INTO fact_refund (refund_id, payment_id, order_id, amount_cents, currency, reason, refunded_at, date_key)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
		r.RefundID, r.PaymentID, r.OrderID, r.AmountCents, r.Currency, nullStr(r.Reason), dbTime(tx.Dialect(), r.At), dateKey(r.At))
	if err != nil {
		return fmt.Errorf("refund %s: %w", r.RefundID, err)
	}
	return nil
}

type reservation struct {
	OrderID, Outcome, ReservationID, Reason string
	Units                                   int64
	At                                      time.Time
}

func insertReservation(ctx context.Context, tx *sqldb.Tx, r reservation) error {
	err := exec(ctx, tx, `INSERT INTO fact_reservation (order_id, outcome, reservation_id, reason, units, at, date_key)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
		r.OrderID, r.Outcome, nullStr(r.ReservationID), nullStr(r.Reason), r.Units, dbTime(tx.Dialect(), r.At), dateKey(r.At))
	if err != nil {
		return fmt.Errorf("reservation of order %s %s: %w", r.OrderID, r.Outcome, err)
	}
	return nil
}

type stockout struct {
	OrderID, SKU, Reason string
	Requested, Available int64
	At                   time.Time
}

func insertStockout(ctx context.Context, tx *sqldb.Tx, so stockout) error {
	err := exec(ctx, tx, `INSERT INTO fact_stockout (order_id, sku, reason, requested, available, failed_at, date_key)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
		so.OrderID, so.SKU, so.Reason, so.Requested, so.Available, dbTime(tx.Dialect(), so.At), dateKey(so.At))
	if err != nil {
		return fmt.Errorf("stock-out of order %s %s: %w", so.OrderID, so.SKU, err)
	}
	return nil
}

// shipmentFacts is what one event tells of a shipment (see orderFacts).
type shipmentFacts struct {
	ShipmentID, OrderID, Package string
	Units                        int64
	Created, Dispatched          time.Time
}

func upsertShipment(ctx context.Context, tx *sqldb.Tx, f shipmentFacts) error {
	d := tx.Dialect()
	err := exec(ctx, tx, `INSERT INTO fact_shipment (shipment_id, order_id, package, units, created_at, created_date_key,
			dispatched_at, dispatched_date_key)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (shipment_id) DO UPDATE SET
			package = COALESCE(excluded.package, fact_shipment.package),
			units = COALESCE(excluded.units, fact_shipment.units),
			created_at = COALESCE(excluded.created_at, fact_shipment.created_at),
			created_date_key = COALESCE(excluded.created_date_key, fact_shipment.created_date_key),
			dispatched_at = COALESCE(excluded.dispatched_at, fact_shipment.dispatched_at),
			dispatched_date_key = COALESCE(excluded.dispatched_date_key, fact_shipment.dispatched_date_key)`,
		f.ShipmentID, f.OrderID, nullStr(f.Package), f.Units, dbTime(d, f.Created), nullKey(f.Created),
		dbTime(d, f.Dispatched), nullKey(f.Dispatched))
	if err != nil {
		return fmt.Errorf("shipment %s: %w", f.ShipmentID, err)
	}
	return nil
}

type stockMovement struct {
	SKU, Reason, Ref                             string
	DeltaOnHand, DeltaReserved, OnHand, Reserved int64
	At                                           time.Time
}

// key is the movement's natural key: SKU, reason and reference (an order,
// a purchase order); a movement without a reference (a manual adjustment)
// is told apart by its time and the stock it left.
func (m stockMovement) key() string {
	if m.Ref != "" {
		return m.SKU + "|" + m.Reason + "|" + m.Ref
	}
	return fmt.Sprintf("%s|%s|@%d|%d|%d", m.SKU, m.Reason, m.At.UnixMilli(), m.OnHand, m.Reserved)
}

func insertStockMovement(ctx context.Context, tx *sqldb.Tx, m stockMovement) error {
	err := exec(ctx, tx, `INSERT INTO fact_stock_movement (movement_key, sku, reason, ref, delta_on_hand, delta_reserved,
			on_hand, reserved, changed_at, date_key)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING`,
		m.key(), m.SKU, m.Reason, nullStr(m.Ref), m.DeltaOnHand, m.DeltaReserved, m.OnHand, m.Reserved,
		dbTime(tx.Dialect(), m.At), dateKey(m.At))
	if err != nil {
		return fmt.Errorf("stock movement %s: %w", m.key(), err)
	}
	return nil
}

// purchaseOrderFacts is what one event tells of a purchase order (see
// orderFacts).
type purchaseOrderFacts struct {
	ID, SKU, Missing            string
	Quantity, Received          int64
	HasQuantity, HasReceived    bool
	Placed, Flagged, ReceivedAt time.Time
}

func upsertPurchaseOrder(ctx context.Context, tx *sqldb.Tx, f purchaseOrderFacts) error {
	d := tx.Dialect()
	err := exec(ctx, tx, `INSERT INTO fact_purchase_order (purchase_order_id, sku, quantity, placed_at, placed_date_key,
			flagged_at, flagged_date_key, missing, received_at, received_date_key, received_quantity)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT (purchase_order_id) DO UPDATE SET
			quantity = COALESCE(excluded.quantity, fact_purchase_order.quantity),
			placed_at = COALESCE(excluded.placed_at, fact_purchase_order.placed_at),
			placed_date_key = COALESCE(excluded.placed_date_key, fact_purchase_order.placed_date_key),
			flagged_at = COALESCE(excluded.flagged_at, fact_purchase_order.flagged_at),
			flagged_date_key = COALESCE(excluded.flagged_date_key, fact_purchase_order.flagged_date_key),
			missing = COALESCE(excluded.missing, fact_purchase_order.missing),
			received_at = COALESCE(excluded.received_at, fact_purchase_order.received_at),
			received_date_key = COALESCE(excluded.received_date_key, fact_purchase_order.received_date_key),
			received_quantity = COALESCE(excluded.received_quantity, fact_purchase_order.received_quantity)`,
		f.ID, f.SKU, nullInt(f.Quantity, f.HasQuantity), dbTime(d, f.Placed), nullKey(f.Placed),
		dbTime(d, f.Flagged), nullKey(f.Flagged), nullStr(f.Missing),
		dbTime(d, f.ReceivedAt), nullKey(f.ReceivedAt), nullInt(f.Received, f.HasReceived))
	if err != nil {
		return fmt.Errorf("purchase order %s: %w", f.ID, err)
	}
	return nil
}

// advanceWatermark counts one event of stream as applied and keeps the
// newest event time seen. It is the first write of every handler (and of
// every batch, see prepareBatch), so that the transactions of one
// consumer take the stream's row before anything else and cannot
// deadlock each other.
func advanceWatermark(ctx context.Context, tx *sqldb.Tx, stream, eventID string, eventAt, appliedAt time.Time) error {
	d := tx.Dialect()
	err := exec(ctx, tx, `INSERT INTO watermarks (stream, events_applied, last_event_at, last_event_id, last_applied_at)
		VALUES ($1, 1, $2, $3, $4)
		ON CONFLICT (stream) DO UPDATE SET
			events_applied = watermarks.events_applied + 1,
			last_event_id = CASE WHEN excluded.last_event_at >= watermarks.last_event_at THEN excluded.last_event_id ELSE watermarks.last_event_id END,
			last_event_at = CASE WHEN excluded.last_event_at >= watermarks.last_event_at THEN excluded.last_event_at ELSE watermarks.last_event_at END,
			last_applied_at = excluded.last_applied_at`,
		stream, dbTime(d, eventAt), eventID, dbTime(d, appliedAt))
	if err != nil {
		return fmt.Errorf("watermark of %s: %w", stream, err)
	}
	return nil
}

// --- the order-history read model

// historyFacts is what one event tells of an order for its customer's
// history (see orderFacts); Items is the lines' JSON.
type historyFacts struct {
	OrderID, CustomerEmail, Currency, Items, CancelReason string
	TotalCents                                            int64
	HasTotal                                              bool
	Confirmed, Paid, Reserved, Shipped, Cancelled         time.Time
}

// upsertHistory applies f to the order's read-model row and stamps it with
// the event's creation time and the time it is applied.
func upsertHistory(ctx context.Context, tx *sqldb.Tx, f historyFacts, eventAt, appliedAt time.Time) error {
	d := tx.Dialect()
	err := exec(ctx, tx, `INSERT INTO order_history (order_id, customer_email, total_cents, currency, items,
			confirmed_at, paid_at, reserved_at, shipped_at, cancelled_at, cancel_reason, last_event_at, applied_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
		ON CONFLICT (order_id) DO UPDATE SET
			customer_email = COALESCE(excluded.customer_email, order_history.customer_email),
			total_cents = COALESCE(excluded.total_cents, order_history.total_cents),
			currency = COALESCE(excluded.currency, order_history.currency),
			items = COALESCE(excluded.items, order_history.items),
			confirmed_at = COALESCE(excluded.confirmed_at, order_history.confirmed_at),
			paid_at = COALESCE(excluded.paid_at, order_history.paid_at),
			reserved_at = COALESCE(excluded.reserved_at, order_history.reserved_at),
			shipped_at = COALESCE(excluded.shipped_at, order_history.shipped_at),
			cancelled_at = COALESCE(excluded.cancelled_at, order_history.cancelled_at),
			cancel_reason = COALESCE(excluded.cancel_reason, order_history.cancel_reason),
			last_event_at = excluded.last_event_at,
			applied_at = excluded.applied_at`,
		f.OrderID, nullStr(f.CustomerEmail), nullInt(f.TotalCents, f.HasTotal), nullStr(f.Currency), nullStr(f.Items),
		dbTime(d, f.Confirmed), dbTime(d, f.Paid), dbTime(d, f.Reserved), dbTime(d, f.Shipped), dbTime(d, f.Cancelled),
		nullStr(f.CancelReason), dbTime(d, eventAt), dbTime(d, appliedAt))
	if err != nil {
		return fmt.Errorf("order history %s: %w", f.OrderID, err)
	}
	return nil
}

// historyEntry is one fact on an order's timeline. Its key (kind and ref)
// makes the same fact under a second event id one entry.
type historyEntry struct {
	OrderID, Kind, Ref, Detail string
	At                         time.Time
	AmountCents                int64
	HasAmount                  bool
}

func insertHistoryEntry(ctx context.Context, tx *sqldb.Tx, h historyEntry, eventAt, appliedAt time.Time) error {
	d := tx.Dialect()
	key := h.Kind
	if h.Ref != "" {
		key += ":" + h.Ref
	}
	err := exec(ctx, tx, `INSERT INTO order_history_entries (order_id, entry_key, kind, ref, at, amount_cents, detail, event_at, applied_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING`,
		h.OrderID, key, h.Kind, nullStr(h.Ref), dbTime(d, h.At), nullInt(h.AmountCents, h.HasAmount), nullStr(h.Detail),
		dbTime(d, eventAt), dbTime(d, appliedAt))
	if err != nil {
		return fmt.Errorf("order history %s entry %s: %w", h.OrderID, key, err)
	}
	return nil
}
