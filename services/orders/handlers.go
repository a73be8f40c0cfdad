package orders

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bounded-dev/bounded/platform/contract"
	"github.com/bounded-dev/bounded/platform/inbox"
	"github.com/bounded-dev/bounded/platform/sqldb"
	cartevents "github.com/bounded-dev/bounded/services/cart/events"
	catalogevents "github.com/bounded-dev/bounded/services/catalog/events"
	fulfillmentevents "github.com/bounded-dev/bounded/services/fulfillment/events"
	inventoryevents "github.com/bounded-dev/bounded/services/inventory/events"
	"github.com/bounded-dev/bounded/services/orders/events"
	paymentsevents "github.com/bounded-dev/bounded/services/payments/events"
)

// The event handlers. Each runs in the consumer's transaction: its writes
// and the events it records in the outbox commit with the inbox row, or
// not at all. Errors: data that can never be applied (ErrInvalid,
// ErrImpossible) is inbox.Permanent, dead-lettered at once; anything else
// (the database, an order not known yet) is retried, then dead-lettered.

// onProductUpdated keeps Orders' copy of a product, unless the copy held is
// as new or newer (versions only grow; an older one arrives on a replay).
func (s *orderService) onProductUpdated(ctx context.Context, tx *sqldb.Tx, e contract.Event, p catalogevents.ProductUpdatedV2) error {
	cp := productCopyFromEvent(p)
	if err := cp.Validate(); err != nil {
		return inbox.Permanent(fmt.Errorf("%s %s: %w", e.Type, e.ID, err))
	}
	_, err := s.store.upsertProduct(ctx, tx, cp)
	return err
}

func productCopyFromEvent(p catalogevents.ProductUpdatedV2) ProductCopy {
	return ProductCopy{SKU: p.SKU, Name: p.Name, PriceCents: p.PriceCents, Currency: p.Currency, Active: p.Active, Version: p.Version}
}

// checkoutFromEvent is the domain's view of a checked-out cart.
func checkoutFromEvent(c cartevents.CheckedOutV1) Checkout {
	lines := make([]CheckoutLine, len(c.Items))
	for i, it := range c.Items {
		lines[i] = CheckoutLine{SKU: it.SKU, Name: it.Name, Quantity: it.Quantity, UnitPriceCents: it.UnitPriceCents, ProductVersion: it.ProductVersion}
	}
	a := c.ShippingAddress
	return Checkout{OrderID: c.OrderID, CartID: c.CartID, CustomerEmail: c.CustomerEmail,
		Address:      Address{Name: a.Name, Line1: a.Line1, Line2: a.Line2, City: a.City, PostalCode: a.PostalCode, Country: a.Country},
		PaymentToken: c.PaymentToken, Currency: c.Currency, Lines: lines}
}

// onCheckedOut creates the order a cart asks for, with the order id the
// cart chose, and publishes order_confirmed, or only order_cancelled when
// a product is unavailable. A checkout whose order exists already is a
// no-op (a redelivery, or a cart that sent it twice).
func (s *orderService) onCheckedOut(ctx context.Context, tx *sqldb.Tx, e contract.Event, c cartevents.CheckedOutV1) error {
	co := checkoutFromEvent(c)
	if err := co.Validate(); err != nil {
		return inbox.Permanent(fmt.Errorf("%s %s: %w", e.Type, e.ID, err))
	}
	id, _ := ParseOrderID(co.OrderID)
	if exists, err := s.store.orderExists(ctx, tx, id); err != nil || exists {
		return err
	}
	skus := make([]string, len(co.Lines))
	for i, l := range co.Lines {
		skus[i] = l.SKU
	}
	copies, err := s.store.productCopies(ctx, tx, tx.Dialect(), skus)
	if err != nil {
		return err
	}
	o, err := PlaceOrder(co, copies, s.now())
	if err != nil {
		return inbox.Permanent(fmt.Errorf("%s %s: %w", e.Type, e.ID, err))
	}
	if err := s.store.insertOrder(ctx, tx, o); err != nil {
		return err
	}
	var ev contract.Event
	if o.status == StatusConfirmed {
		ev, err = confirmedEvent(o, c.PaymentToken)
	} else {
		ev, err = transitionEvent(o, o.changes[0])
	}
	if err != nil {
		return err
	}
	if err := s.env.Outbox.Record(ctx, tx, ev); err != nil {
		return err
	}
	s.countAfterCommit(tx, o.changes)
	return nil
}

// orderChange is what an event about an existing order asks of it: the
// order, and the domain method to apply at a time.
type orderChange struct {
	orderID string
	apply   func(o *Order, at time.Time) error
}

// The xChange functions check a consumed event's data (an ErrInvalid
// error: the event can never be applied) and say what it changes. They
// touch nothing, so the fuzz tests run them on arbitrary data.

func capturedChange(p paymentsevents.PaymentCapturedV1) (orderChange, error) {
	if err := checkText("payment_id", p.PaymentID, maxTextLen, false); err != nil {
		return orderChange{}, err
	}
	return newChange(p.OrderID, func(o *Order, at time.Time) error {
		return o.CapturePayment(p.PaymentID, at, paymentsevents.PaymentCaptured)
	})
}

// declinedChange cancels the order. The decline reason is the gateway's
// words (Payments passes them on, cut to 200 bytes but otherwise as the
// gateway gave them) and only goes into the cancellation's detail, so it is
// made storable rather than checked: refusing a decline for a line break in
// its reason would dead-letter it, and leave the order confirmed and its
// stock reserved for good.
func declinedChange(p paymentsevents.PaymentDeclinedV1) (orderChange, error) {
	reason := storableText(p.Reason, maxTextLen)
	return newChange(p.OrderID, func(o *Order, at time.Time) error { return o.DeclinePayment(p.PaymentID, reason, at) })
}

func reservedChange(r inventoryevents.ReservationConfirmedV1) (orderChange, error) {
	if err := checkText("reservation_id", r.ReservationID, maxTextLen, false); err != nil {
		return orderChange{}, err
	}
	return newChange(r.OrderID, func(o *Order, at time.Time) error {
		return o.ConfirmReservation(r.ReservationID, at, inventoryevents.ReservationConfirmed)
	})
}

func reservationFailedChange(r inventoryevents.ReservationFailedV1) (orderChange, error) {
	if err := checkText("reason", r.Reason, maxTextLen, true); err != nil {
		return orderChange{}, err
	}
	shortages := make([]Shortage, len(r.Shortages))
	for i, sh := range r.Shortages {
		if err := checkText(fmt.Sprintf("shortages[%d].sku", i), sh.SKU, maxTextLen, false); err != nil {
			return orderChange{}, err
		}
		shortages[i] = Shortage{SKU: sh.SKU, Requested: sh.Requested, Available: sh.Available}
	}
	return newChange(r.OrderID, func(o *Order, at time.Time) error { return o.FailReservation(r.Reason, shortages, at) })
}

func dispatchedChange(d fulfillmentevents.ShipmentDispatchedV1) (orderChange, error) {
	if err := checkText("shipment_id", d.ShipmentID, maxTextLen, false); err != nil {
		return orderChange{}, err
	}
	return newChange(d.OrderID, func(o *Order, at time.Time) error {
		return o.DispatchShipment(d.ShipmentID, at, fulfillmentevents.ShipmentDispatched)
	})
}

func newChange(orderID string, apply func(o *Order, at time.Time) error) (orderChange, error) {
	id, err := ParseOrderID(orderID)
	if err != nil {
		return orderChange{}, invalid("order_id: %v", err)
	}
	return orderChange{orderID: id, apply: apply}, nil
}

func (s *orderService) onPaymentCaptured(ctx context.Context, tx *sqldb.Tx, e contract.Event, p paymentsevents.PaymentCapturedV1) error {
	c, err := capturedChange(p)
	return s.change(ctx, tx, e, c, err)
}

func (s *orderService) onPaymentDeclined(ctx context.Context, tx *sqldb.Tx, e contract.Event, p paymentsevents.PaymentDeclinedV1) error {
	c, err := declinedChange(p)
	return s.change(ctx, tx, e, c, err)
}

func (s *orderService) onReservationConfirmed(ctx context.Context, tx *sqldb.Tx, e contract.Event, r inventoryevents.ReservationConfirmedV1) error {
	c, err := reservedChange(r)
	return s.change(ctx, tx, e, c, err)
}

func (s *orderService) onReservationFailed(ctx context.Context, tx *sqldb.Tx, e contract.Event, r inventoryevents.ReservationFailedV1) error {
	c, err := reservationFailedChange(r)
	return s.change(ctx, tx, e, c, err)
}

func (s *orderService) onShipmentDispatched(ctx context.Context, tx *sqldb.Tx, e contract.Event, d fulfillmentevents.ShipmentDispatchedV1) error {
	c, err := dispatchedChange(d)
	return s.change(ctx, tx, e, c, err)
}

// change applies c to its order (invalid, when c could not be built from
// event e's data) and publishes an event per transition it made.
func (s *orderService) change(ctx context.Context, tx *sqldb.Tx, e contract.Event, c orderChange, invalid error) error {
	if invalid != nil {
		return inbox.Permanent(fmt.Errorf("%s %s: %w", e.Type, e.ID, invalid))
	}
	now := s.now()
	o, err := s.store.updateOrder(ctx, tx, c.orderID, func(o *Order) error { return c.apply(o, now) })
	switch {
	case errors.Is(err, ErrImpossible), errors.Is(err, ErrInvalid):
		return inbox.Permanent(fmt.Errorf("%s %s: %w", e.Type, e.ID, err))
	case errors.Is(err, errNoOrder):
		// Payments, Inventory and Fulfillment only act on an order Orders
		// confirmed (and had committed), so the order should be here; an
		// event about an unknown one is retried (it costs little), then
		// dead-lettered, where it can be replayed once the order exists.
		return fmt.Errorf("%s %s: %w", e.Type, e.ID, err)
	case err != nil:
		return err
	}
	if len(o.changes) == 0 {
		return nil
	}
	evs := make([]contract.Event, len(o.changes))
	for i, t := range o.changes {
		if evs[i], err = transitionEvent(o, t); err != nil {
			return err
		}
	}
	if err := s.env.Outbox.Record(ctx, tx, evs...); err != nil {
		return err
	}
	s.countAfterCommit(tx, o.changes)
	return nil
}

// confirmedEvent is order_confirmed for a new confirmed order; the payment
// token is passed on to Payments and not kept.
func confirmedEvent(o *Order, paymentToken string) (contract.Event, error) {
	items := make([]events.Item, len(o.items))
	for i, it := range o.items {
		items[i] = events.Item{SKU: it.SKU, Name: it.Name, Quantity: it.Quantity, UnitPriceCents: it.UnitPriceCents}
	}
	a := o.address
	return events.NewOrderConfirmed(events.OrderConfirmedV1{OrderID: o.id, CartID: o.cartID, CustomerEmail: o.customerEmail,
		ShippingAddress: events.Address{Name: a.Name, Line1: a.Line1, Line2: a.Line2, City: a.City, PostalCode: a.PostalCode, Country: a.Country},
		PaymentToken:    paymentToken, Currency: o.currency, Items: items, TotalCents: o.totalCents, ConfirmedAt: o.createdAt})
}

// transitionEvent is the event that announces transition t of o (any but
// to confirmed, which confirmedEvent builds).
func transitionEvent(o *Order, t Transition) (contract.Event, error) {
	switch t.To {
	case StatusPaid:
		return events.NewOrderPaid(events.OrderPaidV1{OrderID: o.id, PaymentID: o.paymentID, TotalCents: o.totalCents, Currency: o.currency, PaidAt: t.At})
	case StatusReserved:
		return events.NewOrderReserved(events.OrderReservedV1{OrderID: o.id, ReservationID: o.reservationID, ReservedAt: t.At})
	case StatusShipped:
		return events.NewOrderShipped(events.OrderShippedV1{OrderID: o.id, ShipmentID: o.shipmentID, ShippedAt: t.At})
	case StatusCancelled:
		return events.NewOrderCancelled(events.OrderCancelledV1{OrderID: o.id, Reason: o.cancelReason, Detail: o.cancelDetail,
			PreviousStatus: string(t.From), TotalCents: o.totalCents, Currency: o.currency, CancelledAt: t.At})
	}
	return contract.Event{}, fmt.Errorf("order %s: no event for a transition to %s", o.id, t.To)
}

// countAfterCommit counts the transitions once they are committed.
func (s *orderService) countAfterCommit(tx *sqldb.Tx, ts []Transition) {
	if len(ts) == 0 {
		return
	}
	tx.AfterCommit(func() {
		for _, t := range ts {
			s.transitions.WithLabelValues(string(t.To)).Inc()
		}
	})
}
