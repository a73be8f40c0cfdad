package inventory

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/bounded-dev/bounded/platform/sqldb"
)

// querier is what both a transaction (*sqldb.Tx) and the read pool
// (*sql.DB) offer; reads take one, writes take a *sqldb.Tx.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

type scanner interface{ Scan(dest ...any) error }

// store is Inventory's SQL, written once for both dialects ($N parameters,
// rebound for SQLite). Times are timestamptz on PostgreSQL and INTEGER unix
// milliseconds on SQLite; every time is truncated to the millisecond so both
// read back the same.
type store struct{ d sqldb.Dialect }

func (st store) q(query string) string { return st.d.Rebind(query) }

// forUpdate locks the rows a SELECT reads on PostgreSQL. SQLite needs no
// row locks: its one writer connection serialises every transaction.
func (st store) forUpdate() string {
	if st.d == sqldb.Postgres {
		return " FOR UPDATE"
	}
	return ""
}

// at converts t into the dialect's time parameter.
func (st store) at(t time.Time) any {
	if st.d == sqldb.SQLite {
		return t.UnixMilli()
	}
	return t.UTC()
}

// dbTime scans either dialect's time column; Valid is false for NULL.
type dbTime struct {
	T     time.Time
	Valid bool
}

func (t *dbTime) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		*t = dbTime{}
	case time.Time:
		*t = dbTime{T: x.UTC(), Valid: true}
	case int64:
		*t = dbTime{T: time.UnixMilli(x).UTC(), Valid: true}
	default:
		return fmt.Errorf("scan time: unexpected %T", v)
	}
	return nil
}

func (t dbTime) ptr() *time.Time {
	if !t.Valid {
		return nil
	}
	v := t.T
	return &v
}

// placeholders returns "$from, $from+1, ..." for n parameters.
func placeholders(from, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("$" + strconv.Itoa(from+i))
	}
	return b.String()
}

// --- products

// upsertProduct stores p unless the copy holds the same or a newer version;
// it reports whether p was stored.
func (st store) upsertProduct(ctx context.Context, tx *sqldb.Tx, p Product, now time.Time) (bool, error) {
	res, err := tx.ExecContext(ctx, st.q(`INSERT INTO products (sku, name, description, active, version, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (sku) DO UPDATE SET name = excluded.name, description = excluded.description,
			active = excluded.active, version = excluded.version, updated_at = excluded.updated_at
		WHERE products.version < excluded.version`),
		p.SKU, p.Name, p.Description, p.Active, p.Version, st.at(now))
	if err != nil {
		return false, fmt.Errorf("store product %s: %w", p.SKU, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store product %s: %w", p.SKU, err)
	}
	return n == 1, nil
}

// --- stock

const stockCols = `sku, on_hand, reserved, reorder_point, reorder_quantity, updated_at`

func scanStock(r scanner) (StockItem, error) {
	var s StockItem
	var at dbTime
	err := r.Scan(&s.SKU, &s.OnHand, &s.Reserved, &s.ReorderPoint, &s.ReorderQuantity, &at)
	s.UpdatedAt = at.T
	return s, err
}

// lockStock reads the stock items of skus (sorted), locking them for the
// rest of the transaction in SKU order. SKUs without a stock item are
// absent from the result.
func (st store) lockStock(ctx context.Context, tx *sqldb.Tx, skus []string) (map[string]StockItem, error) {
	args := make([]any, len(skus))
	for i, s := range skus {
		args[i] = s
	}
	rows, err := tx.QueryContext(ctx, st.q(`SELECT `+stockCols+` FROM stock_items WHERE sku IN (`+
		placeholders(1, len(skus))+`) ORDER BY sku`+st.forUpdate()), args...)
	if err != nil {
		return nil, fmt.Errorf("lock stock: %w", err)
	}
	defer rows.Close()
	out := make(map[string]StockItem, len(skus))
	for rows.Next() {
		s, err := scanStock(rows)
		if err != nil {
			return nil, fmt.Errorf("lock stock: %w", err)
		}
		out[s.SKU] = s
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("lock stock: %w", err)
	}
	return out, nil
}

// moveStock adds dOnHand and dReserved to sku's stock, in one conditional
// statement: it changes nothing and reports false when sku has no stock
// item or the move would break 0 <= reserved <= on_hand.
func (st store) moveStock(ctx context.Context, tx *sqldb.Tx, sku string, dOnHand, dReserved int64, now time.Time) (StockItem, bool, error) {
	s, err := scanStock(tx.QueryRowContext(ctx, st.q(`UPDATE stock_items
		SET on_hand = on_hand + $2, reserved = reserved + $3, updated_at = $4
		WHERE sku = $1 AND on_hand + $2 >= 0 AND reserved + $3 >= 0 AND reserved + $3 <= on_hand + $2
		RETURNING `+stockCols), sku, dOnHand, dReserved, st.at(now)))
	if errors.Is(err, sql.ErrNoRows) {
		return StockItem{}, false, nil
	}
	if err != nil {
		return StockItem{}, false, fmt.Errorf("move stock %s: %w", sku, err)
	}
	return s, true, nil
}

// errBelowReserved refuses an on_hand below what is reserved.
type errBelowReserved struct {
	sku              string
	onHand, reserved int64
}

func (e errBelowReserved) Error() string {
	return fmt.Sprintf("on_hand %d for %s is below the %d units reserved for orders; release or ship them first, or set on_hand to at least %d",
		e.onHand, e.sku, e.reserved, e.reserved)
}

// errConcurrent is a write that lost a race it can win when tried again.
var errConcurrent = errors.New("the stock item changed concurrently; try again")

// setStock creates or sets sku's stock to s. It returns the item before
// (nil when it was created) and after; errBelowReserved when s.OnHand is
// below the reserved units.
func (st store) setStock(ctx context.Context, tx *sqldb.Tx, sku string, s StockSettings, now time.Time) (*StockItem, StockItem, error) {
	old, err := st.lockStock(ctx, tx, []string{sku})
	if err != nil {
		return nil, StockItem{}, err
	}
	if before, ok := old[sku]; ok {
		if s.OnHand < before.Reserved {
			return nil, StockItem{}, errBelowReserved{sku, s.OnHand, before.Reserved}
		}
		after, err := scanStock(tx.QueryRowContext(ctx, st.q(`UPDATE stock_items
			SET on_hand = $2, reorder_point = $3, reorder_quantity = $4, updated_at = $5
			WHERE sku = $1 AND reserved <= $2
			RETURNING `+stockCols), sku, s.OnHand, s.ReorderPoint, s.ReorderQuantity, st.at(now)))
		if errors.Is(err, sql.ErrNoRows) {
			return nil, StockItem{}, errConcurrent
		}
		if err != nil {
			return nil, StockItem{}, fmt.Errorf("set stock %s: %w", sku, err)
		}
		return &before, after, nil
	}
	after, err := scanStock(tx.QueryRowContext(ctx, st.q(`INSERT INTO stock_items (sku, on_hand, reserved, reorder_point, reorder_quantity, updated_at)
		VALUES ($1, $2, 0, $3, $4, $5) ON CONFLICT (sku) DO NOTHING
		RETURNING `+stockCols), sku, s.OnHand, s.ReorderPoint, s.ReorderQuantity, st.at(now)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, StockItem{}, errConcurrent
	}
	if err != nil {
		return nil, StockItem{}, fmt.Errorf("create stock %s: %w", sku, err)
	}
	return nil, after, nil
}

// stockView is a stock item with Inventory's copy of its product (nil when
// no product event has arrived for the SKU).
type stockView struct {
	StockItem
	Product *Product
}

const stockViewSQL = `SELECT s.sku, s.on_hand, s.reserved, s.reorder_point, s.reorder_quantity, s.updated_at,
	p.name, p.description, p.active, p.version
	FROM stock_items s LEFT JOIN products p ON p.sku = s.sku`

func scanStockView(r scanner) (stockView, error) {
	var v stockView
	var at dbTime
	var name, desc sql.NullString
	var active sql.NullBool
	var version sql.NullInt64
	if err := r.Scan(&v.SKU, &v.OnHand, &v.Reserved, &v.ReorderPoint, &v.ReorderQuantity, &at,
		&name, &desc, &active, &version); err != nil {
		return v, err
	}
	v.UpdatedAt = at.T
	if version.Valid {
		v.Product = &Product{SKU: v.SKU, Name: name.String, Description: desc.String, Active: active.Bool, Version: version.Int64}
	}
	return v, nil
}

func (st store) stockView(ctx context.Context, q querier, sku string) (stockView, bool, error) {
	v, err := scanStockView(q.QueryRowContext(ctx, st.q(stockViewSQL+` WHERE s.sku = $1`), sku))
	if errors.Is(err, sql.ErrNoRows) {
		return v, false, nil
	}
	if err != nil {
		return v, false, fmt.Errorf("read stock %s: %w", sku, err)
	}
	return v, true, nil
}

// listStock returns up to limit stock items with a SKU after after, by SKU.
func (st store) listStock(ctx context.Context, q querier, after string, limit int) ([]stockView, error) {
	rows, err := q.QueryContext(ctx, st.q(stockViewSQL+` WHERE s.sku > $1 ORDER BY s.sku LIMIT $2`), after, limit)
	if err != nil {
		return nil, fmt.Errorf("list stock: %w", err)
	}
	defer rows.Close()
	var out []stockView
	for rows.Next() {
		v, err := scanStockView(rows)
		if err != nil {
			return nil, fmt.Errorf("list stock: %w", err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// --- reservations

// orderLockSpace is the first key of the two-key advisory locks lockOrder
// takes, apart from the outbox's (which locks per event subject).
const orderLockSpace = 0x696e

// lockOrder makes the transactions that apply events of one order take
// turns, on PostgreSQL, until tx ends. Replicas share the orders stream's
// messages, so one order's order_confirmed and order_cancelled may be
// applied at once by two of them, each blind to what the other has not
// committed: the cancellation would find no reservation to release, the
// confirmation would then reserve stock that nothing ever releases. (A
// duplicate order_confirmed could likewise be reserved by one and failed by
// the other.) After the lock, each sees what the other committed. SQLite
// runs one write transaction at a time.
func (st store) lockOrder(ctx context.Context, tx *sqldb.Tx, orderID string) error {
	if st.d != sqldb.Postgres {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(`+strconv.Itoa(orderLockSpace)+`, hashtext($1))`, orderID); err != nil {
		return fmt.Errorf("lock order %s: %w", orderID, err)
	}
	return nil
}

// orderSeen reports whether order's reservation was attempted already
// (reserved, released, consumed or failed), or the order was cancelled
// before that (insertCancellation).
func (st store) orderSeen(ctx context.Context, tx *sqldb.Tx, orderID string) (bool, error) {
	var seen bool
	err := tx.QueryRowContext(ctx, st.q(`SELECT EXISTS (SELECT 1 FROM reservations WHERE order_id = $1)
		OR EXISTS (SELECT 1 FROM reservation_failures WHERE order_id = $1)
		OR EXISTS (SELECT 1 FROM order_cancellations WHERE order_id = $1)`), orderID).Scan(&seen)
	if err != nil {
		return false, fmt.Errorf("look up order %s: %w", orderID, err)
	}
	return seen, nil
}

// insertCancellation remembers that order was cancelled before Inventory
// saw it confirmed, so that its order_confirmed, if it comes, reserves
// nothing.
func (st store) insertCancellation(ctx context.Context, tx *sqldb.Tx, orderID, reason string, now time.Time) error {
	if _, err := tx.ExecContext(ctx, st.q(`INSERT INTO order_cancellations (order_id, reason, cancelled_at) VALUES ($1, $2, $3)
		ON CONFLICT (order_id) DO NOTHING`), orderID, reason, st.at(now)); err != nil {
		return fmt.Errorf("store cancellation of order %s: %w", orderID, err)
	}
	return nil
}

// insertReservation stores a new reservation with its lines (two statements).
func (st store) insertReservation(ctx context.Context, tx *sqldb.Tx, r Reservation) error {
	if _, err := tx.ExecContext(ctx, st.q(`INSERT INTO reservations (id, order_id, status, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $4)`), r.ID, r.OrderID, string(r.Status), st.at(r.CreatedAt)); err != nil {
		return fmt.Errorf("store reservation of order %s: %w", r.OrderID, err)
	}
	args := []any{r.ID}
	values := make([]string, len(r.Lines))
	for i, l := range r.Lines {
		values[i] = fmt.Sprintf("($1, $%d, $%d)", len(args)+1, len(args)+2)
		args = append(args, l.SKU, l.Quantity)
	}
	if _, err := tx.ExecContext(ctx, st.q(`INSERT INTO reservation_lines (reservation_id, sku, quantity) VALUES `+
		strings.Join(values, ", ")), args...); err != nil {
		return fmt.Errorf("store reservation lines of order %s: %w", r.OrderID, err)
	}
	return nil
}

func (st store) insertFailure(ctx context.Context, tx *sqldb.Tx, f ReservationFailure) error {
	shortages, err := json.Marshal(f.Shortages)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, st.q(`INSERT INTO reservation_failures (order_id, reason, shortages, failed_at)
		VALUES ($1, $2, $3, $4)`), f.OrderID, f.Reason, string(shortages), st.at(f.FailedAt)); err != nil {
		return fmt.Errorf("store failed reservation of order %s: %w", f.OrderID, err)
	}
	return nil
}

// endReservation moves order's reservation from reserved to status to
// (released or consumed), recording the shipment or the release reason.
// It returns the reservation with its lines, or false when the order has
// no reserved reservation.
func (st store) endReservation(ctx context.Context, tx *sqldb.Tx, orderID string, to ReservationStatus, shipmentID, reason string, now time.Time) (Reservation, bool, error) {
	r := Reservation{OrderID: orderID, Status: to, ShipmentID: shipmentID, ReleaseReason: reason, UpdatedAt: now}
	var created dbTime
	err := tx.QueryRowContext(ctx, st.q(`UPDATE reservations SET status = $2, shipment_id = $3, release_reason = $4, updated_at = $5
		WHERE order_id = $1 AND status = 'reserved' RETURNING id, created_at`),
		orderID, string(to), shipmentID, reason, st.at(now)).Scan(&r.ID, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return r, false, nil
	}
	if err != nil {
		return r, false, fmt.Errorf("end reservation of order %s: %w", orderID, err)
	}
	r.CreatedAt = created.T
	if r.Lines, err = st.lines(ctx, tx, r.ID); err != nil {
		return r, false, err
	}
	return r, true, nil
}

func (st store) lines(ctx context.Context, q querier, reservationID string) ([]Line, error) {
	rows, err := q.QueryContext(ctx, st.q(`SELECT sku, quantity FROM reservation_lines WHERE reservation_id = $1 ORDER BY sku`), reservationID)
	if err != nil {
		return nil, fmt.Errorf("read reservation lines: %w", err)
	}
	defer rows.Close()
	var out []Line
	for rows.Next() {
		var l Line
		if err := rows.Scan(&l.SKU, &l.Quantity); err != nil {
			return nil, fmt.Errorf("read reservation lines: %w", err)
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// reservation returns order's reservation, or nil.
func (st store) reservation(ctx context.Context, q querier, orderID string) (*Reservation, error) {
	r := Reservation{OrderID: orderID}
	var status string
	var created, updated dbTime
	err := q.QueryRowContext(ctx, st.q(`SELECT id, status, shipment_id, release_reason, created_at, updated_at
		FROM reservations WHERE order_id = $1`), orderID).Scan(&r.ID, &status, &r.ShipmentID, &r.ReleaseReason, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read reservation of order %s: %w", orderID, err)
	}
	r.Status, r.CreatedAt, r.UpdatedAt = ReservationStatus(status), created.T, updated.T
	if r.Lines, err = st.lines(ctx, q, r.ID); err != nil {
		return nil, err
	}
	return &r, nil
}

// failure returns order's failed reservation, or nil.
func (st store) failure(ctx context.Context, q querier, orderID string) (*ReservationFailure, error) {
	f := ReservationFailure{OrderID: orderID}
	var shortages string
	var at dbTime
	err := q.QueryRowContext(ctx, st.q(`SELECT reason, shortages, failed_at FROM reservation_failures WHERE order_id = $1`),
		orderID).Scan(&f.Reason, &shortages, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read failed reservation of order %s: %w", orderID, err)
	}
	f.FailedAt = at.T
	if err := json.Unmarshal([]byte(shortages), &f.Shortages); err != nil {
		return nil, fmt.Errorf("read failed reservation of order %s: shortages: %w", orderID, err)
	}
	return &f, nil
}

// --- purchase orders

const poCols = `id, sku, quantity, name, description, product_version, status, missing, attempts, last_error,
	next_attempt_at, created_at, updated_at, sent_at, received_at`

// openStatuses is the SQL list of the statuses of an open purchase order
// (the predicate of the purchase_orders_one_open index).
const openStatuses = `('pending', 'flagged', 'retrying', 'sent', 'rejected')`

func scanPO(r scanner) (PurchaseOrder, error) {
	var po PurchaseOrder
	var status, missing string
	var next, created, updated, sent, received dbTime
	if err := r.Scan(&po.ID, &po.SKU, &po.Quantity, &po.Name, &po.Description, &po.ProductVersion, &status, &missing,
		&po.Attempts, &po.LastError, &next, &created, &updated, &sent, &received); err != nil {
		return po, err
	}
	po.Status = POStatus(status)
	if missing != "" {
		po.Missing = strings.Split(missing, ",")
	}
	po.NextAttemptAt, po.CreatedAt, po.UpdatedAt = next.T, created.T, updated.T
	po.SentAt, po.ReceivedAt = sent.ptr(), received.ptr()
	return po, nil
}

func (st store) purchaseOrder(ctx context.Context, q querier, id string) (PurchaseOrder, bool, error) {
	po, err := scanPO(q.QueryRowContext(ctx, st.q(`SELECT `+poCols+` FROM purchase_orders WHERE id = $1`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return po, false, nil
	}
	if err != nil {
		return po, false, fmt.Errorf("read purchase order %s: %w", id, err)
	}
	return po, true, nil
}

// poFilter selects purchase orders for listing; empty fields match all.
type poFilter struct {
	Status POStatus
	SKU    string
	After  string // an id: list those after it (ids are UUIDv7, so by creation)
	Limit  int
}

func (st store) purchaseOrders(ctx context.Context, q querier, f poFilter) ([]PurchaseOrder, error) {
	rows, err := q.QueryContext(ctx, st.q(`SELECT `+poCols+` FROM purchase_orders
		WHERE ($1 = '' OR status = $1) AND ($2 = '' OR sku = $2) AND id > $3
		ORDER BY id LIMIT $4`), string(f.Status), f.SKU, f.After, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("list purchase orders: %w", err)
	}
	return collectPOs(rows)
}

func collectPOs(rows *sql.Rows) ([]PurchaseOrder, error) {
	defer rows.Close()
	var out []PurchaseOrder
	for rows.Next() {
		po, err := scanPO(rows)
		if err != nil {
			return nil, fmt.Errorf("read purchase orders: %w", err)
		}
		out = append(out, po)
	}
	return out, rows.Err()
}

// reorderCandidate is a SKU whose available stock is at or below its
// reorder point with no open purchase order, with the product copy's data
// (empty, version 0, when there is none).
type reorderCandidate struct {
	SKU             string
	ReorderQuantity int64
	Name            string
	Description     string
	ProductVersion  int64
}

// reorderCandidates finds the SKUs to reorder. A product Catalog marked
// inactive is not reordered; a SKU with no product copy yet is (its
// purchase order is flagged until the copy arrives).
func (st store) reorderCandidates(ctx context.Context, q querier) ([]reorderCandidate, error) {
	rows, err := q.QueryContext(ctx, st.q(`SELECT s.sku, s.reorder_quantity, COALESCE(p.name, ''), COALESCE(p.description, ''), COALESCE(p.version, 0)
		FROM stock_items s LEFT JOIN products p ON p.sku = s.sku
		WHERE s.on_hand - s.reserved <= s.reorder_point AND (p.active IS NULL OR p.active)
		AND NOT EXISTS (SELECT 1 FROM purchase_orders o WHERE o.sku = s.sku AND o.status IN `+openStatuses+`)
		ORDER BY s.sku`))
	if err != nil {
		return nil, fmt.Errorf("find SKUs to reorder: %w", err)
	}
	defer rows.Close()
	var out []reorderCandidate
	for rows.Next() {
		var c reorderCandidate
		if err := rows.Scan(&c.SKU, &c.ReorderQuantity, &c.Name, &c.Description, &c.ProductVersion); err != nil {
			return nil, fmt.Errorf("find SKUs to reorder: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// insertPO stores a new purchase order unless the SKU has an open one; it
// reports whether it did.
func (st store) insertPO(ctx context.Context, tx *sqldb.Tx, po PurchaseOrder) (bool, error) {
	res, err := tx.ExecContext(ctx, st.q(`INSERT INTO purchase_orders (id, sku, quantity, name, description, product_version,
		status, missing, next_attempt_at, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $9) ON CONFLICT DO NOTHING`),
		po.ID, po.SKU, po.Quantity, po.Name, po.Description, po.ProductVersion, string(po.Status),
		strings.Join(po.Missing, ","), st.at(po.CreatedAt))
	if err != nil {
		return false, fmt.Errorf("store purchase order for %s: %w", po.SKU, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// stalePO is an unsent open purchase order whose product copy changed since
// it took its name and description from it.
type stalePO struct {
	PurchaseOrder
	Product Product
}

func (st store) stalePOs(ctx context.Context, q querier) ([]stalePO, error) {
	rows, err := q.QueryContext(ctx, st.q(`SELECT o.id, o.sku, o.status, o.product_version, p.name, p.description, p.active, p.version
		FROM purchase_orders o JOIN products p ON p.sku = o.sku
		WHERE o.status IN ('pending', 'retrying', 'flagged', 'rejected') AND o.product_version <> p.version
		ORDER BY o.id`))
	if err != nil {
		return nil, fmt.Errorf("find purchase orders to refresh: %w", err)
	}
	defer rows.Close()
	var out []stalePO
	for rows.Next() {
		var s stalePO
		var status string
		if err := rows.Scan(&s.ID, &s.SKU, &status, &s.ProductVersion, &s.Product.Name, &s.Product.Description,
			&s.Product.Active, &s.Product.Version); err != nil {
			return nil, fmt.Errorf("find purchase orders to refresh: %w", err)
		}
		s.Status, s.Product.SKU = POStatus(status), s.SKU
		out = append(out, s)
	}
	return out, rows.Err()
}

// refreshPO gives an unsent purchase order the product copy's data and the
// status that follows from it, if it is still as read (status and product
// version) and no one is sending it (a claim: it is refreshed after the
// outcome is recorded, if still unsent): it reports whether it was.
func (st store) refreshPO(ctx context.Context, tx *sqldb.Tx, s stalePO, to POStatus, missing []string, now time.Time) (bool, error) {
	res, err := tx.ExecContext(ctx, st.q(`UPDATE purchase_orders
		SET name = $4, description = $5, product_version = $6, status = $7, missing = $8, next_attempt_at = $9, updated_at = $9
		WHERE id = $1 AND status = $2 AND product_version = $3 AND (claimed_until IS NULL OR claimed_until <= $9)`),
		s.ID, string(s.Status), s.ProductVersion, s.Product.Name, s.Product.Description, s.Product.Version,
		string(to), strings.Join(missing, ","), st.at(now))
	if err != nil {
		return false, fmt.Errorf("refresh purchase order %s: %w", s.ID, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// duePOsSQL selects the purchase orders to send at $1: pending, or
// retrying whose backoff has passed, and not claimed.
const duePOsSQL = `status IN ('pending', 'retrying') AND next_attempt_at <= $1 AND (claimed_until IS NULL OR claimed_until <= $1)`

// duePOs returns purchase orders to send now, oldest first.
func (st store) duePOs(ctx context.Context, q querier, now time.Time, limit int) ([]PurchaseOrder, error) {
	rows, err := q.QueryContext(ctx, st.q(`SELECT `+poCols+` FROM purchase_orders
		WHERE `+duePOsSQL+` ORDER BY next_attempt_at, id LIMIT $2`), st.at(now), limit)
	if err != nil {
		return nil, fmt.Errorf("find purchase orders to send: %w", err)
	}
	return collectPOs(rows)
}

// claimPO claims purchase order id for sending until until, if it is due
// at now and not claimed, and returns it as it is now; false when it is
// not (another replica claimed or recorded it since it was read). One
// conditional statement: of two replicas, one wins.
func (st store) claimPO(ctx context.Context, tx *sqldb.Tx, id string, now, until time.Time) (PurchaseOrder, bool, error) {
	po, err := scanPO(tx.QueryRowContext(ctx, st.q(`UPDATE purchase_orders SET claimed_until = $2
		WHERE id = $3 AND `+duePOsSQL+` RETURNING `+poCols), st.at(now), st.at(until), id))
	if errors.Is(err, sql.ErrNoRows) {
		return po, false, nil
	}
	if err != nil {
		return po, false, fmt.Errorf("claim purchase order %s: %w", id, err)
	}
	return po, true, nil
}

// releasePO gives up the claim (until claim) on purchase order id, unless
// it was claimed again since.
func (st store) releasePO(ctx context.Context, tx *sqldb.Tx, id string, claim time.Time) error {
	if _, err := tx.ExecContext(ctx, st.q(`UPDATE purchase_orders SET claimed_until = NULL WHERE id = $1 AND claimed_until = $2`),
		id, st.at(claim)); err != nil {
		return fmt.Errorf("release purchase order %s: %w", id, err)
	}
	return nil
}

// sendOutcome records what became of sending a purchase order under the
// claim until claim, if it is still pending or retrying and that claim
// still holds (a claim that ran out and was taken by another replica
// leaves the outcome to that replica); it reports whether it did.
func (st store) sendOutcome(ctx context.Context, tx *sqldb.Tx, id string, claim time.Time, to POStatus, lastError string, missing []string, nextAttempt, now time.Time) (bool, error) {
	var sentAt any
	if to == POSent {
		sentAt = st.at(now)
	}
	attempt := 1
	if to == POFlagged {
		attempt = 0 // not sent at all
	}
	res, err := tx.ExecContext(ctx, st.q(`UPDATE purchase_orders
		SET status = $2, last_error = $3, missing = $4, attempts = attempts + $5, next_attempt_at = $6, sent_at = $7, updated_at = $8,
			claimed_until = NULL
		WHERE id = $1 AND status IN ('pending', 'retrying') AND claimed_until = $9`),
		id, string(to), lastError, strings.Join(missing, ","), attempt, st.at(nextAttempt), sentAt, st.at(now), st.at(claim))
	if err != nil {
		return false, fmt.Errorf("record purchase order %s as %s: %w", id, to, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// receivePO marks a sent purchase order received. It returns the order and
// whether it was sent (and so is received now).
func (st store) receivePO(ctx context.Context, tx *sqldb.Tx, id string, now time.Time) (PurchaseOrder, bool, error) {
	po, err := scanPO(tx.QueryRowContext(ctx, st.q(`UPDATE purchase_orders SET status = 'received', received_at = $2, updated_at = $2
		WHERE id = $1 AND status = 'sent' RETURNING `+poCols), id, st.at(now)))
	if errors.Is(err, sql.ErrNoRows) {
		return po, false, nil
	}
	if err != nil {
		return po, false, fmt.Errorf("receive purchase order %s: %w", id, err)
	}
	return po, true, nil
}

// reservedSKUs returns the SKUs held by the reserved reservations of
// orderIDs (unsorted; without locking anything).
func (st store) reservedSKUs(ctx context.Context, tx *sqldb.Tx, orderIDs []string) ([]string, error) {
	if len(orderIDs) == 0 {
		return nil, nil
	}
	args := make([]any, len(orderIDs))
	for i, id := range orderIDs {
		args[i] = id
	}
	rows, err := tx.QueryContext(ctx, st.q(`SELECT DISTINCT l.sku FROM reservation_lines l
		JOIN reservations r ON r.id = l.reservation_id
		WHERE r.status = 'reserved' AND r.order_id IN (`+placeholders(1, len(orderIDs))+`)`), args...)
	if err != nil {
		return nil, fmt.Errorf("reserved skus: %w", err)
	}
	defer rows.Close()
	var skus []string
	for rows.Next() {
		var sku string
		if err := rows.Scan(&sku); err != nil {
			return nil, fmt.Errorf("reserved skus: %w", err)
		}
		skus = append(skus, sku)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reserved skus: %w", err)
	}
	return skus, nil
}
