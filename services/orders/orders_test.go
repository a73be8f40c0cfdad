package orders_test

import (
	"slices"
	"testing"

	"github.com/bounded-dev/bounded/platform/servicetest"
	"github.com/bounded-dev/bounded/platform/sqldb"
	cartevents "github.com/bounded-dev/bounded/services/cart/events"
	catalogevents "github.com/bounded-dev/bounded/services/catalog/events"
	inventoryevents "github.com/bounded-dev/bounded/services/inventory/events"
	"github.com/bounded-dev/bounded/services/orders/events"
	paymentsevents "github.com/bounded-dev/bounded/services/payments/events"
)

const (
	confirmed = events.OrderConfirmed
	paid      = events.OrderPaid
	reserved  = events.OrderReserved
	shipped   = events.OrderShipped
	cancelled = events.OrderCancelled
)

// TestOrderFlow drives the service with the events of its producers, in
// every order they can arrive in, and checks the API and the events it
// publishes.
func TestOrderFlow(t *testing.T) {
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		s := startShop(t, d)

		t.Run("reservation before payment, to shipped", func(t *testing.T) {
			kettle, mug := newSKU("KETTLE"), newSKU("MUG")
			s.product(t, kettle, "Kettle 1.7 l", 3499, "EUR", true, 3)
			s.product(t, mug, "Blue mug", 899, "EUR", true, 1)
			metric := func(status string) float64 { return s.h.Metric(t, "bounded_orders_orders_total", "status", status) }
			before := map[string]float64{}
			for _, st := range []string{"confirmed", "paid", "reserved", "shipped"} {
				before[st] = metric(st)
			}

			id := newID(t)
			c := checkoutOf(t, id, "ada@example.com", line(kettle, 1, 3499, 3), line(mug, 2, 899, 1))
			s.checkout(t, c)
			evs := s.waitEvents(t, id, confirmed)
			oc := decode[events.OrderConfirmedV1](t, evs[0])
			if oc.OrderID != id || oc.CartID != c.CartID || oc.PaymentToken != "tok_visa_4242" || oc.Currency != "EUR" ||
				oc.TotalCents != 3499+2*899 || oc.CustomerEmail != "ada@example.com" || oc.ShippingAddress.PostalCode != "SW1Y 4JH" ||
				len(oc.Items) != 2 || oc.Items[1] != (events.Item{SKU: mug, Name: "cart name of " + mug, Quantity: 2, UnitPriceCents: 899}) {
				t.Fatalf("order_confirmed = %+v", oc)
			}
			if evs[0].Subject != id || evs[0].Source != events.Source {
				t.Fatalf("order_confirmed subject %q source %q", evs[0].Subject, evs[0].Source)
			}
			o := s.order(t, id)
			if o.Status != "confirmed" || o.Paid || o.Reserved || o.TotalCents != 5297 || len(o.Items) != 2 ||
				o.Items[1].LineTotalCents != 1798 || o.CustomerEmail != "ada@example.com" || o.ShippingAddress.Country != "GB" ||
				o.Currency != "EUR" || !slices.Equal(o.statuses(), []string{"confirmed"}) || o.History[0].Reason != "cart.checked_out" {
				t.Fatalf("new order = %+v", o)
			}

			s.reserved(t, id, "res-1")
			if o := s.order(t, id); o.Status != "confirmed" || !o.Reserved || o.ReservationID != "res-1" || o.Paid {
				t.Fatalf("reserved before paid: %+v", o)
			}
			s.captured(t, id, "pay-1")
			evs = s.waitEvents(t, id, confirmed, paid, reserved)
			if p := decode[events.OrderPaidV1](t, evs[1]); p.PaymentID != "pay-1" || p.TotalCents != 5297 || p.Currency != "EUR" {
				t.Fatalf("order_paid = %+v", p)
			}
			if r := decode[events.OrderReservedV1](t, evs[2]); r.ReservationID != "res-1" || r.OrderID != id {
				t.Fatalf("order_reserved = %+v", r)
			}
			s.dispatched(t, id, "ship-1")
			evs = s.waitEvents(t, id, confirmed, paid, reserved, shipped)
			if sh := decode[events.OrderShippedV1](t, evs[3]); sh.ShipmentID != "ship-1" {
				t.Fatalf("order_shipped = %+v", sh)
			}
			o = s.order(t, id)
			if o.Status != "shipped" || !o.Paid || !o.Reserved || o.PaymentID != "pay-1" || o.ShipmentID != "ship-1" ||
				!slices.Equal(o.statuses(), []string{"confirmed", "paid", "reserved", "shipped"}) || o.UpdatedAt.Before(o.CreatedAt) {
				t.Fatalf("shipped order = %+v", o)
			}
			wantReasons := []string{"cart.checked_out", "payments.payment_captured", "payments.payment_captured", "fulfillment.shipment_dispatched"}
			for i, h := range o.History {
				if h.Reason != wantReasons[i] || h.At.IsZero() {
					t.Fatalf("history[%d] = %+v, want reason %s", i, h, wantReasons[i])
				}
			}
			for _, st := range []string{"confirmed", "paid", "reserved", "shipped"} {
				if got := metric(st) - before[st]; got != 1 {
					t.Errorf("bounded_orders_orders_total{status=%s} grew by %v, want 1", st, got)
				}
			}
		})

		t.Run("payment before reservation", func(t *testing.T) {
			id := s.placeOrder(t, "bob@example.com")
			s.captured(t, id, "pay-2")
			s.waitEvents(t, id, confirmed, paid)
			if o := s.order(t, id); o.Status != "paid" || !o.Paid || o.Reserved {
				t.Fatalf("paid order = %+v", o)
			}
			s.reserved(t, id, "res-2")
			s.waitEvents(t, id, confirmed, paid, reserved)
			s.dispatched(t, id, "ship-2")
			s.waitEvents(t, id, confirmed, paid, reserved, shipped)
			if o := s.order(t, id); o.Status != "shipped" {
				t.Fatalf("order = %+v", o)
			}
		})

		t.Run("shipment before payment and reservation waits for them", func(t *testing.T) {
			id := s.placeOrder(t, "cy@example.com")
			s.dispatched(t, id, "ship-3")
			if o := s.order(t, id); o.Status != "confirmed" || o.ShipmentID != "ship-3" || len(o.History) != 1 {
				t.Fatalf("shipment applied before payment: %+v", o)
			}
			s.reserved(t, id, "res-3")
			s.quiet(t, id, 1)
			s.captured(t, id, "pay-3")
			s.waitEvents(t, id, confirmed, paid, reserved, shipped)
			if o := s.order(t, id); o.Status != "shipped" || !slices.Equal(o.statuses(), []string{"confirmed", "paid", "reserved", "shipped"}) {
				t.Fatalf("order = %+v", o)
			}
		})

		t.Run("payment declined; late reservation and capture are ignored", func(t *testing.T) {
			id := s.placeOrder(t, "dee@example.com")
			s.declined(t, id, "card_declined")
			evs := s.waitEvents(t, id, confirmed, cancelled)
			oc := decode[events.OrderCancelledV1](t, evs[1])
			if oc.Reason != events.ReasonPaymentDeclined || oc.PreviousStatus != "confirmed" || oc.TotalCents != 2000 || oc.Currency != "EUR" {
				t.Fatalf("order_cancelled = %+v", oc)
			}
			contains(t, "detail", oc.Detail, "card_declined")
			s.reserved(t, id, "res-4") // Inventory releases it on order_cancelled
			s.captured(t, id, "pay-4") // Payments refunds it on order_cancelled
			s.declined(t, id, "again") // already cancelled
			o := s.order(t, id)
			if o.Status != "cancelled" || o.CancelReason != "payment_declined" || o.Paid || o.Reserved ||
				!slices.Equal(o.statuses(), []string{"confirmed", "cancelled"}) || o.History[1].Reason != "payment_declined" {
				t.Fatalf("declined order = %+v", o)
			}
			contains(t, "cancel_detail", o.CancelDetail, "card_declined")
			s.quiet(t, id, 2)
		})

		t.Run("a payment declined, then charged after all: in stream order and reordered", func(t *testing.T) {
			// Payments publishes payment_declined and then payment_captured
			// for one payment when a late gateway call charged it after the
			// decline (and refunds it). Replicas of Orders may apply the two
			// in either order; either way the order ends cancelled.
			inOrder := s.placeOrder(t, "gil@example.com")
			s.declinedPayment(t, inOrder, "pay-late-1", "gateway_unavailable")
			s.captured(t, inOrder, "pay-late-1")
			s.waitEvents(t, inOrder, confirmed, cancelled)

			reordered := s.placeOrder(t, "gil@example.com")
			s.captured(t, reordered, "pay-late-2")
			s.declinedPayment(t, reordered, "pay-late-2", "gateway_unavailable")
			evs := s.waitEvents(t, reordered, confirmed, paid, cancelled)
			if oc := decode[events.OrderCancelledV1](t, evs[2]); oc.Reason != events.ReasonPaymentDeclined || oc.PreviousStatus != "paid" {
				t.Fatalf("order_cancelled = %+v", oc)
			}
			for _, id := range []string{inOrder, reordered} {
				if o := s.order(t, id); o.Status != "cancelled" || o.CancelReason != "payment_declined" {
					t.Fatalf("order = %+v", o)
				}
			}
			s.quiet(t, reordered, 3)
		})

		t.Run("out of stock after payment", func(t *testing.T) {
			id := s.placeOrder(t, "eve@example.com")
			s.captured(t, id, "pay-5")
			s.reservationFailed(t, id, inventoryevents.Shortage{SKU: "MUG-BLUE", Requested: 2, Available: 1})
			evs := s.waitEvents(t, id, confirmed, paid, cancelled)
			oc := decode[events.OrderCancelledV1](t, evs[2])
			if oc.Reason != events.ReasonOutOfStock || oc.PreviousStatus != "paid" {
				t.Fatalf("order_cancelled = %+v", oc)
			}
			contains(t, "detail", oc.Detail, "MUG-BLUE (requested 2, available 1)")
			if o := s.order(t, id); o.Status != "cancelled" || o.CancelReason != "out_of_stock" || !o.Paid {
				t.Fatalf("order = %+v", o)
			}
		})

		t.Run("out of stock before payment", func(t *testing.T) {
			id := s.placeOrder(t, "fay@example.com")
			s.reservationFailed(t, id, inventoryevents.Shortage{SKU: "KETTLE-17", Requested: 1, Available: 0})
			s.waitEvents(t, id, confirmed, cancelled)
			s.captured(t, id, "pay-6") // ignored: Payments refunds
			if o := s.order(t, id); o.Status != "cancelled" || o.Paid {
				t.Fatalf("order = %+v", o)
			}
			s.quiet(t, id, 2)
		})

		t.Run("product inactive in the newer copy: created cancelled", func(t *testing.T) {
			gone, fine := newSKU("GONE"), newSKU("FINE")
			s.product(t, gone, "Old kettle", 1000, "EUR", true, 2)
			s.product(t, gone, "Old kettle", 1000, "EUR", false, 3)
			s.product(t, fine, "Fine", 100, "EUR", true, 1)
			id := newID(t)
			s.checkout(t, checkoutOf(t, id, "gil@example.com", line(fine, 1, 100, 1), line(gone, 1, 1000, 2)))
			evs := s.waitEvents(t, id, cancelled)
			oc := decode[events.OrderCancelledV1](t, evs[0])
			if oc.Reason != events.ReasonProductUnavailable || oc.PreviousStatus != "new" || oc.TotalCents != 1100 {
				t.Fatalf("order_cancelled = %+v", oc)
			}
			contains(t, "detail", oc.Detail, gone)
			o := s.order(t, id)
			if o.Status != "cancelled" || o.CancelReason != "product_unavailable" || !slices.Equal(o.statuses(), []string{"cancelled"}) {
				t.Fatalf("order = %+v", o)
			}
			contains(t, "cancel_detail", o.CancelDetail, gone)
			s.quiet(t, id, 1)
		})

		t.Run("product inactive at the cart's version, unknown, or in another currency", func(t *testing.T) {
			inactive, unknown, dollars := newSKU("OFF"), newSKU("NEW"), newSKU("USD")
			s.product(t, inactive, "Off", 100, "EUR", false, 4)
			s.product(t, dollars, "Dollar thing", 100, "USD", true, 2)
			for _, tc := range []struct {
				line   string
				detail string
			}{{inactive, inactive + " (no longer sold)"}, {unknown, unknown + " (unknown product)"}, {dollars, "priced in USD"}} {
				id := newID(t)
				version := int64(1)
				switch tc.line {
				case inactive:
					version = 4
				case unknown:
					version = 0
				}
				s.checkout(t, checkoutOf(t, id, "hal@example.com", line(tc.line, 1, 100, version)))
				oc := decode[events.OrderCancelledV1](t, s.waitEvents(t, id, cancelled)[0])
				contains(t, "detail", oc.Detail, tc.detail)
			}
		})

		t.Run("price and name from the newer copy", func(t *testing.T) {
			newer, older, none, upcast := newSKU("NEWER"), newSKU("OLDER"), newSKU("NONE"), newSKU("V1")
			s.product(t, newer, "Kettle Pro", 1200, "EUR", true, 5)
			s.product(t, newer, "Kettle (stale)", 900, "EUR", true, 4) // older than the copy: ignored
			s.product(t, older, "Mug (old)", 500, "EUR", true, 2)
			// A v1 event is upcast to v2 (the deprecated description
			// becomes both descriptions) and kept like any other.
			s.deliver(t, catalogevents.Source, "catalog.product_updated.v1", upcast, catalogevents.ProductUpdatedV1{SKU: upcast,
				Name: "Upcast", Description: "d", PriceCents: 777, Currency: "EUR", Active: true, Version: 2})
			id := newID(t)
			s.checkout(t, checkoutOf(t, id, "ida@example.com",
				line(newer, 1, 1000, 4), line(older, 2, 550, 3), line(none, 3, 300, 1), line(upcast, 1, 700, 1)))
			oc := decode[events.OrderConfirmedV1](t, s.waitEvents(t, id, confirmed)[0])
			want := []events.Item{
				{SKU: newer, Name: "Kettle Pro", Quantity: 1, UnitPriceCents: 1200},
				{SKU: older, Name: "cart name of " + older, Quantity: 2, UnitPriceCents: 550},
				{SKU: none, Name: "cart name of " + none, Quantity: 3, UnitPriceCents: 300},
				{SKU: upcast, Name: "Upcast", Quantity: 1, UnitPriceCents: 777},
			}
			if !slices.Equal(oc.Items, want) || oc.TotalCents != 1200+1100+900+777 {
				t.Fatalf("order_confirmed items %+v total %d, want %+v", oc.Items, oc.TotalCents, want)
			}
			o := s.order(t, id)
			if o.Items[0].UnitPriceCents != 1200 || o.Items[0].Name != "Kettle Pro" || o.TotalCents != 3977 {
				t.Fatalf("order = %+v", o)
			}
		})

		t.Run("duplicate deliveries are no-ops", func(t *testing.T) {
			sku := newSKU("DUP")
			s.product(t, sku, "Dup", 1000, "EUR", true, 1)
			id := newID(t)
			c := checkoutOf(t, id, "jo@example.com", line(sku, 2, 1000, 1))
			s.checkout(t, c)
			s.waitEvents(t, id, confirmed)
			s.checkout(t, c) // the same checkout again, as a new event
			other := checkoutOf(t, id, "someone@example.com", line(sku, 9, 1000, 1))
			s.checkout(t, other) // another cart claiming the same order id
			s.captured(t, id, "pay-7")
			s.captured(t, id, "pay-7")
			s.reserved(t, id, "res-7")
			s.reserved(t, id, "res-7")
			s.dispatched(t, id, "ship-7")
			s.dispatched(t, id, "ship-7")
			s.waitEvents(t, id, confirmed, paid, reserved, shipped)
			o := s.order(t, id)
			if o.CustomerEmail != "jo@example.com" || o.Items[0].Quantity != 2 || len(o.History) != 4 {
				t.Fatalf("order = %+v", o)
			}
			s.quiet(t, id, 4)
		})

		t.Run("impossible transitions are dead-lettered, not applied", func(t *testing.T) {
			// A dispatch for a cancelled order.
			id := s.placeOrder(t, "kim@example.com")
			s.declined(t, id, "card_declined")
			e := s.dispatched(t, id, "ship-8")
			dl := s.deadLetter(t, e.ID)
			contains(t, "dead letter", dl.Error, "impossible transition")
			if dl.Attempts != 1 {
				t.Errorf("dead letter after %d attempts, want 1 (permanent)", dl.Attempts)
			}
			if o := s.order(t, id); o.Status != "cancelled" || o.ShipmentID != "" {
				t.Fatalf("order = %+v", o)
			}

			// A decline after a capture, another reservation, and a failed
			// reservation after a confirmed one.
			id2 := s.placeOrder(t, "kim@example.com")
			s.captured(t, id2, "pay-9")
			s.waitEvents(t, id2, confirmed, paid)
			for _, e := range []string{
				s.declined(t, id2, "card_declined").ID,
				s.captured(t, id2, "pay-other").ID,
			} {
				contains(t, "dead letter", s.deadLetter(t, e).Error, "impossible transition")
			}
			s.reserved(t, id2, "res-9")
			s.waitEvents(t, id2, confirmed, paid, reserved)
			for _, e := range []string{
				s.reserved(t, id2, "res-other").ID,
				s.reservationFailed(t, id2, inventoryevents.Shortage{SKU: "X-1", Requested: 1}).ID,
			} {
				contains(t, "dead letter", s.deadLetter(t, e).Error, "impossible transition")
			}
			o := s.order(t, id2)
			if o.Status != "reserved" || o.PaymentID != "pay-9" || o.ReservationID != "res-9" {
				t.Fatalf("order = %+v", o)
			}
			s.dispatched(t, id2, "ship-9")
			s.waitEvents(t, id2, confirmed, paid, reserved, shipped)
			contains(t, "dead letter", s.deadLetter(t, s.dispatched(t, id2, "ship-other").ID).Error, "impossible transition")
			s.quiet(t, id, 2)
		})

		t.Run("bad data is dead-lettered at once", func(t *testing.T) {
			sku := newSKU("BAD")
			id := newID(t)
			bad := checkoutOf(t, id, "lu@example.com", line(sku, 0, 100, 1))
			dl := s.deadLetter(t, s.checkout(t, bad).ID)
			contains(t, "dead letter", dl.Error, "quantity")
			if dl.Attempts != 1 {
				t.Errorf("attempts = %d, want 1", dl.Attempts)
			}
			s.h.MustProblem(t, "GET", "/orders/orders/"+id, nil, false, 404)

			e := s.deliver(t, catalogevents.Source, "catalog.product_updated.v2", "x", catalogevents.ProductUpdatedV2{SKU: "lower-case", Currency: "EUR", Version: 1})
			contains(t, "dead letter", s.deadLetter(t, e.ID).Error, "not a SKU")
			e = s.deliver(t, "/payments", "payments.payment_captured.v1", "x", map[string]any{"order_id": "not-a-uuid", "payment_id": "p"})
			contains(t, "dead letter", s.deadLetter(t, e.ID).Error, "order_id")
		})

		t.Run("concurrent events from different producers", func(t *testing.T) {
			// Payments' and Inventory's events about the same orders,
			// handled concurrently by two consumers (and their workers):
			// every order must end reserved, none may lose an update.
			sku := newSKU("RACE")
			s.product(t, sku, "Race", 100, "EUR", true, 1)
			const n = 40
			ids := make([]string, n)
			inject := func(source, typ, subject string, payload any) {
				s.h.Inject(parentCleanup{t, s.parent}, servicetest.Event(t, source, typ, subject, payload))
			}
			for i := range ids {
				ids[i] = newID(t)
				c := checkoutOf(t, ids[i], "race@example.com", line(sku, 1, 100, 1))
				inject(cartevents.Source, "cart.checked_out.v1", c.CartID, c)
			}
			for _, id := range ids {
				s.waitEvents(t, id, confirmed)
			}
			for i, id := range ids {
				capture := paymentsevents.PaymentCapturedV1{PaymentID: "pay-" + id, OrderID: id, AmountCents: 100, Currency: "EUR", Attempts: 1}
				reserve := inventoryevents.ReservationConfirmedV1{ReservationID: "res-" + id, OrderID: id, Items: []inventoryevents.Line{{SKU: sku, Quantity: 1}}}
				if i%2 == 0 {
					inject(paymentsevents.Source, "payments.payment_captured.v1", id, capture)
					inject(inventoryevents.Source, "inventory.reservation_confirmed.v1", id, reserve)
				} else {
					inject(inventoryevents.Source, "inventory.reservation_confirmed.v1", id, reserve)
					inject(paymentsevents.Source, "payments.payment_captured.v1", id, capture)
				}
			}
			for _, id := range ids {
				s.waitEvents(t, id, confirmed, paid, reserved)
				if o := s.order(t, id); o.Status != "reserved" || len(o.History) != 3 {
					t.Fatalf("order = %+v", o)
				}
			}
		})

		t.Run("an event about an unknown order is retried, then dead-lettered", func(t *testing.T) {
			e := s.captured(t, newID(t), "pay-x")
			dl := s.deadLetter(t, e.ID)
			contains(t, "dead letter", dl.Error, "no such order")
			if dl.Attempts < 2 {
				t.Errorf("attempts = %d, want retries", dl.Attempts)
			}
		})
	})
}
