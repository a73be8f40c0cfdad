package fulfillment

import (
	"context"
	"fmt"
	"time"

	"github.com/bounded-dev/bounded/platform/contract"
	"github.com/bounded-dev/bounded/platform/inbox"
	"github.com/bounded-dev/bounded/platform/sqldb"
	"github.com/bounded-dev/bounded/services/fulfillment/events"
	inventoryevents "github.com/bounded-dev/bounded/services/inventory/events"
	ordersevents "github.com/bounded-dev/bounded/services/orders/events"
	paymentsevents "github.com/bounded-dev/bounded/services/payments/events"
)

// Every handler runs in its consumer's transaction and starts with one
// statement that adds its event's fact to the order's preparation record and
// reads the whole record back (upsertPreparation). The handler that
// completes "confirmed and reserved" creates the shipment; so whatever the
// order of arrival, exactly one does, and a repeated event finds its fact
// there already and the shipment existing (its insert is a no-op).
//
// An event whose data is unusable (no valid order id, no items, no address)
// is dead-lettered at once (inbox.Permanent): retrying cannot fix it, and
// silently dropping it would lose a shipment.

// orderConfirmedFacts validates an orders.order_confirmed payload and
// returns what Fulfillment keeps of it.
func orderConfirmedFacts(d ordersevents.OrderConfirmedV1) (preparationFacts, error) {
	if err := checkOrderID(d.OrderID); err != nil {
		return preparationFacts{}, err
	}
	items := make([]Line, len(d.Items))
	for i, it := range d.Items {
		items[i] = Line{SKU: it.SKU, Quantity: it.Quantity}
	}
	if err := checkLines(items); err != nil {
		return preparationFacts{}, err
	}
	a := d.ShippingAddress
	addr := Address{Name: a.Name, Line1: a.Line1, Line2: a.Line2, City: a.City, PostalCode: a.PostalCode, Country: a.Country}
	if err := checkAddress(addr); err != nil {
		return preparationFacts{}, err
	}
	return preparationFacts{OrderID: d.OrderID, Items: items, Address: addr}, nil
}

// permanent marks an event's bad data for the dead-letter table.
func permanent(e contract.Event, err error) error {
	return inbox.Permanent(fmt.Errorf("%s %s: %w", e.Type, e.ID, err))
}

func (s *fulfillment) onOrderConfirmed(ctx context.Context, tx *sqldb.Tx, e contract.Event, d ordersevents.OrderConfirmedV1) error {
	f, err := orderConfirmedFacts(d)
	if err != nil {
		return permanent(e, err)
	}
	at := now()
	f.Confirmed = at
	p, err := upsertPreparation(ctx, tx, f, at)
	if err != nil {
		return err
	}
	return s.createShipmentIfDue(ctx, tx, p, at)
}

func (s *fulfillment) onReservationConfirmed(ctx context.Context, tx *sqldb.Tx, e contract.Event, d inventoryevents.ReservationConfirmedV1) error {
	if err := checkOrderID(d.OrderID); err != nil {
		return permanent(e, err)
	}
	at := now()
	p, err := upsertPreparation(ctx, tx, preparationFacts{OrderID: d.OrderID, Reserved: at}, at)
	if err != nil {
		return err
	}
	return s.createShipmentIfDue(ctx, tx, p, at)
}

// createShipmentIfDue creates, packs and announces the order's shipment once
// the order is confirmed and reserved (and not cancelled), unless it exists.
// A shipment of an order paid already is due for dispatch at once (after
// DispatchDelay), unless it is unpackable: that one is never dispatched.
func (s *fulfillment) createShipmentIfDue(ctx context.Context, tx *sqldb.Tx, p preparation, at time.Time) error {
	if !p.shipmentDue() {
		return nil
	}
	pkg, err := choosePackage(ctx, tx, totalQuantity(p.Items))
	if err != nil {
		return err
	}
	sh, err := newShipment(p.OrderID, p.Items, p.Address, pkg, at)
	if err != nil {
		return err
	}
	var due time.Time
	if !sh.Unpackable() {
		due = p.dispatchDue(s.cfg.DispatchDelay)
	}
	inserted, err := insertShipment(ctx, tx, sh, due)
	if err != nil || !inserted {
		return err // !inserted: a repeated event; the shipment exists
	}
	ev, err := events.NewShipmentCreated(events.ShipmentCreatedV1{
		ShipmentID: sh.ID, OrderID: sh.OrderID, Package: sh.Package, Items: eventLines(sh.Items), CreatedAt: sh.Created,
	})
	if err != nil {
		return err
	}
	if err := s.env.Outbox.Record(ctx, tx, ev); err != nil {
		return err
	}
	tx.AfterCommit(func() {
		s.m.created.Inc()
		if sh.Unpackable() {
			s.m.unpackable.Inc()
			s.log.Warn("shipment fits no packaging rule: created as unpackable and not dispatched",
				"shipment", sh.ID, "order", sh.OrderID, "total_quantity", totalQuantity(sh.Items))
		}
		if !due.IsZero() {
			s.wakeDispatcher()
		}
	})
	return nil
}

func (s *fulfillment) onPaymentCaptured(ctx context.Context, tx *sqldb.Tx, e contract.Event, d paymentsevents.PaymentCapturedV1) error {
	if err := checkOrderID(d.OrderID); err != nil {
		return permanent(e, err)
	}
	at := now()
	p, err := upsertPreparation(ctx, tx, preparationFacts{OrderID: d.OrderID, Paid: at}, at)
	if err != nil {
		return err
	}
	if !p.shipmentDue() {
		return nil // no shipment yet: its creation will see the payment
	}
	marked, err := markPaid(ctx, tx, p.OrderID, p.dispatchDue(s.cfg.DispatchDelay))
	if err != nil {
		return err
	}
	if marked {
		tx.AfterCommit(s.wakeDispatcher)
	}
	return nil
}

// onOrderCancelled cancels the order's shipment if it is not dispatched; if
// none exists yet, the cancellation in the preparation record keeps one from
// being created. A shipment dispatched already stays dispatched (the goods
// have left; un-dispatching would be a lie): the conflict is recorded on it
// (cancelled_after_dispatch_at, shown by the API), logged and counted
// (bounded_fulfillment_cancelled_after_dispatch_total), and the event is
// handled, not failed: retrying or dead-lettering it would change nothing.
func (s *fulfillment) onOrderCancelled(ctx context.Context, tx *sqldb.Tx, e contract.Event, d ordersevents.OrderCancelledV1) error {
	if err := checkOrderID(d.OrderID); err != nil {
		return permanent(e, err)
	}
	at := now()
	if _, err := upsertPreparation(ctx, tx, preparationFacts{OrderID: d.OrderID, Cancelled: at, CancelReason: d.Reason}, at); err != nil {
		return err
	}
	id, err := cancelShipment(ctx, tx, d.OrderID, at)
	if err != nil {
		return err
	}
	if id != "" {
		tx.AfterCommit(func() { s.m.cancelled.Inc() })
		return nil
	}
	id, err = noteLateCancellation(ctx, tx, d.OrderID, at)
	if err != nil || id == "" {
		return err // "": no shipment, or cancelled already
	}
	tx.AfterCommit(func() {
		s.m.lateCancels.Inc()
		s.log.Warn("order cancelled after its shipment was dispatched; the shipment stays dispatched",
			"order", d.OrderID, "shipment", id, "reason", d.Reason, "event", e.ID)
	})
	return nil
}

func eventLines(items []Line) []events.Line {
	out := make([]events.Line, len(items))
	for i, l := range items {
		out[i] = events.Line{SKU: l.SKU, Quantity: l.Quantity}
	}
	return out
}
