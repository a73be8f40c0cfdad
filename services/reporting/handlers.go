package reporting

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/bounded-dev/bounded/platform/contract"
	"github.com/bounded-dev/bounded/platform/inbox"
	"github.com/bounded-dev/bounded/platform/service"
	"github.com/bounded-dev/bounded/platform/sqldb"
	cartevents "github.com/bounded-dev/bounded/services/cart/events"
	catalogevents "github.com/bounded-dev/bounded/services/catalog/events"
	fulfillmentevents "github.com/bounded-dev/bounded/services/fulfillment/events"
	inventoryevents "github.com/bounded-dev/bounded/services/inventory/events"
	ordersevents "github.com/bounded-dev/bounded/services/orders/events"
	paymentsevents "github.com/bounded-dev/bounded/services/payments/events"
)

// Every handler runs in its consumer's transaction: it first advances its
// stream's watermark (begin), then loads its facts, each an insert that is
// idempotent on the fact's natural key or an upsert that only fills what
// the event tells. Nothing reads the service's clock but the applied_at
// columns, so a replay from the streams' start rebuilds the same
// warehouse.
//
// An event whose data cannot be loaded (no order id, no time) is
// dead-lettered at once (inbox.Permanent): a retry cannot fix it, and
// dropping it silently would make a report wrong without a trace.

var errMissing = errors.New("missing")

// permanent marks an event's bad data for the dead-letter table.
func permanent(e contract.Event, what string) error {
	return inbox.Permanent(fmt.Errorf("%s %s: %s: %w", e.Type, e.ID, what, errMissing))
}

// require reports the first empty field of the event's data.
func require(e contract.Event, fields ...any) error {
	for i := 0; i+1 < len(fields); i += 2 {
		name := fields[i].(string)
		switch v := fields[i+1].(type) {
		case string:
			if strings.TrimSpace(v) == "" {
				return permanent(e, name)
			}
		case time.Time:
			if v.IsZero() {
				return permanent(e, name)
			}
		}
	}
	return nil
}

// begin advances the watermark of e's stream and returns the time the event
// is applied at.
func begin(ctx context.Context, tx *sqldb.Tx, e contract.Event) (time.Time, error) {
	name, _, err := contract.ParseType(e.Type)
	if err != nil {
		return time.Time{}, inbox.Permanent(err)
	}
	if err := fence(ctx, tx); err != nil {
		return time.Time{}, err
	}
	at := now()
	return at, advanceWatermark(ctx, tx, service.Source(name), e.ID, e.Time, at)
}

// readModelApplied measures the read model's lag for e once the
// transaction that applied it has committed.
// A replay's old events would only blur the live lag: not measured.
func (s *reporting) readModelApplied(ctx context.Context, tx *sqldb.Tx, e contract.Event) {
	if replaying(ctx) {
		return
	}
	tx.AfterCommit(func() { s.m.readModelLag.Observe(time.Since(e.Time).Seconds()) })
}

// prepareBatch takes the locks a batch of events needs on PostgreSQL in
// one order before the handlers run: the rows of the orders it is about
// (facts and read model), sorted. Otherwise two consumers' batches that
// touch the same orders in opposite orders could deadlock (the inbox would
// retry them, but at a cost). The watermark rows are written, and locked,
// last, in stream order (see liveWatermarks): a transaction that holds
// one holds every other lock it will take but watermarks, so no cycle
// goes through them. SQLite has one writer: nothing to order.
func (s *reporting) prepareBatch(ctx context.Context, tx *sqldb.Tx, batch []contract.Event) error {
	if tx.Dialect() != sqldb.Postgres {
		return nil
	}
	var orders []string
	for _, e := range batch {
		name, _, err := contract.ParseType(e.Type)
		if err != nil {
			continue // the handler dead-letters it
		}
		switch service.Source(name) {
		case "orders", "payments", "fulfillment":
			orders = append(orders, e.Subject) // their subject is the order id
		case "inventory":
			if strings.HasPrefix(name, "inventory.reservation_") {
				orders = append(orders, e.Subject)
			}
		}
	}
	slices.Sort(orders)
	orders = slices.Compact(orders)
	if len(orders) == 0 {
		return nil
	}
	for _, table := range []string{"fact_order", "order_history"} {
		if _, err := tx.ExecContext(ctx, `SELECT 1 FROM `+table+` WHERE order_id = ANY($1) ORDER BY order_id FOR UPDATE`, orders); err != nil {
			return fmt.Errorf("lock %s: %w", table, err)
		}
	}
	return nil
}

// --- catalog

func (s *reporting) onProductUpdated(ctx context.Context, tx *sqldb.Tx, e contract.Event, d catalogevents.ProductUpdatedV2) error {
	if _, err := begin(ctx, tx, e); err != nil {
		return err
	}
	if err := require(e, "sku", d.SKU); err != nil {
		return err
	}
	return upsertProduct(ctx, tx, product{SKU: d.SKU, Name: d.Name, Category: d.Category, Currency: d.Currency,
		PriceCents: d.PriceCents, Version: d.Version, Active: d.Active})
}

func (s *reporting) onCategoryUpdated(ctx context.Context, tx *sqldb.Tx, e contract.Event, d catalogevents.CategoryUpdatedV1) error {
	if _, err := begin(ctx, tx, e); err != nil {
		return err
	}
	if err := require(e, "slug", d.Slug); err != nil {
		return err
	}
	return upsertCategory(ctx, tx, d.Slug, d.Name, d.Version)
}

// --- cart

func (s *reporting) onCheckedOut(ctx context.Context, tx *sqldb.Tx, e contract.Event, d cartevents.CheckedOutV1) error {
	if _, err := begin(ctx, tx, e); err != nil {
		return err
	}
	if err := require(e, "cart_id", d.CartID, "checked_out_at", d.CheckedOutAt); err != nil {
		return err
	}
	c := checkout{CartID: d.CartID, OrderID: d.OrderID, CustomerEmail: normalEmail(d.CustomerEmail), Currency: d.Currency, At: d.CheckedOutAt}
	for _, it := range d.Items {
		c.Units += int64(it.Quantity)
		c.ValueCents += int64(it.Quantity) * it.UnitPriceCents
	}
	if err := s.ensureDate(ctx, tx, c.At); err != nil {
		return err
	}
	return insertCheckout(ctx, tx, c)
}

// normalEmail is the form emails are kept and looked up in.
func normalEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// --- orders

// historyItem is an order line as the order history keeps it (JSON).
type historyItem struct {
	SKU            string `json:"sku"`
	Name           string `json:"name"`
	Quantity       int    `json:"quantity"`
	UnitPriceCents int64  `json:"unit_price_cents"`
}

func (s *reporting) onOrderConfirmed(ctx context.Context, tx *sqldb.Tx, e contract.Event, d ordersevents.OrderConfirmedV1) error {
	applied, err := begin(ctx, tx, e)
	if err != nil {
		return err
	}
	if err := require(e, "order_id", d.OrderID, "confirmed_at", d.ConfirmedAt); err != nil {
		return err
	}
	email := normalEmail(d.CustomerEmail)
	if err := s.ensureDate(ctx, tx, d.ConfirmedAt); err != nil {
		return err
	}
	if err := upsertFactOrder(ctx, tx, orderFacts{OrderID: d.OrderID, CustomerEmail: email, Currency: d.Currency,
		TotalCents: d.TotalCents, HasTotal: true, Confirmed: d.ConfirmedAt}); err != nil {
		return err
	}
	items := make([]historyItem, len(d.Items))
	for i, it := range d.Items {
		if it.SKU == "" {
			return permanent(e, fmt.Sprintf("items[%d].sku", i))
		}
		if err := inferProduct(ctx, tx, it.SKU); err != nil {
			return err
		}
		if err := insertOrderLine(ctx, tx, d.OrderID, orderLine{LineNo: i + 1, SKU: it.SKU, Name: it.Name, Currency: d.Currency,
			Quantity: int64(it.Quantity), UnitPrice: it.UnitPriceCents, ConfirmedAt: d.ConfirmedAt}); err != nil {
			return err
		}
		items[i] = historyItem(it)
	}
	b, err := json.Marshal(items)
	if err != nil {
		return err
	}
	if err := upsertHistory(ctx, tx, historyFacts{OrderID: d.OrderID, CustomerEmail: email, Currency: d.Currency,
		Items: string(b), TotalCents: d.TotalCents, HasTotal: true, Confirmed: d.ConfirmedAt}, e.Time, applied); err != nil {
		return err
	}
	if err := insertHistoryEntry(ctx, tx, historyEntry{OrderID: d.OrderID, Kind: "order_confirmed", At: d.ConfirmedAt,
		AmountCents: d.TotalCents, HasAmount: true}, e.Time, applied); err != nil {
		return err
	}
	s.readModelApplied(ctx, tx, e)
	return nil
}

// orderMilestone loads an order's paid, reserved or shipped event: a
// milestone of the accumulating order fact and an entry of its history.
func (s *reporting) orderMilestone(ctx context.Context, tx *sqldb.Tx, e contract.Event, orderID, kind, ref string, at time.Time, f orderFacts, h historyFacts) error {
	applied, err := begin(ctx, tx, e)
	if err != nil {
		return err
	}
	if err := require(e, "order_id", orderID, "time", at); err != nil {
		return err
	}
	if err := s.ensureDate(ctx, tx, at); err != nil {
		return err
	}
	f.OrderID, h.OrderID = orderID, orderID
	if err := upsertFactOrder(ctx, tx, f); err != nil {
		return err
	}
	if err := upsertHistory(ctx, tx, h, e.Time, applied); err != nil {
		return err
	}
	if err := insertHistoryEntry(ctx, tx, historyEntry{OrderID: orderID, Kind: kind, Ref: ref, At: at}, e.Time, applied); err != nil {
		return err
	}
	s.readModelApplied(ctx, tx, e)
	return nil
}

func (s *reporting) onOrderPaid(ctx context.Context, tx *sqldb.Tx, e contract.Event, d ordersevents.OrderPaidV1) error {
	return s.orderMilestone(ctx, tx, e, d.OrderID, "order_paid", "", d.PaidAt, orderFacts{Paid: d.PaidAt}, historyFacts{Paid: d.PaidAt})
}

func (s *reporting) onOrderReserved(ctx context.Context, tx *sqldb.Tx, e contract.Event, d ordersevents.OrderReservedV1) error {
	return s.orderMilestone(ctx, tx, e, d.OrderID, "order_reserved", "", d.ReservedAt, orderFacts{Reserved: d.ReservedAt}, historyFacts{Reserved: d.ReservedAt})
}

func (s *reporting) onOrderShipped(ctx context.Context, tx *sqldb.Tx, e contract.Event, d ordersevents.OrderShippedV1) error {
	return s.orderMilestone(ctx, tx, e, d.OrderID, "order_shipped", "", d.ShippedAt, orderFacts{Shipped: d.ShippedAt}, historyFacts{Shipped: d.ShippedAt})
}

func (s *reporting) onOrderCancelled(ctx context.Context, tx *sqldb.Tx, e contract.Event, d ordersevents.OrderCancelledV1) error {
	if d.Reason == "" {
		d.Reason = "unknown"
	}
	return s.orderMilestone(ctx, tx, e, d.OrderID, "order_cancelled", "", d.CancelledAt,
		orderFacts{Cancelled: d.CancelledAt, CancelReason: d.Reason, CancelPrevious: d.PreviousStatus,
			TotalCents: d.TotalCents, HasTotal: true, Currency: d.Currency},
		historyFacts{Cancelled: d.CancelledAt, CancelReason: d.Reason, TotalCents: d.TotalCents, HasTotal: true, Currency: d.Currency})
}

// --- payments

// paymentFact loads a payment's outcome: a payment fact and an entry of
// its order's history.
func (s *reporting) paymentFact(ctx context.Context, tx *sqldb.Tx, e contract.Event, p payment) error {
	applied, err := begin(ctx, tx, e)
	if err != nil {
		return err
	}
	if err := require(e, "payment_id", p.PaymentID, "order_id", p.OrderID, "time", p.At); err != nil {
		return err
	}
	if err := s.ensureDate(ctx, tx, p.At); err != nil {
		return err
	}
	if err := insertPayment(ctx, tx, p); err != nil {
		return err
	}
	if err := upsertHistory(ctx, tx, historyFacts{OrderID: p.OrderID}, e.Time, applied); err != nil {
		return err
	}
	if err := insertHistoryEntry(ctx, tx, historyEntry{OrderID: p.OrderID, Kind: "payment_" + p.Outcome, Ref: p.PaymentID,
		At: p.At, AmountCents: p.AmountCents, HasAmount: true, Detail: p.Reason}, e.Time, applied); err != nil {
		return err
	}
	s.readModelApplied(ctx, tx, e)
	return nil
}

func (s *reporting) onPaymentCaptured(ctx context.Context, tx *sqldb.Tx, e contract.Event, d paymentsevents.PaymentCapturedV1) error {
	return s.paymentFact(ctx, tx, e, payment{PaymentID: d.PaymentID, Outcome: "captured", OrderID: d.OrderID, Currency: d.Currency,
		AmountCents: d.AmountCents, Attempts: d.Attempts, At: d.CapturedAt})
}

func (s *reporting) onPaymentDeclined(ctx context.Context, tx *sqldb.Tx, e contract.Event, d paymentsevents.PaymentDeclinedV1) error {
	return s.paymentFact(ctx, tx, e, payment{PaymentID: d.PaymentID, Outcome: "declined", OrderID: d.OrderID, Currency: d.Currency,
		AmountCents: d.AmountCents, Attempts: d.Attempts, Reason: d.Reason, At: d.DeclinedAt})
}

func (s *reporting) onPaymentVoided(ctx context.Context, tx *sqldb.Tx, e contract.Event, d paymentsevents.PaymentVoidedV1) error {
	return s.paymentFact(ctx, tx, e, payment{PaymentID: d.PaymentID, Outcome: "voided", OrderID: d.OrderID, Currency: d.Currency,
		AmountCents: d.AmountCents, Reason: d.Reason, At: d.VoidedAt})
}

func (s *reporting) onRefundIssued(ctx context.Context, tx *sqldb.Tx, e contract.Event, d paymentsevents.RefundIssuedV1) error {
	applied, err := begin(ctx, tx, e)
	if err != nil {
		return err
	}
	if err := require(e, "refund_id", d.RefundID, "order_id", d.OrderID, "refunded_at", d.RefundedAt); err != nil {
		return err
	}
	if err := s.ensureDate(ctx, tx, d.RefundedAt); err != nil {
		return err
	}
	if err := insertRefund(ctx, tx, refund{RefundID: d.RefundID, PaymentID: d.PaymentID, OrderID: d.OrderID, Currency: d.Currency,
		Reason: d.Reason, AmountCents: d.AmountCents, At: d.RefundedAt}); err != nil {
		return err
	}
	if err := upsertHistory(ctx, tx, historyFacts{OrderID: d.OrderID}, e.Time, applied); err != nil {
		return err
	}
	if err := insertHistoryEntry(ctx, tx, historyEntry{OrderID: d.OrderID, Kind: "refund_issued", Ref: d.RefundID,
		At: d.RefundedAt, AmountCents: d.AmountCents, HasAmount: true, Detail: d.Reason}, e.Time, applied); err != nil {
		return err
	}
	s.readModelApplied(ctx, tx, e)
	return nil
}

// --- inventory

func units(lines []inventoryevents.Line) int64 {
	var n int64
	for _, l := range lines {
		n += int64(l.Quantity)
	}
	return n
}

func (s *reporting) reservationFact(ctx context.Context, tx *sqldb.Tx, e contract.Event, r reservation) error {
	if _, err := begin(ctx, tx, e); err != nil {
		return err
	}
	if err := require(e, "order_id", r.OrderID, "time", r.At); err != nil {
		return err
	}
	if err := s.ensureDate(ctx, tx, r.At); err != nil {
		return err
	}
	return insertReservation(ctx, tx, r)
}

func (s *reporting) onReservationConfirmed(ctx context.Context, tx *sqldb.Tx, e contract.Event, d inventoryevents.ReservationConfirmedV1) error {
	return s.reservationFact(ctx, tx, e, reservation{OrderID: d.OrderID, Outcome: "confirmed", ReservationID: d.ReservationID,
		Units: units(d.Items), At: d.ConfirmedAt})
}

func (s *reporting) onReservationReleased(ctx context.Context, tx *sqldb.Tx, e contract.Event, d inventoryevents.ReservationReleasedV1) error {
	return s.reservationFact(ctx, tx, e, reservation{OrderID: d.OrderID, Outcome: "released", ReservationID: d.ReservationID,
		Reason: d.Reason, Units: units(d.Items), At: d.ReleasedAt})
}

func (s *reporting) onReservationFailed(ctx context.Context, tx *sqldb.Tx, e contract.Event, d inventoryevents.ReservationFailedV1) error {
	var requested int64
	for _, sh := range d.Shortages {
		requested += int64(sh.Requested)
	}
	if err := s.reservationFact(ctx, tx, e, reservation{OrderID: d.OrderID, Outcome: "failed", Reason: d.Reason,
		Units: requested, At: d.FailedAt}); err != nil {
		return err
	}
	for i, sh := range d.Shortages {
		if sh.SKU == "" {
			return permanent(e, fmt.Sprintf("shortages[%d].sku", i))
		}
		if err := inferProduct(ctx, tx, sh.SKU); err != nil {
			return err
		}
		if err := insertStockout(ctx, tx, stockout{OrderID: d.OrderID, SKU: sh.SKU, Reason: d.Reason,
			Requested: int64(sh.Requested), Available: int64(sh.Available), At: d.FailedAt}); err != nil {
			return err
		}
	}
	return nil
}

func (s *reporting) onStockChanged(ctx context.Context, tx *sqldb.Tx, e contract.Event, d inventoryevents.StockChangedV1) error {
	if _, err := begin(ctx, tx, e); err != nil {
		return err
	}
	if err := require(e, "sku", d.SKU, "reason", d.Reason, "changed_at", d.ChangedAt); err != nil {
		return err
	}
	if err := s.ensureDate(ctx, tx, d.ChangedAt); err != nil {
		return err
	}
	if err := inferProduct(ctx, tx, d.SKU); err != nil {
		return err
	}
	if err := insertStockMovement(ctx, tx, stockMovement{SKU: d.SKU, Reason: d.Reason, Ref: d.Ref,
		DeltaOnHand: int64(d.DeltaOnHand), DeltaReserved: int64(d.DeltaReserved), OnHand: int64(d.OnHand),
		Reserved: int64(d.Reserved), At: d.ChangedAt}); err != nil {
		return err
	}
	if d.Reason == inventoryevents.StockPurchaseOrderReceived && d.Ref != "" {
		// The receipt of a purchase order is told only by its stock
		// movement, whose reference is the purchase order.
		return upsertPurchaseOrder(ctx, tx, purchaseOrderFacts{ID: d.Ref, SKU: d.SKU, ReceivedAt: d.ChangedAt,
			Received: int64(d.DeltaOnHand), HasReceived: true})
	}
	return nil
}

func (s *reporting) onPurchaseOrderPlaced(ctx context.Context, tx *sqldb.Tx, e contract.Event, d inventoryevents.PurchaseOrderPlacedV1) error {
	if _, err := begin(ctx, tx, e); err != nil {
		return err
	}
	if err := require(e, "purchase_order_id", d.PurchaseOrderID, "sku", d.SKU, "placed_at", d.PlacedAt); err != nil {
		return err
	}
	if err := s.ensureDate(ctx, tx, d.PlacedAt); err != nil {
		return err
	}
	if err := inferProduct(ctx, tx, d.SKU); err != nil {
		return err
	}
	return upsertPurchaseOrder(ctx, tx, purchaseOrderFacts{ID: d.PurchaseOrderID, SKU: d.SKU,
		Quantity: int64(d.Quantity), HasQuantity: true, Placed: d.PlacedAt})
}

func (s *reporting) onPurchaseOrderFlagged(ctx context.Context, tx *sqldb.Tx, e contract.Event, d inventoryevents.PurchaseOrderFlaggedV1) error {
	if _, err := begin(ctx, tx, e); err != nil {
		return err
	}
	if err := require(e, "purchase_order_id", d.PurchaseOrderID, "sku", d.SKU, "flagged_at", d.FlaggedAt); err != nil {
		return err
	}
	if err := s.ensureDate(ctx, tx, d.FlaggedAt); err != nil {
		return err
	}
	if err := inferProduct(ctx, tx, d.SKU); err != nil {
		return err
	}
	missing := slices.Clone(d.Missing)
	slices.Sort(missing)
	return upsertPurchaseOrder(ctx, tx, purchaseOrderFacts{ID: d.PurchaseOrderID, SKU: d.SKU,
		Flagged: d.FlaggedAt, Missing: strings.Join(missing, ",")})
}

// --- fulfillment

func shippedUnits(lines []fulfillmentevents.Line) int64 {
	var n int64
	for _, l := range lines {
		n += int64(l.Quantity)
	}
	return n
}

func (s *reporting) shipmentFact(ctx context.Context, tx *sqldb.Tx, e contract.Event, f shipmentFacts, kind string, at time.Time) error {
	applied, err := begin(ctx, tx, e)
	if err != nil {
		return err
	}
	if err := require(e, "shipment_id", f.ShipmentID, "order_id", f.OrderID, "time", at); err != nil {
		return err
	}
	if err := s.ensureDate(ctx, tx, at); err != nil {
		return err
	}
	if err := upsertShipment(ctx, tx, f); err != nil {
		return err
	}
	if err := upsertHistory(ctx, tx, historyFacts{OrderID: f.OrderID}, e.Time, applied); err != nil {
		return err
	}
	if err := insertHistoryEntry(ctx, tx, historyEntry{OrderID: f.OrderID, Kind: kind, Ref: f.ShipmentID, At: at,
		Detail: f.Package}, e.Time, applied); err != nil {
		return err
	}
	s.readModelApplied(ctx, tx, e)
	return nil
}

func (s *reporting) onShipmentCreated(ctx context.Context, tx *sqldb.Tx, e contract.Event, d fulfillmentevents.ShipmentCreatedV1) error {
	return s.shipmentFact(ctx, tx, e, shipmentFacts{ShipmentID: d.ShipmentID, OrderID: d.OrderID, Package: d.Package,
		Units: shippedUnits(d.Items), Created: d.CreatedAt}, "shipment_created", d.CreatedAt)
}

func (s *reporting) onShipmentDispatched(ctx context.Context, tx *sqldb.Tx, e contract.Event, d fulfillmentevents.ShipmentDispatchedV1) error {
	return s.shipmentFact(ctx, tx, e, shipmentFacts{ShipmentID: d.ShipmentID, OrderID: d.OrderID, Package: d.Package,
		Units: shippedUnits(d.Items), Dispatched: d.DispatchedAt}, "shipment_dispatched", d.DispatchedAt)
}
