package cart

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/bounded-dev/bounded/platform/sqldb"
)

// store is Cart's SQL: carts, their lines, and the product copy. One text
// per statement serves both dialects ($N rebound for SQLite); times are
// timestamptz on PostgreSQL and INTEGER unix milliseconds on SQLite.
type store struct {
	db *sqldb.DB
}

// querier is what reads need: a *sqldb.DB (outside transactions) or a
// *sqldb.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

var (
	_ querier = (*sqldb.DB)(nil)
	_ querier = (*sqldb.Tx)(nil)
)

func (s *store) q(query string) string { return s.db.Dialect().Rebind(query) }

// ts is a time as the dialect stores it.
func (s *store) ts(t time.Time) any {
	if s.db.Dialect() == sqldb.SQLite {
		return t.UnixMilli()
	}
	return t
}

// dbTime scans a time stored by either dialect (NULL is the zero time).
type dbTime struct{ time.Time }

func (d *dbTime) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		d.Time = time.Time{}
	case time.Time:
		d.Time = v.UTC()
	case int64:
		d.Time = time.UnixMilli(v).UTC()
	default:
		return fmt.Errorf("cart: cannot scan %T into a time", src)
	}
	return nil
}

// cartRow is one row of the cart query: the cart, and one of its lines with
// that line's product copy (NULLs when the cart has no lines).
type cartRow struct {
	id, email, status            string
	orderID, checkoutLines       sql.NullString
	created, updated, checkedOut dbTime
	sku, currencyWhenAdded       sql.NullString
	quantity, priceWhenAdded     sql.NullInt64
	addedAt                      dbTime
	pName, pCurrency             sql.NullString
	pPrice, pVersion             sql.NullInt64
	pActive                      sql.NullBool
}

// checkoutLine is a line as checked out, kept (as JSON in
// carts.checkout_lines) so that a checked-out cart keeps showing the prices
// paid, whatever the catalog does later.
type checkoutLine struct {
	SKU                 string `json:"sku"`
	Name                string `json:"name"`
	Quantity            int    `json:"quantity"`
	UnitPriceCents      int64  `json:"unit_price_cents"`
	Currency            string `json:"currency"`
	ProductVersion      int64  `json:"product_version"`
	PriceWhenAddedCents int64  `json:"price_when_added_cents"`
	CurrencyWhenAdded   string `json:"currency_when_added"`
	AddedAtMillis       int64  `json:"added_at_ms"`
}

// One query reads a cart, its lines and their products; lines in the order
// they were added.
const cartQuery = `SELECT c.id, c.customer_email, c.status, c.order_id, c.checkout_lines, c.created_at, c.updated_at, c.checked_out_at,
	i.sku, i.quantity, i.price_when_added_cents, i.currency_when_added, i.added_at,
	p.name, p.currency, p.price_cents, p.version, p.active
FROM carts c
LEFT JOIN cart_items i ON i.cart_id = c.id
LEFT JOIN products p ON p.sku = i.sku
WHERE c.id = $1
ORDER BY i.added_at, i.sku`

// cart reads cart id; with lock (in a transaction), it locks the cart's row
// on PostgreSQL until the transaction ends, so that changes to one cart run
// one after the other (SQLite's single writer does that already). The error
// is of kind ErrNotFound for an unknown id.
func (s *store) cart(ctx context.Context, q querier, id string, lock bool) (*Cart, error) {
	if !validCartID(id) {
		// Cart ids are UUIDs: anything else names no cart. Asking the
		// database would also fail on PostgreSQL for an id that is not
		// valid UTF-8 or holds NUL (a 500 instead of a 404).
		return nil, fail(ErrNotFound, "no cart %s", quote(id))
	}
	query := cartQuery
	if lock && s.db.Dialect() == sqldb.Postgres {
		query += " FOR UPDATE OF c"
	}
	rows, err := q.QueryContext(ctx, s.q(query), id)
	if err != nil {
		return nil, fmt.Errorf("cart: read cart: %w", err)
	}
	defer rows.Close()
	var (
		first cartRow
		n     int
		lines []Line
	)
	for rows.Next() {
		var r cartRow
		if err := rows.Scan(&r.id, &r.email, &r.status, &r.orderID, &r.checkoutLines, &r.created, &r.updated, &r.checkedOut,
			&r.sku, &r.quantity, &r.priceWhenAdded, &r.currencyWhenAdded, &r.addedAt,
			&r.pName, &r.pCurrency, &r.pPrice, &r.pVersion, &r.pActive); err != nil {
			return nil, fmt.Errorf("cart: read cart: %w", err)
		}
		if n++; n == 1 {
			first = r
		}
		if !r.sku.Valid {
			continue // a cart without lines
		}
		l := Line{SKU: r.sku.String, Quantity: int(r.quantity.Int64), PriceWhenAddedCents: r.priceWhenAdded.Int64,
			CurrencyWhenAdded: r.currencyWhenAdded.String, AddedAt: r.addedAt.Time}
		if r.pName.Valid {
			l.Product = &Product{SKU: r.sku.String, Name: r.pName.String, PriceCents: r.pPrice.Int64,
				Currency: r.pCurrency.String, Active: r.pActive.Bool, Version: r.pVersion.Int64}
		}
		lines = append(lines, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cart: read cart: %w", err)
	}
	if n == 0 {
		return nil, fail(ErrNotFound, "no cart %s", quote(id))
	}
	if Status(first.status) == StatusCheckedOut && first.checkoutLines.Valid {
		if lines, err = frozenLines(first.checkoutLines.String); err != nil {
			return nil, fmt.Errorf("cart %s: %w", first.id, err)
		}
	}
	return restoreCart(first.id, first.email, Status(first.status), first.orderID.String,
		first.created.Time, first.updated.Time, first.checkedOut.Time, lines), nil
}

// validCartID reports whether id has the form of the ids newID makes: a
// UUID in its 36-character form.
func validCartID(id string) bool {
	if len(id) != 36 {
		return false
	}
	_, err := uuid.Parse(id)
	return err == nil
}

func frozenLines(doc string) ([]Line, error) {
	var cls []checkoutLine
	if err := json.Unmarshal([]byte(doc), &cls); err != nil {
		return nil, fmt.Errorf("checkout_lines: %w", err)
	}
	lines := make([]Line, len(cls))
	for i, cl := range cls {
		lines[i] = Line{SKU: cl.SKU, Quantity: cl.Quantity, PriceWhenAddedCents: cl.PriceWhenAddedCents,
			CurrencyWhenAdded: cl.CurrencyWhenAdded, AddedAt: time.UnixMilli(cl.AddedAtMillis).UTC(),
			Product: &Product{SKU: cl.SKU, Name: cl.Name, PriceCents: cl.UnitPriceCents, Currency: cl.Currency,
				Active: true, Version: cl.ProductVersion}}
	}
	return lines, nil
}

// insertCart stores a new cart (without lines).
func (s *store) insertCart(ctx context.Context, tx *sqldb.Tx, c *Cart) error {
	_, err := tx.ExecContext(ctx, s.q(`INSERT INTO carts (id, customer_email, status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)`),
		c.ID(), c.CustomerEmail(), string(c.Status()), s.ts(c.CreatedAt()), s.ts(c.UpdatedAt()))
	if err != nil {
		return fmt.Errorf("cart: insert cart: %w", err)
	}
	return nil
}

// product reads Cart's copy of sku; nil when it has none.
func (s *store) product(ctx context.Context, q querier, sku string) (*Product, error) {
	p := Product{SKU: sku}
	err := q.QueryRowContext(ctx, s.q(`SELECT name, price_cents, currency, active, version FROM products WHERE sku = $1`), sku).
		Scan(&p.Name, &p.PriceCents, &p.Currency, &p.Active, &p.Version)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cart: read product %s: %w", sku, err)
	}
	return &p, nil
}

// saveLine inserts or updates line l of cart c (and c's updated_at). The
// line keeps its position (added_at) when it exists.
func (s *store) saveLine(ctx context.Context, tx *sqldb.Tx, c *Cart, l Line) error {
	_, err := tx.ExecContext(ctx, s.q(`INSERT INTO cart_items (cart_id, sku, quantity, price_when_added_cents, currency_when_added, added_at)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (cart_id, sku) DO UPDATE SET quantity = excluded.quantity,
			price_when_added_cents = excluded.price_when_added_cents, currency_when_added = excluded.currency_when_added`),
		c.ID(), l.SKU, l.Quantity, l.PriceWhenAddedCents, l.CurrencyWhenAdded, s.ts(l.AddedAt))
	if err != nil {
		return fmt.Errorf("cart: save line: %w", err)
	}
	return s.touch(ctx, tx, c)
}

// deleteLine removes the line of sku from cart c (and sets c's updated_at).
func (s *store) deleteLine(ctx context.Context, tx *sqldb.Tx, c *Cart, sku string) error {
	if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM cart_items WHERE cart_id = $1 AND sku = $2`), c.ID(), sku); err != nil {
		return fmt.Errorf("cart: delete line: %w", err)
	}
	return s.touch(ctx, tx, c)
}

func (s *store) touch(ctx context.Context, tx *sqldb.Tx, c *Cart) error {
	if _, err := tx.ExecContext(ctx, s.q(`UPDATE carts SET updated_at = $2 WHERE id = $1`), c.ID(), s.ts(c.UpdatedAt())); err != nil {
		return fmt.Errorf("cart: update cart: %w", err)
	}
	return nil
}

// markCheckedOut stores the checkout of cart c: its status, order id,
// email, and its lines as checked out. It fails if the stored cart is no
// longer open (the row lock makes that impossible; the guard says so).
func (s *store) markCheckedOut(ctx context.Context, tx *sqldb.Tx, c *Cart) error {
	lines := c.Lines()
	cls := make([]checkoutLine, len(lines))
	for i, l := range lines {
		cls[i] = checkoutLine{SKU: l.SKU, Name: l.Product.Name, Quantity: l.Quantity, UnitPriceCents: l.Product.PriceCents,
			Currency: l.Product.Currency, ProductVersion: l.Product.Version, PriceWhenAddedCents: l.PriceWhenAddedCents,
			CurrencyWhenAdded: l.CurrencyWhenAdded, AddedAtMillis: l.AddedAt.UnixMilli()}
	}
	doc, err := json.Marshal(cls)
	if err != nil {
		return fmt.Errorf("cart: checkout lines: %w", err)
	}
	res, err := tx.ExecContext(ctx, s.q(`UPDATE carts SET status = $2, order_id = $3, customer_email = $4, checked_out_at = $5,
		updated_at = $6, checkout_lines = $7 WHERE id = $1 AND status = 'open'`),
		c.ID(), string(c.Status()), c.OrderID(), c.CustomerEmail(), s.ts(c.CheckedOutAt()), s.ts(c.UpdatedAt()), string(doc))
	if err != nil {
		return fmt.Errorf("cart: check out: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("cart: check out %s: %d rows updated (%v), want 1", c.ID(), n, err)
	}
	return nil
}

// applyProduct stores p as Cart's copy unless the copy is as new or newer
// (a duplicate, or a replay of an older change): one statement, so that
// concurrent deliveries cannot interleave. It reports whether p was applied.
func (s *store) applyProduct(ctx context.Context, tx *sqldb.Tx, p Product) (bool, error) {
	res, err := tx.ExecContext(ctx, s.q(`INSERT INTO products (sku, name, price_cents, currency, active, version)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (sku) DO UPDATE SET name = excluded.name, price_cents = excluded.price_cents,
			currency = excluded.currency, active = excluded.active, version = excluded.version
		WHERE products.version < excluded.version`),
		p.SKU, p.Name, p.PriceCents, p.Currency, p.Active, p.Version)
	if err != nil {
		return false, fmt.Errorf("cart: apply product %s: %w", p.SKU, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("cart: apply product %s: %w", p.SKU, err)
	}
	return n == 1, nil
}
