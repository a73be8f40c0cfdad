package reporting

import (
	"context"
	"fmt"
	"maps"
	"slices"
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
	err := write(ctx, tx, writeDate, key, u.Format(time.DateOnly), u.Year(), int(u.Month()), u.Day(), week, wd)
	if err != nil {
		return fmt.Errorf("date %d: %w", key, err)
	}
	// Remembered only once committed: a rolled-back insert is not there.
	if b, ok := ctx.Value(bufferKey{}).(*writeBuffer); ok {
		b.dates = append(b.dates, key)
		return nil
	}
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
	err := write(ctx, tx, writeProduct, p.SKU, p.Name, nullStr(p.Category), p.PriceCents, p.Currency, p.Active, p.Version, false)
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
	if err := write(ctx, tx, writeProductInferred, sku, true); err != nil {
		return fmt.Errorf("inferred product %s: %w", sku, err)
	}
	return nil
}

func upsertCategory(ctx context.Context, tx *sqldb.Tx, slug, name string, version int64) error {
	err := write(ctx, tx, writeCategory, slug, name, version, false)
	if err != nil {
		return fmt.Errorf("category %s: %w", slug, err)
	}
	return nil
}

func inferCategory(ctx context.Context, tx *sqldb.Tx, slug string) error {
	if err := write(ctx, tx, writeCategoryInferred, slug, true); err != nil {
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
	d := dialectOf(ctx, tx)
	err := write(ctx, tx, writeFactOrder,
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
	err := write(ctx, tx, writeOrderLine,
		orderID, l.LineNo, l.SKU, l.Name, l.Quantity, l.UnitPrice, l.Quantity*l.UnitPrice, l.Currency,
		dbTime(dialectOf(ctx, tx), l.ConfirmedAt), dateKey(l.ConfirmedAt))
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
	err := write(ctx, tx, writeCheckout,
		c.CartID, c.OrderID, c.CustomerEmail, c.Units, c.ValueCents, c.Currency, dbTime(dialectOf(ctx, tx), c.At), dateKey(c.At))
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
	err := write(ctx, tx, writePayment,
		p.PaymentID, p.Outcome, p.OrderID, p.AmountCents, p.Currency, nullStr(p.Reason), attempts, dbTime(dialectOf(ctx, tx), p.At), dateKey(p.At))
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
	err := write(ctx, tx, writeRefund,
		r.RefundID, r.PaymentID, r.OrderID, r.AmountCents, r.Currency, nullStr(r.Reason), dbTime(dialectOf(ctx, tx), r.At), dateKey(r.At))
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
	err := write(ctx, tx, writeReservation,
		r.OrderID, r.Outcome, nullStr(r.ReservationID), nullStr(r.Reason), r.Units, dbTime(dialectOf(ctx, tx), r.At), dateKey(r.At))
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
	err := write(ctx, tx, writeStockout,
		so.OrderID, so.SKU, so.Reason, so.Requested, so.Available, dbTime(dialectOf(ctx, tx), so.At), dateKey(so.At))
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
	d := dialectOf(ctx, tx)
	err := write(ctx, tx, writeShipment,
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
	err := write(ctx, tx, writeStockMovement,
		m.key(), m.SKU, m.Reason, nullStr(m.Ref), m.DeltaOnHand, m.DeltaReserved, m.OnHand, m.Reserved,
		dbTime(dialectOf(ctx, tx), m.At), dateKey(m.At))
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
	d := dialectOf(ctx, tx)
	err := write(ctx, tx, writePurchaseOrder,
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
	d := dialectOf(ctx, tx)
	if b, ok := ctx.Value(bufferKey{}).(*writeBuffer); ok {
		b.addWatermark(stream, eventID, eventAt, appliedAt)
		return nil
	}
	// Live, a transaction's advances are gathered and written once per
	// stream just before it commits (see liveWatermarks).
	v, err := tx.Memo(watermarksKey{}, func() (any, error) {
		w := &liveWatermarks{rows: map[string]*watermarkRow{}}
		tx.BeforeCommit(func(ctx context.Context) error { return w.write(ctx, tx, d) })
		return w, nil
	})
	if err != nil {
		return err
	}
	w := v.(*liveWatermarks)
	if row, ok := w.rows[stream]; ok {
		mergeWatermark(row, eventID, eventAt, appliedAt)
	} else {
		w.rows[stream] = &watermarkRow{events: 1, eventAt: eventAt, eventID: eventID, applied: appliedAt}
	}
	return nil
}

// watermarksKey memoizes a transaction's liveWatermarks.
type watermarksKey struct{}

// liveWatermarks are the watermark advances of the events one live
// transaction applies (a consumer's batch), merged per stream by the rule
// the statement applies (mergeWatermark) and written once per stream
// before the commit, in stream order. Written last, the watermark rows are
// locked only for the end of the transaction, in one order, so batches
// that share a stream apply their events side by side and meet only
// there; a transaction that rolls back writes none.
type liveWatermarks struct {
	rows map[string]*watermarkRow
}

func (w *liveWatermarks) write(ctx context.Context, tx *sqldb.Tx, d sqldb.Dialect) error {
	for _, stream := range slices.Sorted(maps.Keys(w.rows)) {
		r := w.rows[stream]
		if _, err := tx.ExecContext(ctx, writeWatermark.statement(d, 1),
			stream, r.events, dbTime(d, r.eventAt), r.eventID, dbTime(d, r.applied)); err != nil {
			return fmt.Errorf("watermark of %s: %w", stream, err)
		}
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
	d := dialectOf(ctx, tx)
	err := write(ctx, tx, writeHistory,
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
	d := dialectOf(ctx, tx)
	key := h.Kind
	if h.Ref != "" {
		key += ":" + h.Ref
	}
	err := write(ctx, tx, writeHistoryEntry,
		h.OrderID, key, h.Kind, nullStr(h.Ref), dbTime(d, h.At), nullInt(h.AmountCents, h.HasAmount), nullStr(h.Detail),
		dbTime(d, eventAt), dbTime(d, appliedAt))
	if err != nil {
		return fmt.Errorf("order history %s entry %s: %w", h.OrderID, key, err)
	}
	return nil
}
