package fulfillment_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/bounded-dev/bounded/platform/contract"
	"github.com/bounded-dev/bounded/platform/servicetest"
	"github.com/bounded-dev/bounded/platform/sqldb"
	"github.com/bounded-dev/bounded/services/fulfillment"
	inventoryevents "github.com/bounded-dev/bounded/services/inventory/events"
	ordersevents "github.com/bounded-dev/bounded/services/orders/events"
)

// TestUnusableEventsAreDeadLettered: events whose data cannot make a
// shipment are dead-lettered at once (not retried, not swallowed), and
// leave nothing behind.
func TestUnusableEventsAreDeadLettered(t *testing.T) {
	t.Parallel()
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		s := start(t, d, fulfillment.Config{})
		order := newOrderID(t)
		confirmedWith := func(change func(*ordersevents.OrderConfirmedV1)) contract.Event {
			var data ordersevents.OrderConfirmedV1
			e := confirmed(t, order, 1)
			if err := json.Unmarshal(e.Data, &data); err != nil {
				t.Fatal(err)
			}
			change(&data)
			return servicetest.Event(t, e.Source, e.Type, e.Subject, data)
		}
		bad := []contract.Event{
			confirmedWith(func(d *ordersevents.OrderConfirmedV1) { d.Items = nil }),
			confirmedWith(func(d *ordersevents.OrderConfirmedV1) { d.Items[0].SKU = "lower-case" }),
			confirmedWith(func(d *ordersevents.OrderConfirmedV1) { d.Items[0].Quantity = 0 }),
			confirmedWith(func(d *ordersevents.OrderConfirmedV1) { d.ShippingAddress.Line1 = "" }),
			confirmedWith(func(d *ordersevents.OrderConfirmedV1) { d.OrderID = "order-1" }),
			servicetest.Event(t, inventoryevents.Source, contract.TypeName(inventoryevents.ReservationConfirmed, 1), order,
				inventoryevents.ReservationConfirmedV1{ReservationID: "r", ConfirmedAt: time.Now()}),
			servicetest.Event(t, inventoryevents.Source, contract.TypeName(inventoryevents.ReservationConfirmed, 1), order, "not an object"),
		}
		s.apply(t, bad...)
		if n := s.Metric(t, "bounded_inbox_dead_letters_total", "service", "fulfillment"); n != float64(len(bad)) {
			t.Fatalf("dead letters = %v, want %d", n, len(bad))
		}
		if n := s.Metric(t, "bounded_inbox_retries_total", "service", "fulfillment"); n != 0 {
			t.Fatalf("retries = %v: bad data is permanent", n)
		}
		// The order is still whole once good events arrive.
		s.apply(t, confirmed(t, order, 1), reserved(t, order), paid(t, order))
		s.waitStatus(t, order, "dispatched")
	})
}
