package reporting

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bounded-dev/bounded/platform/sqldb"
)

// Every write of the projection is one row of one of the statements
// below: a table, its columns, and what the row does when its key is
// already there (the table's merge rule, written once). The live path
// writes each row at once (a buffer of one row); a replay gathers a
// chunk's rows in a writeBuffer and flushes each statement's rows with
// multi-row INSERTs, in the order the handlers wrote them.
//
// Why a flush gives the live path's rows:
//   - No statement reads another table, so only the order of the rows of
//     one table matters; the rows of one statement keep their order.
//   - SQLite applies a multi-row INSERT's rows one after the other, each
//     meeting what the earlier ones wrote: the same as one statement each.
//   - PostgreSQL refuses a DO UPDATE statement that meets the same key
//     twice, so its rows are split in generations: the n-th row of a key
//     goes into the n-th statement; rows of different keys are independent.
//   - The inferred rows of a dimension (insert-if-absent) are flushed before
//     the real versions of the same table: a real version overwrites every
//     column of an inferred row, so either order leaves the same row.
//   - A DO NOTHING row whose key an earlier row of the buffer had changes
//     nothing: it is dropped before the flush (dim_date, inferred members).
//   - The watermark of a stream is the one rule merged in Go: a chunk's
//     rows of one stream become one row carrying their count, which the
//     statement adds (events_applied + excluded.events_applied); the newest
//     event is chosen as the statement chooses it (see mergeWatermark).

// tableWrite is one insert statement of the projection.
type tableWrite struct {
	table string
	cols  []string
	// conflict is the statement's ON CONFLICT clause: its merge rule.
	conflict string
	// upsert: the conflict clause updates (PostgreSQL cannot meet a key
	// twice in one statement); the key is the first column.
	upsert bool
	// dedupe: insert-if-absent on the first column; later rows with the
	// same key in one buffer are dropped.
	dedupe bool
}

var (
	writeCategoryInferred = &tableWrite{table: "dim_category", cols: []string{"slug", "inferred"},
		conflict: `ON CONFLICT DO NOTHING`, dedupe: true}
	writeCategory = &tableWrite{table: "dim_category", cols: []string{"slug", "name", "version", "inferred"},
		conflict: `ON CONFLICT (slug) DO UPDATE SET name = excluded.name, version = excluded.version, inferred = false
		WHERE dim_category.inferred OR dim_category.version < excluded.version`, upsert: true}
	writeProductInferred = &tableWrite{table: "dim_product", cols: []string{"sku", "inferred"},
		conflict: `ON CONFLICT DO NOTHING`, dedupe: true}
	writeProduct = &tableWrite{table: "dim_product", cols: []string{"sku", "name", "category", "price_cents", "currency", "active", "version", "inferred"},
		conflict: `ON CONFLICT (sku) DO UPDATE SET name = excluded.name, category = excluded.category,
			price_cents = excluded.price_cents, currency = excluded.currency, active = excluded.active,
			version = excluded.version, inferred = false
		WHERE dim_product.inferred OR dim_product.version < excluded.version`, upsert: true}
	writeDate = &tableWrite{table: "dim_date", cols: []string{"date_key", "day", "year", "month", "day_of_month", "iso_week", "weekday"},
		conflict: `ON CONFLICT DO NOTHING`, dedupe: true}
	writeFactOrder = &tableWrite{table: "fact_order", cols: []string{"order_id", "customer_email", "total_cents", "currency",
		"confirmed_at", "confirmed_date_key", "paid_at", "reserved_at", "shipped_at",
		"cancelled_at", "cancelled_date_key", "cancel_reason", "cancel_previous"},
		conflict: `ON CONFLICT (order_id) DO UPDATE SET
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
			cancel_previous = COALESCE(excluded.cancel_previous, fact_order.cancel_previous)`, upsert: true}
	writeOrderLine = &tableWrite{table: "fact_order_line", cols: []string{"order_id", "line_no", "sku", "product_name", "quantity",
		"unit_price_cents", "amount_cents", "currency", "confirmed_at", "date_key"}, conflict: `ON CONFLICT DO NOTHING`}
	writeCheckout = &tableWrite{table: "fact_checkout", cols: []string{"cart_id", "order_id", "customer_email", "units", "value_cents",
		"currency", "checked_out_at", "date_key"}, conflict: `ON CONFLICT DO NOTHING`}
	writePayment = &tableWrite{table: "fact_payment", cols: []string{"payment_id", "outcome", "order_id", "amount_cents", "currency",
		"reason", "attempts", "at", "date_key"}, conflict: `ON CONFLICT DO NOTHING`}
	writeRefund = &tableWrite{table: "fact_refund", cols: []string{"refund_id", "payment_id", "order_id", "amount_cents", "currency",
		"reason", "refunded_at", "date_key"}, conflict: `ON CONFLICT DO NOTHING`}
	writeReservation = &tableWrite{table: "fact_reservation", cols: []string{"order_id", "outcome", "reservation_id", "reason", "units",
		"at", "date_key"}, conflict: `ON CONFLICT DO NOTHING`}
	writeStockout = &tableWrite{table: "fact_stockout", cols: []string{"order_id", "sku", "reason", "requested", "available",
		"failed_at", "date_key"}, conflict: `ON CONFLICT DO NOTHING`}
	writeShipment = &tableWrite{table: "fact_shipment", cols: []string{"shipment_id", "order_id", "package", "units", "created_at",
		"created_date_key", "dispatched_at", "dispatched_date_key"},
		conflict: `ON CONFLICT (shipment_id) DO UPDATE SET
			package = COALESCE(excluded.package, fact_shipment.package),
			units = COALESCE(excluded.units, fact_shipment.units),
			created_at = COALESCE(excluded.created_at, fact_shipment.created_at),
			created_date_key = COALESCE(excluded.created_date_key, fact_shipment.created_date_key),
			dispatched_at = COALESCE(excluded.dispatched_at, fact_shipment.dispatched_at),
			dispatched_date_key = COALESCE(excluded.dispatched_date_key, fact_shipment.dispatched_date_key)`, upsert: true}
	writeStockMovement = &tableWrite{table: "fact_stock_movement", cols: []string{"movement_key", "sku", "reason", "ref",
		"delta_on_hand", "delta_reserved", "on_hand", "reserved", "changed_at", "date_key"}, conflict: `ON CONFLICT DO NOTHING`}
	writePurchaseOrder = &tableWrite{table: "fact_purchase_order", cols: []string{"purchase_order_id", "sku", "quantity", "placed_at",
		"placed_date_key", "flagged_at", "flagged_date_key", "missing", "received_at", "received_date_key", "received_quantity"},
		conflict: `ON CONFLICT (purchase_order_id) DO UPDATE SET
			quantity = COALESCE(excluded.quantity, fact_purchase_order.quantity),
			placed_at = COALESCE(excluded.placed_at, fact_purchase_order.placed_at),
			placed_date_key = COALESCE(excluded.placed_date_key, fact_purchase_order.placed_date_key),
			flagged_at = COALESCE(excluded.flagged_at, fact_purchase_order.flagged_at),
			flagged_date_key = COALESCE(excluded.flagged_date_key, fact_purchase_order.flagged_date_key),
			missing = COALESCE(excluded.missing, fact_purchase_order.missing),
			received_at = COALESCE(excluded.received_at, fact_purchase_order.received_at),
			received_date_key = COALESCE(excluded.received_date_key, fact_purchase_order.received_date_key),
			received_quantity = COALESCE(excluded.received_quantity, fact_purchase_order.received_quantity)`, upsert: true}
	writeWatermark = &tableWrite{table: "watermarks", cols: []string{"stream", "events_applied", "last_event_at", "last_event_id", "last_applied_at"},
		conflict: `ON CONFLICT (stream) DO UPDATE SET
			events_applied = watermarks.events_applied + excluded.events_applied,
			last_event_id = CASE WHEN excluded.last_event_at >= watermarks.last_event_at THEN excluded.last_event_id ELSE watermarks.last_event_id END,
			last_event_at = CASE WHEN excluded.last_event_at >= watermarks.last_event_at THEN excluded.last_event_at ELSE watermarks.last_event_at END,
			last_applied_at = excluded.last_applied_at`, upsert: true}
	writeHistory = &tableWrite{table: "order_history", cols: []string{"order_id", "customer_email", "total_cents", "currency", "items",
		"confirmed_at", "paid_at", "reserved_at", "shipped_at", "cancelled_at", "cancel_reason", "last_event_at", "applied_at"},
		conflict: `ON CONFLICT (order_id) DO UPDATE SET
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
			applied_at = excluded.applied_at`, upsert: true}
	writeHistoryEntry = &tableWrite{table: "order_history_entries", cols: []string{"order_id", "entry_key", "kind", "ref", "at",
		"amount_cents", "detail", "event_at", "applied_at"}, conflict: `ON CONFLICT DO NOTHING`}
)

// flushOrder is the order a buffer flushes its statements in: each
// table's inferred members before its real versions (see above); the
// tables are independent of each other.
var flushOrder = []*tableWrite{writeCategoryInferred, writeCategory, writeProductInferred, writeProduct, writeDate,
	writeFactOrder, writeOrderLine, writeCheckout, writePayment, writeRefund, writeReservation, writeStockout,
	writeShipment, writeStockMovement, writePurchaseOrder, writeWatermark, writeHistory, writeHistoryEntry}

// maxParams is the most parameters one statement may take: SQLite's
// default limit (32766), and PostgreSQL's (65535).
func maxParams(d sqldb.Dialect) int {
	if d == sqldb.Postgres {
		return 65535
	}
	return 32766
}

type statementKey struct {
	t    *tableWrite
	d    sqldb.Dialect
	rows int
}

var statements sync.Map // statementKey → string

// statement is t's INSERT of rows rows in d's parameters.
func (t *tableWrite) statement(d sqldb.Dialect, rows int) string {
	k := statementKey{t, d, rows}
	if q, ok := statements.Load(k); ok {
		return q.(string)
	}
	var b strings.Builder
	b.WriteString("INSERT INTO " + t.table + " (" + strings.Join(t.cols, ", ") + ") VALUES ")
	n := 0
	for r := range rows {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for c := range t.cols {
			if c > 0 {
				b.WriteString(", ")
			}
			n++
			if d == sqldb.Postgres {
				b.WriteString("$" + strconv.Itoa(n))
			} else {
				b.WriteByte('?')
			}
		}
		b.WriteByte(')')
	}
	b.WriteString(" " + t.conflict)
	q := b.String()
	statements.Store(k, q)
	return q
}

// bufferKey marks the context of handlers that write through a buffer.
type bufferKey struct{}

func withBuffer(ctx context.Context, b *writeBuffer) context.Context {
	return context.WithValue(ctx, bufferKey{}, b)
}

// dialectOf is the dialect the rows of a handler are written in.
func dialectOf(ctx context.Context, tx *sqldb.Tx) sqldb.Dialect {
	if b, ok := ctx.Value(bufferKey{}).(*writeBuffer); ok {
		return b.dialect
	}
	return tx.Dialect()
}

// write writes one row of t: at once, or into the context's buffer.
func write(ctx context.Context, tx *sqldb.Tx, t *tableWrite, args ...any) error {
	if b, ok := ctx.Value(bufferKey{}).(*writeBuffer); ok {
		b.add(t, args)
		return nil
	}
	_, err := tx.ExecContext(ctx, t.statement(tx.Dialect(), 1), args...)
	return err
}

// writeBuffer holds a replay chunk's rows until flush. Handlers that
// write into a buffer do not touch their transaction (it may be nil: a
// replay runs them before it opens the one that flushes). Not safe for
// concurrent use.
type writeBuffer struct {
	dialect sqldb.Dialect
	// dates are the dim_date keys written, known once the flush commits.
	dates []int
	rows  map[*tableWrite][]any // each table's rows' arguments, flat
	seen  map[*tableWrite]map[any]bool
	// watermarks: one row per stream (see mergeWatermark).
	watermarks map[string]*watermarkRow
	streams    []string
}

type watermarkRow struct {
	events            int64
	eventAt, applied  time.Time
	eventID           string
	eventAtWasUnknown bool
}

func newWriteBuffer(d sqldb.Dialect) *writeBuffer {
	return &writeBuffer{dialect: d, rows: map[*tableWrite][]any{}, seen: map[*tableWrite]map[any]bool{}, watermarks: map[string]*watermarkRow{}}
}

func (b *writeBuffer) add(t *tableWrite, args []any) {
	if t.dedupe {
		seen := b.seen[t]
		if seen == nil {
			seen = map[any]bool{}
			b.seen[t] = seen
		}
		if seen[args[0]] {
			return
		}
		seen[args[0]] = true
	}
	b.rows[t] = append(b.rows[t], args...)
}

// addWatermark counts one event of stream (see advanceWatermark).
func (b *writeBuffer) addWatermark(stream, eventID string, eventAt, appliedAt time.Time) {
	w, ok := b.watermarks[stream]
	if !ok {
		b.watermarks[stream] = &watermarkRow{events: 1, eventAt: eventAt, eventID: eventID, applied: appliedAt}
		b.streams = append(b.streams, stream)
		return
	}
	mergeWatermark(w, eventID, eventAt, appliedAt)
}

// mergeWatermark is the statement's rule for one more event in Go: the
// count grows by one; the event becomes the newest unless it is older than
// the one kept (ties go to the later); an unknown (NULL) time on either
// side keeps the one kept, as the CASE does when its comparison is NULL.
func mergeWatermark(w *watermarkRow, eventID string, eventAt, appliedAt time.Time) {
	w.events++
	if !eventAt.IsZero() && !w.eventAt.IsZero() && !eventAt.Truncate(time.Millisecond).Before(w.eventAt.Truncate(time.Millisecond)) {
		w.eventAt, w.eventID = eventAt, eventID
	}
	w.applied = appliedAt
}

// flush writes the buffer's rows in tx and empties it.
func (b *writeBuffer) flush(ctx context.Context, tx *sqldb.Tx) error {
	d := tx.Dialect()
	if len(b.streams) > 0 {
		for _, st := range b.streams {
			w := b.watermarks[st]
			b.rows[writeWatermark] = append(b.rows[writeWatermark], st, w.events, dbTime(d, w.eventAt), w.eventID, dbTime(d, w.applied))
		}
	}
	for _, t := range flushOrder {
		args := b.rows[t]
		if len(args) == 0 {
			continue
		}
		if t.upsert && d == sqldb.Postgres {
			if err := flushGenerations(ctx, tx, t, args); err != nil {
				return err
			}
			continue
		}
		if err := flushRows(ctx, tx, t, args); err != nil {
			return err
		}
	}
	clear(b.rows)
	clear(b.seen)
	clear(b.watermarks)
	b.streams = b.streams[:0]
	return nil
}

// flushRows writes rows (flat arguments) of t in as few statements as the
// parameter limit allows, in order.
func flushRows(ctx context.Context, tx *sqldb.Tx, t *tableWrite, args []any) error {
	d := tx.Dialect()
	n := len(t.cols)
	per := maxParams(d) / n * n
	for len(args) > 0 {
		part := args[:min(per, len(args))]
		args = args[len(part):]
		if _, err := tx.ExecContext(ctx, t.statement(d, len(part)/n), part...); err != nil {
			return fmt.Errorf("write %s: %w", t.table, err)
		}
	}
	return nil
}

// flushGenerations writes an upsert's rows so that no statement meets a
// key twice: the n-th row of each key goes into the n-th generation.
func flushGenerations(ctx context.Context, tx *sqldb.Tx, t *tableWrite, args []any) error {
	n := len(t.cols)
	count := map[any]int{}
	var gens [][]any
	for i := 0; i < len(args); i += n {
		g := count[args[i]]
		count[args[i]] = g + 1
		if g == len(gens) {
			gens = append(gens, nil)
		}
		gens[g] = append(gens[g], args[i:i+n]...)
	}
	for _, g := range gens {
		if err := flushRows(ctx, tx, t, g); err != nil {
			return err
		}
	}
	return nil
}
