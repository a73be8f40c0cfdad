package inventory

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/bounded-dev/bounded/platform/contract"
	"github.com/bounded-dev/bounded/platform/inbox"
	"github.com/bounded-dev/bounded/platform/service"
	"github.com/bounded-dev/bounded/platform/sqldb"
	catalogevents "github.com/bounded-dev/bounded/services/catalog/events"
	fulfillmentevents "github.com/bounded-dev/bounded/services/fulfillment/events"
	"github.com/bounded-dev/bounded/services/inventory/events"
	ordersevents "github.com/bounded-dev/bounded/services/orders/events"
)

// The handlers run inside the consumer's transaction: their writes, the
// events they record and the inbox row commit together. An error is
// retried and then dead-lettered; inbox.Permanent marks data that can never
// be applied (dead-lettered at once).

// lockBatch takes, before a batch of consumed events is applied in one
// transaction, every lock its handlers will take: the orders' locks (see
// store.lockOrder), then the stock items they move, each set in one order.
// The handlers take them again (a no-op) as they go. Without it, two
// workers' batches, each locking its orders' SKUs in turn, meet SKUs in
// opposite orders and deadlock: PostgreSQL finds it only after
// deadlock_timeout (1 s) and fails one batch. SQLite has one writer and
// needs none of this.
func (s *svc) lockBatch(ctx context.Context, tx *sqldb.Tx, batch []contract.Event) error {
	if s.st.d != sqldb.Postgres {
		return nil
	}
	var reserved []string // orders whose reservation the batch ends
	skus := map[string]bool{}
	for _, e := range batch {
		name, _, err := contract.ParseType(e.Type)
		if err != nil {
			continue // the handler says so, and the batch is applied one by one
		}
		switch name {
		case ordersevents.OrderConfirmed:
			v, err := contract.DecodeAs[ordersevents.OrderConfirmedV1](ordersevents.Registry(), e)
			if err != nil {
				continue
			}
			for _, it := range v.Items {
				skus[it.SKU] = true
			}
		case ordersevents.OrderCancelled:
			v, err := contract.DecodeAs[ordersevents.OrderCancelledV1](ordersevents.Registry(), e)
			if err != nil {
				continue
			}
			reserved = append(reserved, v.OrderID)
		case fulfillmentevents.ShipmentDispatched:
			v, err := contract.DecodeAs[fulfillmentevents.ShipmentDispatchedV1](fulfillmentevents.Registry(), e)
			if err != nil {
				continue
			}
			reserved = append(reserved, v.OrderID)
		}
	}
	if err := lockOrders(ctx, tx, batch); err != nil {
		return err
	}
	// A reservation's lines do not change: read without locking. (One
	// that is not reserved now is not moved by the handlers either.)
	held, err := s.st.reservedSKUs(ctx, tx, reserved)
	if err != nil {
		return err
	}
	for _, sku := range held {
		skus[sku] = true
	}
	if len(skus) == 0 {
		return nil
	}
	_, err = s.st.lockStock(ctx, tx, slices.Sorted(maps.Keys(skus)))
	return err
}

// lockOrders takes store.lockOrder's lock of every order a batch names.
var lockOrders = service.LockKeys(orderLockSpace, service.JSONField("order_id"))

// productFromEvent is the part of catalog.product_updated Inventory keeps.
// It reads the fields Inventory declares in events.Reliances — and only
// those: Description (still published in v2, equal to the long
// description), not v2's split fields.
func productFromEvent(v catalogevents.ProductUpdatedV2) (Product, error) {
	return newProduct(v.SKU, v.Name, v.Description, v.Active, v.Version)
}

// onProductUpdated keeps Inventory's copy of the product (newer versions
// only). It creates no stock: admins set stock. The purchase-order job then
// refreshes the SKU's unsent purchase orders from the new copy (a flagged
// one is completed and sent).
func (s *svc) onProductUpdated(ctx context.Context, tx *sqldb.Tx, e contract.Event, v catalogevents.ProductUpdatedV2) error {
	p, err := productFromEvent(v)
	if err != nil {
		return inbox.Permanent(fmt.Errorf("%s %s: %w", e.Type, e.ID, err))
	}
	changed, err := s.st.upsertProduct(ctx, tx, p, now())
	if err != nil {
		return err
	}
	if changed {
		tx.AfterCommit(s.wakeJob)
	}
	return nil
}

// linesFromOrder validates an order_confirmed's order id and lines.
func linesFromOrder(v ordersevents.OrderConfirmedV1) ([]Line, error) {
	items := make([]Line, len(v.Items))
	for i, it := range v.Items {
		items[i] = Line{SKU: it.SKU, Quantity: int64(it.Quantity)}
	}
	return newLines(v.OrderID, items)
}

// onOrderConfirmed reserves every line of the order or none. The stock rows
// are locked in SKU order and checked; then each is moved by a statement
// that is itself conditional on the invariant, so that nothing can
// oversell even if the check were wrong. A second delivery of the order
// (under any event id) finds the order's outcome and does nothing, and so
// does the confirmation of an order whose cancellation was applied first
// (replicas may apply the orders stream's events out of order; see
// store.lockOrder, which also keeps two replicas from applying the order's
// events at once).
func (s *svc) onOrderConfirmed(ctx context.Context, tx *sqldb.Tx, e contract.Event, v ordersevents.OrderConfirmedV1) error {
	lines, err := linesFromOrder(v)
	if err != nil {
		return inbox.Permanent(fmt.Errorf("%s %s: %w", e.Type, e.ID, err))
	}
	if err := s.st.lockOrder(ctx, tx, v.OrderID); err != nil {
		return err
	}
	if seen, err := s.st.orderSeen(ctx, tx, v.OrderID); err != nil || seen {
		return err
	}
	skus := make([]string, len(lines))
	for i, l := range lines {
		skus[i] = l.SKU
	}
	stock, err := s.st.lockStock(ctx, tx, skus)
	if err != nil {
		return err
	}
	t := now()
	if reason, shortages := planReservation(lines, stock); reason != "" {
		if err := s.st.insertFailure(ctx, tx, ReservationFailure{OrderID: v.OrderID, Reason: reason, Shortages: shortages, FailedAt: t}); err != nil {
			return err
		}
		ev, err := events.NewReservationFailed(events.ReservationFailedV1{OrderID: v.OrderID, Reason: reason,
			Shortages: shortagesOrEmpty(shortages), FailedAt: t})
		if err != nil {
			return err
		}
		tx.AfterCommit(func() { s.m.reservationsFailed.WithLabelValues(reason).Inc() })
		return s.env.Outbox.Record(ctx, tx, ev)
	}

	id, err := uuid.NewV7()
	if err != nil {
		return err
	}
	r := Reservation{ID: id.String(), OrderID: v.OrderID, Status: ReservationReserved, Lines: lines, CreatedAt: t, UpdatedAt: t}
	evs := make([]contract.Event, 0, len(lines)+1)
	ev, err := events.NewReservationConfirmed(events.ReservationConfirmedV1{ReservationID: r.ID, OrderID: r.OrderID,
		Items: eventLines(lines), ConfirmedAt: t})
	if err != nil {
		return err
	}
	evs = append(evs, ev)
	moved := make([]StockItem, 0, len(lines))
	for _, l := range lines {
		item, ok, err := s.st.moveStock(ctx, tx, l.SKU, 0, l.Quantity, t)
		if err != nil {
			return err
		}
		if !ok { // the rows are locked and were checked: this is a bug, and must not pass
			return fmt.Errorf("reserve %d of %s for order %s: refused by the stock invariant after the check passed", l.Quantity, l.SKU, r.OrderID)
		}
		moved = append(moved, item)
		if ev, err = stockChanged(item, 0, l.Quantity, events.StockReservation, r.OrderID, t); err != nil {
			return err
		}
		evs = append(evs, ev)
	}
	if err := s.st.insertReservation(ctx, tx, r); err != nil {
		return err
	}
	s.wakeIfLow(tx, moved...)
	tx.AfterCommit(s.m.reservationsConfirmed.Inc)
	return s.env.Outbox.Record(ctx, tx, evs...)
}

// onOrderCancelled releases the order's reservation if it holds one.
// Nothing reserved (the reservation failed, was released or consumed) is
// nothing to do. An order not seen confirmed yet (never confirmed, or its
// order_confirmed still to be applied, by this replica or another) is
// remembered as cancelled, so that its confirmation reserves nothing.
func (s *svc) onOrderCancelled(ctx context.Context, tx *sqldb.Tx, e contract.Event, v ordersevents.OrderCancelledV1) error {
	if v.OrderID == "" || len(v.OrderID) > maxIDLength {
		return inbox.Permanent(fmt.Errorf("%s %s: order id %q: want 1 to %d characters", e.Type, e.ID, v.OrderID, maxIDLength))
	}
	if err := s.st.lockOrder(ctx, tx, v.OrderID); err != nil {
		return err
	}
	t := now()
	r, ok, err := s.st.endReservation(ctx, tx, v.OrderID, ReservationReleased, "", v.Reason, t)
	if err != nil {
		return err
	}
	if !ok {
		seen, err := s.st.orderSeen(ctx, tx, v.OrderID)
		if err != nil || seen {
			return err
		}
		return s.st.insertCancellation(ctx, tx, v.OrderID, v.Reason, t)
	}
	evs, err := s.moveReserved(ctx, tx, r, -1, 0, events.StockRelease, t)
	if err != nil {
		return err
	}
	ev, err := events.NewReservationReleased(events.ReservationReleasedV1{ReservationID: r.ID, OrderID: r.OrderID,
		Items: eventLines(r.Lines), Reason: v.Reason, ReleasedAt: t})
	if err != nil {
		return err
	}
	tx.AfterCommit(s.m.reservationsReleased.Inc)
	return s.env.Outbox.Record(ctx, tx, append([]contract.Event{ev}, evs...)...)
}

// onShipmentDispatched consumes the order's reservation: the reserved units
// leave the shelf (on_hand and reserved both drop). A shipment for an order
// with no reserved reservation is an error — retried (the reservation may
// still be on its way), then dead-lettered, where operators see it. The
// same shipment dispatched again is a no-op.
func (s *svc) onShipmentDispatched(ctx context.Context, tx *sqldb.Tx, e contract.Event, v fulfillmentevents.ShipmentDispatchedV1) error {
	if v.OrderID == "" || len(v.OrderID) > maxIDLength || v.ShipmentID == "" || len(v.ShipmentID) > maxIDLength {
		return inbox.Permanent(fmt.Errorf("%s %s: order id %q, shipment id %q: want 1 to %d characters each",
			e.Type, e.ID, v.OrderID, v.ShipmentID, maxIDLength))
	}
	t := now()
	r, ok, err := s.st.endReservation(ctx, tx, v.OrderID, ReservationConsumed, v.ShipmentID, "", t)
	if err != nil {
		return err
	}
	if !ok {
		have, err := s.st.reservation(ctx, tx, v.OrderID)
		switch {
		case err != nil:
			return err
		case have == nil:
			return fmt.Errorf("shipment %s was dispatched for order %s, which has no reservation: stock for it was never reserved",
				v.ShipmentID, v.OrderID)
		case have.Status == ReservationConsumed && have.ShipmentID == v.ShipmentID:
			return nil // this shipment was applied already
		default:
			return fmt.Errorf("shipment %s was dispatched for order %s, whose reservation %s is %s (shipment %q), not reserved",
				v.ShipmentID, v.OrderID, have.ID, have.Status, have.ShipmentID)
		}
	}
	evs, err := s.moveReserved(ctx, tx, r, -1, -1, events.StockShipment, t)
	if err != nil {
		return err
	}
	tx.AfterCommit(s.m.reservationsConsumed.Inc)
	return s.env.Outbox.Record(ctx, tx, evs...)
}

// moveReserved moves each line of r by its quantity times reservedSign on
// reserved and onHandSign on on_hand, and returns the stock_changed events.
func (s *svc) moveReserved(ctx context.Context, tx *sqldb.Tx, r Reservation, reservedSign, onHandSign int64, reason string, t time.Time) ([]contract.Event, error) {
	evs := make([]contract.Event, 0, len(r.Lines))
	moved := make([]StockItem, 0, len(r.Lines))
	for _, l := range r.Lines {
		dOn, dRes := onHandSign*l.Quantity, reservedSign*l.Quantity
		item, ok, err := s.st.moveStock(ctx, tx, l.SKU, dOn, dRes, t)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("%s of order %s: moving %s by on_hand %+d, reserved %+d breaks the stock invariant (or the stock item is gone)",
				reason, r.OrderID, l.SKU, dOn, dRes)
		}
		moved = append(moved, item)
		ev, err := stockChanged(item, dOn, dRes, reason, r.OrderID, t)
		if err != nil {
			return nil, err
		}
		evs = append(evs, ev)
	}
	s.wakeIfLow(tx, moved...)
	return evs, nil
}

// stockChanged builds the stock_changed event of a movement of item (as it
// is after the movement).
func stockChanged(item StockItem, dOnHand, dReserved int64, reason, ref string, t time.Time) (contract.Event, error) {
	return events.NewStockChanged(events.StockChangedV1{SKU: item.SKU, DeltaOnHand: int(dOnHand), DeltaReserved: int(dReserved),
		OnHand: int(item.OnHand), Reserved: int(item.Reserved), ReorderPoint: int(item.ReorderPoint),
		Reason: reason, Ref: ref, ChangedAt: t})
}

func eventLines(lines []Line) []events.Line {
	out := make([]events.Line, len(lines))
	for i, l := range lines {
		out[i] = events.Line{SKU: l.SKU, Quantity: int(l.Quantity)}
	}
	return out
}
