package fulfillment

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/bounded-dev/bounded/platform/sqldb"
)

// Storage of times: timestamptz on PostgreSQL, INTEGER unix milliseconds on
// SQLite. The service truncates every time it makes to milliseconds, so that
// both dialects give back what was stored.

// now is the service's clock, at the precision both dialects store.
func now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

// lineRow and addressRow are how lines and addresses are stored (JSON
// columns: a shipment is read and written whole, never by line).
type lineRow struct {
	SKU      string `json:"sku"`
	Quantity int    `json:"quantity"`
}

type addressRow struct {
	Name       string `json:"name"`
	Line1      string `json:"line1"`
	Line2      string `json:"line2,omitempty"`
	City       string `json:"city"`
	PostalCode string `json:"postal_code"`
	Country    string `json:"country"`
}

func encodeLines(items []Line) string {
	rows := make([]lineRow, len(items))
	for i, l := range items {
		rows[i] = lineRow(l)
	}
	b, _ := json.Marshal(rows) // cannot fail: strings and ints
	return string(b)
}

func decodeLines(b []byte) ([]Line, error) {
	if b == nil {
		return nil, nil
	}
	var rows []lineRow
	if err := json.Unmarshal(b, &rows); err != nil {
		return nil, fmt.Errorf("stored items: %w", err)
	}
	items := make([]Line, len(rows))
	for i, r := range rows {
		items[i] = Line(r)
	}
	return items, nil
}

func encodeAddress(a Address) string {
	b, _ := json.Marshal(addressRow(a)) // cannot fail: strings
	return string(b)
}

func decodeAddress(b []byte) (Address, error) {
	if b == nil {
		return Address{}, nil
	}
	var r addressRow
	if err := json.Unmarshal(b, &r); err != nil {
		return Address{}, fmt.Errorf("stored address: %w", err)
	}
	return Address(r), nil
}

// orNull is s as a query argument, NULL when empty.
func orNull(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// preparationFacts is one event's contribution to a preparation record:
// the fields it sets; the others stay as they are.
type preparationFacts struct {
	OrderID      string
	Items        []Line // with Address and Confirmed, from order_confirmed
	Address      Address
	Confirmed    time.Time
	Reserved     time.Time
	Paid         time.Time
	Cancelled    time.Time
	CancelReason string
}

// upsertPreparationSQL adds facts to an order's preparation record and
// returns the whole record, in one statement: whichever producer's event
// arrives first creates the row, the others fill it in. A fact already
// there is kept (first arrival wins), so a repeated event changes nothing.
// On PostgreSQL the row lock it takes serializes the handlers of one order
// (they run on different consumers, possibly at once) until commit.
const upsertPreparationSQL = `
INSERT INTO preparations (order_id, items, shipping_address, confirmed_at, reserved_at, paid_at, cancelled_at, cancel_reason, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (order_id) DO UPDATE SET
    items            = COALESCE(preparations.items, excluded.items),
    shipping_address = COALESCE(preparations.shipping_address, excluded.shipping_address),
    confirmed_at     = COALESCE(preparations.confirmed_at, excluded.confirmed_at),
    reserved_at      = COALESCE(preparations.reserved_at, excluded.reserved_at),
    paid_at          = COALESCE(preparations.paid_at, excluded.paid_at),
    cancelled_at     = COALESCE(preparations.cancelled_at, excluded.cancelled_at),
    cancel_reason    = COALESCE(preparations.cancel_reason, excluded.cancel_reason),
    updated_at       = excluded.updated_at
RETURNING items, shipping_address, confirmed_at, reserved_at, paid_at, cancelled_at`

func upsertPreparation(ctx context.Context, tx *sqldb.Tx, f preparationFacts, at time.Time) (preparation, error) {
	d := tx.Dialect()
	var items, addr any
	if f.Items != nil {
		items, addr = encodeLines(f.Items), encodeAddress(f.Address)
	}
	var (
		p                 = preparation{OrderID: f.OrderID}
		itemsRaw, addrRaw []byte
	)
	err := tx.QueryRowContext(ctx, d.Rebind(upsertPreparationSQL),
		f.OrderID, items, addr, sqldb.TimeArg(d, f.Confirmed), sqldb.TimeArg(d, f.Reserved), sqldb.TimeArg(d, f.Paid),
		sqldb.TimeArg(d, f.Cancelled), orNull(f.CancelReason), sqldb.TimeArg(d, at),
	).Scan(&itemsRaw, &addrRaw, sqldb.TimeCol{T: &p.Confirmed}, sqldb.TimeCol{T: &p.Reserved}, sqldb.TimeCol{T: &p.Paid}, sqldb.TimeCol{T: &p.Cancelled})
	if err != nil {
		return preparation{}, fmt.Errorf("upsert preparation %s: %w", f.OrderID, err)
	}
	if p.Items, err = decodeLines(itemsRaw); err != nil {
		return preparation{}, err
	}
	if p.Address, err = decodeAddress(addrRaw); err != nil {
		return preparation{}, err
	}
	return p, nil
}

// choosePackageSQL is the packaging rule: the smallest max_items that fits,
// ties by the smaller priority, then by name.
const choosePackageSQL = `SELECT name FROM packaging_rules WHERE max_items >= $1 ORDER BY max_items, priority, name LIMIT 1`

// choosePackage returns the package for total items, or Unpackable when no
// rule fits.
func choosePackage(ctx context.Context, tx *sqldb.Tx, total int64) (string, error) {
	var name string
	err := tx.QueryRowContext(ctx, tx.Dialect().Rebind(choosePackageSQL), total).Scan(&name)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Unpackable, nil
	case err != nil:
		return "", fmt.Errorf("choose package: %w", err)
	}
	return name, nil
}

// insertShipment inserts s unless its order has a shipment already, and
// reports whether it did. due is when the dispatch job may dispatch it
// (zero: not yet; it is unpaid or unpackable).
func insertShipment(ctx context.Context, tx *sqldb.Tx, s Shipment, due time.Time) (bool, error) {
	d := tx.Dialect()
	res, err := tx.ExecContext(ctx, d.Rebind(`
INSERT INTO shipments (id, order_id, status, package, items, shipping_address, created_at, due_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (order_id) DO NOTHING`),
		s.ID, s.OrderID, string(s.Status), s.Package, encodeLines(s.Items), encodeAddress(s.Address), sqldb.TimeArg(d, s.Created), sqldb.TimeArg(d, due))
	if err != nil {
		return false, fmt.Errorf("insert shipment of %s: %w", s.OrderID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("insert shipment of %s: %w", s.OrderID, err)
	}
	return n == 1, nil
}

// markPaid makes the order's shipment due at due, if it is created,
// packable and not due yet; it reports whether it did.
func markPaid(ctx context.Context, tx *sqldb.Tx, orderID string, due time.Time) (bool, error) {
	d := tx.Dialect()
	res, err := tx.ExecContext(ctx, d.Rebind(`
UPDATE shipments SET due_at = $1
WHERE order_id = $2 AND status = 'created' AND due_at IS NULL AND package <> '`+Unpackable+`'`),
		sqldb.TimeArg(d, due), orderID)
	if err != nil {
		return false, fmt.Errorf("mark shipment of %s paid: %w", orderID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("mark shipment of %s paid: %w", orderID, err)
	}
	return n == 1, nil
}

// cancelShipment cancels the order's shipment if it is still created and
// returns its id; "" when there is none to cancel.
func cancelShipment(ctx context.Context, tx *sqldb.Tx, orderID string, at time.Time) (string, error) {
	d := tx.Dialect()
	var id string
	err := tx.QueryRowContext(ctx, d.Rebind(`
UPDATE shipments SET status = 'cancelled', cancelled_at = $1, due_at = NULL
WHERE order_id = $2 AND status = 'created'
RETURNING id`), sqldb.TimeArg(d, at), orderID).Scan(&id)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("cancel shipment of %s: %w", orderID, err)
	}
	return id, nil
}

// noteLateCancellation records, on the order's dispatched shipment, that
// its order was cancelled after the dispatch, and returns the shipment's
// id; "" when the order has no dispatched shipment or it was noted before.
func noteLateCancellation(ctx context.Context, tx *sqldb.Tx, orderID string, at time.Time) (string, error) {
	d := tx.Dialect()
	var id string
	err := tx.QueryRowContext(ctx, d.Rebind(`
UPDATE shipments SET cancelled_after_dispatch_at = $1
WHERE order_id = $2 AND status = 'dispatched' AND cancelled_after_dispatch_at IS NULL
RETURNING id`), sqldb.TimeArg(d, at), orderID).Scan(&id)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("note late cancellation of %s: %w", orderID, err)
	}
	return id, nil
}

// dispatchedRow is a shipment the dispatch job just dispatched.
type dispatchedRow struct {
	ID, OrderID, Package string
	Items                []Line
	Created              time.Time
}

// dispatchDueSQL dispatches up to $2 created shipments due at $1, oldest
// due first, in one statement. On PostgreSQL, FOR UPDATE SKIP LOCKED lets
// replicas' jobs share the work, and the locked rows are re-checked
// (status = 'created') after any concurrent cancellation commits.
var dispatchDueSQL = map[sqldb.Dialect]string{
	sqldb.Postgres: `
UPDATE shipments SET status = 'dispatched', dispatched_at = $1, due_at = NULL
WHERE id IN (SELECT id FROM shipments WHERE status = 'created' AND due_at <= $1 ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED)
RETURNING id, order_id, package, items, created_at`,
	// SQLite has one writer: nothing to skip or lock.
	sqldb.SQLite: `
UPDATE shipments SET status = 'dispatched', dispatched_at = ?1, due_at = NULL
WHERE id IN (SELECT id FROM shipments WHERE status = 'created' AND due_at <= ?1 ORDER BY due_at LIMIT ?2)
RETURNING id, order_id, package, items, created_at`,
}

func dispatchDue(ctx context.Context, tx *sqldb.Tx, at time.Time, limit int) ([]dispatchedRow, error) {
	d := tx.Dialect()
	rows, err := tx.QueryContext(ctx, dispatchDueSQL[d], sqldb.TimeArg(d, at), limit)
	if err != nil {
		return nil, fmt.Errorf("dispatch due shipments: %w", err)
	}
	defer rows.Close()
	var out []dispatchedRow
	for rows.Next() {
		var (
			r     dispatchedRow
			items []byte
		)
		if err := rows.Scan(&r.ID, &r.OrderID, &r.Package, &items, sqldb.TimeCol{T: &r.Created}); err != nil {
			return nil, fmt.Errorf("dispatch due shipments: %w", err)
		}
		if r.Items, err = decodeLines(items); err != nil {
			return nil, fmt.Errorf("dispatch shipment %s: %w", r.ID, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("dispatch due shipments: %w", err)
	}
	return out, nil
}

// nextDue returns when the next created shipment falls due (zero if none
// is paid and waiting).
func nextDue(ctx context.Context, db *sqldb.DB) (time.Time, error) {
	var t time.Time
	err := db.QueryRowContext(ctx, `SELECT MIN(due_at) FROM shipments WHERE status = 'created' AND due_at IS NOT NULL`).Scan(sqldb.TimeCol{T: &t})
	if err != nil {
		return time.Time{}, fmt.Errorf("next due shipment: %w", err)
	}
	return t, nil
}

// shipmentColumns are read by scanShipment, in its order.
const shipmentColumns = `id, order_id, status, package, items, shipping_address, created_at, dispatched_at, cancelled_at, cancelled_after_dispatch_at`

type scanner interface{ Scan(dest ...any) error }

func scanShipment(row scanner) (Shipment, error) {
	var (
		s           Shipment
		status      string
		items, addr []byte
	)
	if err := row.Scan(&s.ID, &s.OrderID, &status, &s.Package, &items, &addr,
		sqldb.TimeCol{T: &s.Created}, sqldb.TimeCol{T: &s.Dispatched}, sqldb.TimeCol{T: &s.Cancelled}, sqldb.TimeCol{T: &s.CancelledAfterDispatch}); err != nil {
		return Shipment{}, err
	}
	s.Status = Status(status)
	var err error
	if s.Items, err = decodeLines(items); err != nil {
		return Shipment{}, err
	}
	if s.Address, err = decodeAddress(addr); err != nil {
		return Shipment{}, err
	}
	return s, nil
}

// errNotFound is returned by lookups of something that is not there.
var errNotFound = errors.New("not found")

// shipmentByID returns the shipment, or errNotFound.
func shipmentByID(ctx context.Context, db *sqldb.DB, id string) (Shipment, error) {
	s, err := scanShipment(db.QueryRowContext(ctx, db.Dialect().Rebind(`SELECT `+shipmentColumns+` FROM shipments WHERE id = $1`), id))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Shipment{}, errNotFound
	case err != nil:
		return Shipment{}, fmt.Errorf("shipment %s: %w", id, err)
	}
	return s, nil
}

// shipmentFilter selects shipments; empty fields do not filter.
type shipmentFilter struct {
	OrderID    string
	Status     Status
	Unpackable bool // only unpackable ones
	Limit      int
}

// listShipments returns the shipments the filter selects, oldest first.
func listShipments(ctx context.Context, db *sqldb.DB, f shipmentFilter) ([]Shipment, error) {
	var (
		where []string
		args  []any
	)
	if f.OrderID != "" {
		args = append(args, f.OrderID)
		where = append(where, fmt.Sprintf("order_id = $%d", len(args)))
	}
	if f.Status != "" {
		args = append(args, string(f.Status))
		where = append(where, fmt.Sprintf("status = $%d", len(args)))
	}
	if f.Unpackable {
		where = append(where, "package = '"+Unpackable+"'")
	}
	args = append(args, f.Limit)
	q := `SELECT ` + shipmentColumns + ` FROM shipments`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += fmt.Sprintf(` ORDER BY id LIMIT $%d`, len(args))
	rows, err := db.QueryContext(ctx, db.Dialect().Rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("list shipments: %w", err)
	}
	defer rows.Close()
	out := []Shipment{}
	for rows.Next() {
		s, err := scanShipment(rows)
		if err != nil {
			return nil, fmt.Errorf("list shipments: %w", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list shipments: %w", err)
	}
	return out, nil
}

// listRules returns the packaging rules in the order they are tried.
func listRules(ctx context.Context, db *sqldb.DB) ([]PackagingRule, error) {
	rows, err := db.QueryContext(ctx, `SELECT name, max_items, priority FROM packaging_rules ORDER BY max_items, priority, name`)
	if err != nil {
		return nil, fmt.Errorf("list packaging rules: %w", err)
	}
	defer rows.Close()
	out := []PackagingRule{}
	for rows.Next() {
		var r PackagingRule
		if err := rows.Scan(&r.name, &r.maxItems, &r.priority); err != nil {
			return nil, fmt.Errorf("list packaging rules: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list packaging rules: %w", err)
	}
	return out, nil
}

// putRule creates or replaces a rule and reports whether it created it.
func putRule(ctx context.Context, db *sqldb.DB, r PackagingRule) (created bool, err error) {
	err = db.Transact(ctx, func(tx *sqldb.Tx) error {
		// Asking first only decides 201 or 200: two concurrent creations
		// of one name on PostgreSQL may both answer 201, which is harmless.
		var existed bool
		q := `SELECT EXISTS (SELECT 1 FROM packaging_rules WHERE name = $1)`
		if err := tx.QueryRowContext(ctx, tx.Dialect().Rebind(q), r.name).Scan(&existed); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, tx.Dialect().Rebind(`
INSERT INTO packaging_rules (name, max_items, priority) VALUES ($1, $2, $3)
ON CONFLICT (name) DO UPDATE SET max_items = excluded.max_items, priority = excluded.priority`),
			r.name, r.maxItems, r.priority)
		created = !existed
		return err
	})
	if err != nil {
		return false, fmt.Errorf("put packaging rule %s: %w", r.name, err)
	}
	return created, nil
}

// errLastRule refuses to delete the only rule left.
var errLastRule = errors.New("the last packaging rule")

// deleteRule deletes a rule; errNotFound if there is none of that name,
// errLastRule if it is the only one.
func deleteRule(ctx context.Context, db *sqldb.DB, name string) error {
	return db.Transact(ctx, func(tx *sqldb.Tx) error {
		// Lock every rule (there are a handful) so that two deletions cannot
		// each leave the other's rule as "the other one" and end with none;
		// a deletion that waited sees the rows the other deleted vanish.
		// SQLite has one writer and no FOR UPDATE.
		q := `SELECT name FROM packaging_rules ORDER BY name`
		if tx.Dialect() == sqldb.Postgres {
			q += ` FOR UPDATE`
		}
		rows, err := tx.QueryContext(ctx, q)
		if err != nil {
			return fmt.Errorf("delete packaging rule %s: %w", name, err)
		}
		var names []string
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				rows.Close()
				return fmt.Errorf("delete packaging rule %s: %w", name, err)
			}
			names = append(names, n)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("delete packaging rule %s: %w", name, err)
		}
		found := false
		for _, n := range names {
			found = found || n == name
		}
		switch {
		case !found:
			return errNotFound
		case len(names) == 1:
			return errLastRule
		}
		if _, err := tx.ExecContext(ctx, tx.Dialect().Rebind(`DELETE FROM packaging_rules WHERE name = $1`), name); err != nil {
			return fmt.Errorf("delete packaging rule %s: %w", name, err)
		}
		return nil
	})
}
