package orders

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/bounded-dev/bounded/platform/sqldb"
)

// errNoOrder reports an order id the store does not hold.
var errNoOrder = errors.New("no such order")

// store is Orders' SQL: the same statements on PostgreSQL and SQLite
// (written with $N and rebound), times as timestamptz on PostgreSQL and
// unix milliseconds on SQLite.
type store struct{ db *sqldb.DB }

// querier is what reads need: a transaction or the database's reader.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

var (
	_ querier = (*sqldb.Tx)(nil)
	_ querier = (*sqldb.DB)(nil)
)

// dbTime is t as the dialect stores it.
func dbTime(d sqldb.Dialect, t time.Time) any {
	if d == sqldb.SQLite {
		return t.UnixMilli()
	}
	return t
}

// inParams returns "$from, $from+1, ..." for n parameters.
func inParams(from, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("$" + strconv.Itoa(from+i))
	}
	return b.String()
}

// upsertProduct keeps p if it is newer than the copy held (or there is
// none), and reports whether it did.
func (s *store) upsertProduct(ctx context.Context, tx *sqldb.Tx, p ProductCopy) (bool, error) {
	res, err := tx.ExecContext(ctx, tx.Dialect().Rebind(`
INSERT INTO products (sku, name, price_cents, currency, active, version) VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (sku) DO UPDATE SET name = excluded.name, price_cents = excluded.price_cents,
    currency = excluded.currency, active = excluded.active, version = excluded.version
WHERE products.version < excluded.version`),
		p.SKU, p.Name, p.PriceCents, p.Currency, p.Active, p.Version)
	if err != nil {
		return false, fmt.Errorf("upsert product %s: %w", p.SKU, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("upsert product %s: %w", p.SKU, err)
	}
	return n == 1, nil
}

// productCopies returns the copies held of skus, by SKU, in one query.
func (s *store) productCopies(ctx context.Context, q querier, d sqldb.Dialect, skus []string) (map[string]ProductCopy, error) {
	out := make(map[string]ProductCopy, len(skus))
	if len(skus) == 0 {
		return out, nil
	}
	args := make([]any, len(skus))
	for i, sku := range skus {
		args[i] = sku
	}
	rows, err := q.QueryContext(ctx, d.Rebind(`SELECT sku, name, price_cents, currency, active, version FROM products WHERE sku IN (`+inParams(1, len(skus))+`)`), args...)
	if err != nil {
		return nil, fmt.Errorf("product copies: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var p ProductCopy
		if err := rows.Scan(&p.SKU, &p.Name, &p.PriceCents, &p.Currency, &p.Active, &p.Version); err != nil {
			return nil, fmt.Errorf("product copies: %w", err)
		}
		out[p.SKU] = p
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("product copies: %w", err)
	}
	return out, nil
}

// orderExists reports whether the store holds order id.
func (s *store) orderExists(ctx context.Context, tx *sqldb.Tx, id string) (bool, error) {
	var one int
	err := tx.QueryRowContext(ctx, tx.Dialect().Rebind(`SELECT 1 FROM orders WHERE id = $1`), id).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("order %s exists: %w", id, err)
	}
	return true, nil
}

// insertOrder stores a new order: its row, its items and its transitions,
// in three statements.
func (s *store) insertOrder(ctx context.Context, tx *sqldb.Tx, o *Order) error {
	d := tx.Dialect()
	a := o.address
	_, err := tx.ExecContext(ctx, d.Rebind(`
INSERT INTO orders (id, cart_id, customer_email, ship_name, ship_line1, ship_line2, ship_city, ship_postal_code,
    ship_country, currency, total_cents, status, cancel_reason, cancel_detail, payment_id, reservation_id,
    shipment_id, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)`),
		o.id, o.cartID, o.customerEmail, a.Name, a.Line1, a.Line2, a.City, a.PostalCode, a.Country, o.currency,
		o.totalCents, string(o.status), o.cancelReason, o.cancelDetail, o.paymentID, o.reservationID, o.shipmentID,
		dbTime(d, o.createdAt), dbTime(d, o.updatedAt))
	if err != nil {
		return fmt.Errorf("insert order %s: %w", o.id, err)
	}
	const cols = 6
	args := make([]any, 0, cols*len(o.items))
	values := make([]string, len(o.items))
	for i, it := range o.items {
		values[i] = "(" + inParams(i*cols+1, cols) + ")"
		args = append(args, o.id, i+1, it.SKU, it.Name, it.Quantity, it.UnitPriceCents)
	}
	if _, err := tx.ExecContext(ctx, d.Rebind(`INSERT INTO order_items (order_id, line_no, sku, name, quantity, unit_price_cents) VALUES `+strings.Join(values, ", ")), args...); err != nil {
		return fmt.Errorf("insert order %s items: %w", o.id, err)
	}
	return s.insertHistory(ctx, tx, o.id, o.changes)
}

func (s *store) insertHistory(ctx context.Context, tx *sqldb.Tx, id string, ts []Transition) error {
	if len(ts) == 0 {
		return nil
	}
	const cols = 4
	args := make([]any, 0, cols*len(ts))
	values := make([]string, len(ts))
	for i, t := range ts {
		values[i] = "(" + inParams(i*cols+1, cols) + ")"
		args = append(args, id, string(t.To), dbTime(tx.Dialect(), t.At), t.Reason)
	}
	if _, err := tx.ExecContext(ctx, tx.Dialect().Rebind(`INSERT INTO order_history (order_id, status, at, reason) VALUES `+strings.Join(values, ", ")), args...); err != nil {
		return fmt.Errorf("insert order %s history: %w", id, err)
	}
	return nil
}

// orderColumns are the columns scanOrder reads, in its order.
const orderColumns = `id, cart_id, customer_email, ship_name, ship_line1, ship_line2, ship_city, ship_postal_code,
    ship_country, currency, total_cents, status, cancel_reason, cancel_detail, payment_id, reservation_id,
    shipment_id, created_at, updated_at`

type scanner interface{ Scan(dest ...any) error }

func scanOrder(r scanner) (*Order, error) {
	o := &Order{}
	a := &o.address
	var status string
	err := r.Scan(&o.id, &o.cartID, &o.customerEmail, &a.Name, &a.Line1, &a.Line2, &a.City, &a.PostalCode,
		&a.Country, &o.currency, &o.totalCents, &status, &o.cancelReason, &o.cancelDetail, &o.paymentID,
		&o.reservationID, &o.shipmentID, sqldb.TimeCol{T: &o.createdAt}, sqldb.TimeCol{T: &o.updatedAt})
	o.status = Status(status)
	return o, err
}

// updateOrder loads order id (its row, without items and history) locked
// for the rest of tx, lets change modify it, and saves what changed: the
// row and the new transitions. It returns the order with its Changes, or
// errNoOrder, or change's error (nothing saved then).
//
// The lock matters on PostgreSQL, where events about one order from
// different producers are handled concurrently; SQLite runs one write
// transaction at a time.
func (s *store) updateOrder(ctx context.Context, tx *sqldb.Tx, id string, change func(*Order) error) (*Order, error) {
	d := tx.Dialect()
	q := `SELECT ` + orderColumns + ` FROM orders WHERE id = $1`
	if d == sqldb.Postgres {
		q += ` FOR UPDATE`
	}
	o, err := scanOrder(tx.QueryRowContext(ctx, d.Rebind(q), id))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("order %s: %w", id, errNoOrder)
	case err != nil:
		return nil, fmt.Errorf("load order %s: %w", id, err)
	}
	if err := change(o); err != nil {
		return nil, err
	}
	if !o.dirty {
		return o, nil
	}
	_, err = tx.ExecContext(ctx, d.Rebind(`
UPDATE orders SET status = $2, cancel_reason = $3, cancel_detail = $4, payment_id = $5, reservation_id = $6,
    shipment_id = $7, updated_at = $8
WHERE id = $1`),
		o.id, string(o.status), o.cancelReason, o.cancelDetail, o.paymentID, o.reservationID, o.shipmentID, dbTime(d, o.updatedAt))
	if err != nil {
		return nil, fmt.Errorf("update order %s: %w", id, err)
	}
	return o, s.insertHistory(ctx, tx, o.id, o.changes)
}

// order reads order id with its items and history, or errNoOrder.
func (s *store) order(ctx context.Context, id string) (*Order, error) {
	d := s.db.Dialect()
	o, err := scanOrder(s.db.QueryRowContext(ctx, d.Rebind(`SELECT `+orderColumns+` FROM orders WHERE id = $1`), id))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("order %s: %w", id, errNoOrder)
	case err != nil:
		return nil, fmt.Errorf("read order %s: %w", id, err)
	}
	if o.items, err = s.items(ctx, id); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, d.Rebind(`SELECT status, at, reason FROM order_history WHERE order_id = $1 ORDER BY id`), id)
	if err != nil {
		return nil, fmt.Errorf("read order %s history: %w", id, err)
	}
	defer rows.Close()
	prev := StatusNew
	for rows.Next() {
		var t Transition
		var status string
		if err := rows.Scan(&status, sqldb.TimeCol{T: &t.At}, &t.Reason); err != nil {
			return nil, fmt.Errorf("read order %s history: %w", id, err)
		}
		t.From, t.To = prev, Status(status)
		prev = t.To
		o.history = append(o.history, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read order %s history: %w", id, err)
	}
	return o, nil
}

func (s *store) items(ctx context.Context, id string) ([]Item, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Dialect().Rebind(`SELECT sku, name, quantity, unit_price_cents FROM order_items WHERE order_id = $1 ORDER BY line_no`), id)
	if err != nil {
		return nil, fmt.Errorf("read order %s items: %w", id, err)
	}
	defer rows.Close()
	var out []Item
	for rows.Next() {
		var it Item
		if err := rows.Scan(&it.SKU, &it.Name, &it.Quantity, &it.UnitPriceCents); err != nil {
			return nil, fmt.Errorf("read order %s items: %w", id, err)
		}
		out = append(out, it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read order %s items: %w", id, err)
	}
	return out, nil
}

// listFilter selects orders for listOrders; empty fields select all.
type listFilter struct {
	Status        Status
	CustomerEmail string
	Limit         int
}

// listOrders returns up to f.Limit orders (rows only: no items, no
// history), newest first.
func (s *store) listOrders(ctx context.Context, f listFilter) ([]*Order, error) {
	var (
		where []string
		args  []any
	)
	if f.Status != "" {
		args = append(args, string(f.Status))
		where = append(where, "status = $"+strconv.Itoa(len(args)))
	}
	if f.CustomerEmail != "" {
		args = append(args, f.CustomerEmail)
		where = append(where, "customer_email = $"+strconv.Itoa(len(args)))
	}
	q := `SELECT ` + orderColumns + ` FROM orders`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	args = append(args, f.Limit)
	q += ` ORDER BY created_at DESC, id DESC LIMIT $` + strconv.Itoa(len(args))
	rows, err := s.db.QueryContext(ctx, s.db.Dialect().Rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("list orders: %w", err)
	}
	defer rows.Close()
	out := []*Order{}
	for rows.Next() {
		o, err := scanOrder(rows)
		if err != nil {
			return nil, fmt.Errorf("list orders: %w", err)
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list orders: %w", err)
	}
	return out, nil
}
