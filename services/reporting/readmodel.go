package reporting

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/bounded-dev/bounded/platform/sqldb"
)

// The order history is a CQRS read model: a customer's orders, each with
// its status, amounts, payment and shipment status and timeline, kept from
// Orders', Payments' and Fulfillment's events in this service's own
// database. A read is one query on one database, whatever the other
// services are doing; the price is lag: each order carries the creation
// time of the last event applied to it and when it was applied.

// HistoryOrder is one order of a customer's history.
type HistoryOrder struct {
	OrderID        string         `json:"order_id"`
	Status         string         `json:"status"` // confirmed, paid, reserved, shipped or cancelled
	CancelReason   string         `json:"cancel_reason,omitempty"`
	TotalCents     int64          `json:"total_cents"`
	Currency       string         `json:"currency"`
	Items          []historyItem  `json:"items"`
	PaymentStatus  string         `json:"payment_status"`  // pending, captured, declined, voided, refunded, partially_refunded
	ShipmentStatus string         `json:"shipment_status"` // none, created, dispatched
	PaidCents      int64          `json:"paid_cents"`
	RefundedCents  int64          `json:"refunded_cents"`
	ConfirmedAt    time.Time      `json:"confirmed_at"`
	Timeline       []HistoryEntry `json:"timeline"`
	Freshness      Freshness      `json:"freshness"`
}

// HistoryEntry is one fact of an order's timeline, with the time it
// happened (at), its event's creation time and when it was applied.
type HistoryEntry struct {
	Kind        string    `json:"kind"`
	Ref         string    `json:"ref,omitempty"`
	At          time.Time `json:"at"`
	AmountCents *int64    `json:"amount_cents,omitempty"`
	Detail      string    `json:"detail,omitempty"`
	EventAt     time.Time `json:"event_at"`
	AppliedAt   time.Time `json:"applied_at"`
}

// Freshness is the lag of a read-model row: the creation time of the last
// event applied to it, when it was applied, and the difference.
type Freshness struct {
	LastEventAt time.Time `json:"last_event_at"`
	AppliedAt   time.Time `json:"applied_at"`
	LagMillis   int64     `json:"lag_ms"`
}

// orderHistory returns the customer's orders, newest first.
func orderHistory(ctx context.Context, db *sqldb.DB, email string, limit int) ([]HistoryOrder, error) {
	q := db.Dialect().Rebind
	rows, err := db.QueryContext(ctx, q(`SELECT order_id, COALESCE(total_cents, 0), COALESCE(currency, ''), items,
			confirmed_at, paid_at, reserved_at, shipped_at, cancelled_at, cancel_reason, last_event_at, applied_at
		FROM order_history WHERE customer_email = $1 ORDER BY confirmed_at DESC, order_id DESC LIMIT $2`), normalEmail(email), limit)
	if err != nil {
		return nil, fmt.Errorf("order history: %w", err)
	}
	defer rows.Close()
	out := []HistoryOrder{}
	byID := map[string]int{}
	for rows.Next() {
		var o HistoryOrder
		var items, reason sql.NullString
		var paid, reserved, shipped, cancelled time.Time
		if err := rows.Scan(&o.OrderID, &o.TotalCents, &o.Currency, &items, sqldb.TimeCol{T: &o.ConfirmedAt},
			sqldb.TimeCol{T: &paid}, sqldb.TimeCol{T: &reserved}, sqldb.TimeCol{T: &shipped}, sqldb.TimeCol{T: &cancelled}, &reason,
			sqldb.TimeCol{T: &o.Freshness.LastEventAt}, sqldb.TimeCol{T: &o.Freshness.AppliedAt}); err != nil {
			return nil, fmt.Errorf("order history: %w", err)
		}
		o.Items = []historyItem{}
		if items.Valid {
			if err := json.Unmarshal([]byte(items.String), &o.Items); err != nil {
				return nil, fmt.Errorf("order history %s: items: %w", o.OrderID, err)
			}
		}
		switch {
		case !cancelled.IsZero():
			o.Status, o.CancelReason = "cancelled", reason.String
		case !shipped.IsZero():
			o.Status = "shipped"
		case !reserved.IsZero():
			o.Status = "reserved"
		case !paid.IsZero():
			o.Status = "paid"
		default:
			o.Status = "confirmed"
		}
		o.Freshness.LagMillis = o.Freshness.AppliedAt.Sub(o.Freshness.LastEventAt).Milliseconds()
		o.Timeline = []HistoryEntry{}
		byID[o.OrderID] = len(out)
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("order history: %w", err)
	}
	rows.Close()
	if len(out) == 0 {
		return out, nil
	}
	ids := make([]any, 0, len(out))
	marks := make([]string, 0, len(out))
	for i, o := range out {
		ids = append(ids, o.OrderID)
		marks = append(marks, fmt.Sprintf("$%d", i+1))
	}
	entries, err := db.QueryContext(ctx, q(`SELECT order_id, kind, ref, at, amount_cents, detail, event_at, applied_at
		FROM order_history_entries WHERE order_id IN (`+strings.Join(marks, ", ")+`) ORDER BY order_id, at, entry_key`), ids...)
	if err != nil {
		return nil, fmt.Errorf("order history entries: %w", err)
	}
	defer entries.Close()
	for entries.Next() {
		var id string
		var h HistoryEntry
		var ref, detail sql.NullString
		var amount sql.NullInt64
		if err := entries.Scan(&id, &h.Kind, &ref, sqldb.TimeCol{T: &h.At}, &amount, &detail, sqldb.TimeCol{T: &h.EventAt}, sqldb.TimeCol{T: &h.AppliedAt}); err != nil {
			return nil, fmt.Errorf("order history entries: %w", err)
		}
		h.Ref, h.Detail = ref.String, detail.String
		if amount.Valid {
			h.AmountCents = &amount.Int64
		}
		o := &out[byID[id]]
		o.Timeline = append(o.Timeline, h)
	}
	if err := entries.Err(); err != nil {
		return nil, fmt.Errorf("order history entries: %w", err)
	}
	for i := range out {
		o := &out[i]
		o.PaymentStatus, o.ShipmentStatus, o.PaidCents, o.RefundedCents = summarize(o.Timeline)
		if o.Status == "cancelled" && o.ShipmentStatus == "created" {
			// Fulfillment publishes no cancellation of a shipment: by its
			// rule, an order's cancellation cancels its shipment unless it
			// was dispatched.
			o.ShipmentStatus = "cancelled"
		}
	}
	return out, nil
}

// summarize derives an order's payment and shipment status from its
// timeline. The entries are facts keyed by what they are about, so this
// holds whatever order they arrived in.
func summarize(timeline []HistoryEntry) (payment, shipment string, paid, refunded int64) {
	payment, shipment = "pending", "none"
	var captured, declined, voided bool
	for _, h := range timeline {
		amount := int64(0)
		if h.AmountCents != nil {
			amount = *h.AmountCents
		}
		switch h.Kind {
		case "payment_captured":
			captured, paid = true, paid+amount
		case "payment_declined":
			declined = true
		case "payment_voided":
			voided = true
		case "refund_issued":
			refunded += amount
		case "shipment_created":
			if shipment == "none" {
				shipment = "created"
			}
		case "shipment_dispatched":
			shipment = "dispatched"
		}
	}
	switch {
	case captured && refunded >= paid:
		payment = "refunded"
	case captured && refunded > 0:
		payment = "partially_refunded"
	case captured:
		payment = "captured"
	case declined:
		payment = "declined"
	case voided:
		payment = "voided"
	}
	return payment, shipment, paid, refunded
}
