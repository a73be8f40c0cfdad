package inventory_test

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bounded-dev/bounded/platform/servicetest"
	"github.com/bounded-dev/bounded/platform/sqldb"
	"github.com/bounded-dev/bounded/services/inventory/events"
)

type reservations struct {
	Reservations []struct {
		ID            string        `json:"id"`
		OrderID       string        `json:"order_id"`
		Status        string        `json:"status"`
		Items         []events.Line `json:"items"`
		ShipmentID    string        `json:"shipment_id"`
		ReleaseReason string        `json:"release_reason"`
	} `json:"reservations"`
	Failure *struct {
		Reason    string            `json:"reason"`
		Shortages []events.Shortage `json:"shortages"`
	} `json:"failure"`
}

func (s *shop) reservations(t testing.TB, orderID string) reservations {
	t.Helper()
	var out reservations
	s.MustJSON(t, "GET", "/inventory/reservations?order_id="+orderID, nil, false, http.StatusOK, &out)
	return out
}

func (s *shop) checkStock(t testing.TB, sku string, onHand, reserved int) {
	t.Helper()
	if st := s.stock(t, sku); st.OnHand != onHand || st.Reserved != reserved || st.Available != onHand-reserved {
		t.Fatalf("stock of %s = on_hand %d, reserved %d, available %d; want %d, %d", sku, st.OnHand, st.Reserved, st.Available, onHand, reserved)
	}
}

func forOrder(t testing.TB, s *shop, name, orderID string) []contractEvent {
	t.Helper()
	var out []contractEvent
	for _, e := range s.Published(name) {
		if e.Subject == orderID {
			out = append(out, e)
		}
	}
	return out
}

func stockChangesOf(t testing.TB, s *shop, ref, reason string) []events.StockChangedV1 {
	t.Helper()
	return publishedData(t, s, events.StockChanged, func(v events.StockChangedV1) bool { return v.Ref == ref && v.Reason == reason })
}

// An order is reserved whole or not at all: with one line short, nothing
// moves and the failure names the short line; an unknown SKU fails as
// unknown_product.
func TestReservationIsAllOrNothing(t *testing.T) {
	t.Parallel()
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		s := start(t, d)
		s.putStock(t, "MUG-350", 5, 0, 10)
		s.putStock(t, "TEE-M", 1, 0, 10)

		short := newID()
		s.confirm(t, short, line("MUG-350", 2), line("TEE-M", 2))
		e := s.WaitPublished(t, events.ReservationFailed, func(e contractEvent) bool { return e.Subject == short })
		f := decode[events.ReservationFailedV1](t, e)
		if f.Reason != events.FailureOutOfStock || !slices.Equal(f.Shortages, []events.Shortage{{SKU: "TEE-M", Requested: 2, Available: 1}}) {
			t.Fatalf("failure = %+v", f)
		}
		s.settle(t)
		s.checkStock(t, "MUG-350", 5, 0)
		s.checkStock(t, "TEE-M", 1, 0)
		if r := s.reservations(t, short); len(r.Reservations) != 0 || r.Failure == nil || r.Failure.Reason != "out_of_stock" {
			t.Fatalf("reservations of a failed order = %+v", r)
		}
		if c := stockChangesOf(t, s, short, events.StockReservation); len(c) != 0 {
			t.Fatalf("stock moved for a failed order: %+v", c)
		}

		unknown := newID()
		s.confirm(t, unknown, line("MUG-350", 1), line("NOPE-1", 1))
		e = s.WaitPublished(t, events.ReservationFailed, func(e contractEvent) bool { return e.Subject == unknown })
		if f := decode[events.ReservationFailedV1](t, e); f.Reason != events.FailureUnknownProduct ||
			!slices.Equal(f.Shortages, []events.Shortage{{SKU: "NOPE-1", Requested: 1, Available: 0}}) {
			t.Fatalf("failure = %+v", f)
		}

		ok := newID()
		s.confirm(t, ok, line("TEE-M", 1), line("MUG-350", 2), line("MUG-350", 1)) // two lines of one SKU merge
		e = s.WaitPublished(t, events.ReservationConfirmed, func(e contractEvent) bool { return e.Subject == ok })
		c := decode[events.ReservationConfirmedV1](t, e)
		if c.OrderID != ok || !slices.Equal(c.Items, []events.Line{line("MUG-350", 3), line("TEE-M", 1)}) || c.ReservationID == "" {
			t.Fatalf("confirmed = %+v", c)
		}
		s.settle(t)
		s.checkStock(t, "MUG-350", 5, 3)
		s.checkStock(t, "TEE-M", 1, 1)
		changes := stockChangesOf(t, s, ok, events.StockReservation)
		servicetest.Eventually(t, 10*time.Second, "two stock_changed events", func() bool {
			changes = stockChangesOf(t, s, ok, events.StockReservation)
			return len(changes) == 2
		})
		for _, sc := range changes {
			if sc.DeltaOnHand != 0 || sc.DeltaReserved < 1 || sc.Reserved > sc.OnHand {
				t.Fatalf("stock_changed = %+v", sc)
			}
		}
		r := s.reservations(t, ok)
		if len(r.Reservations) != 1 || r.Reservations[0].Status != "reserved" || r.Reservations[0].ID != c.ReservationID || r.Failure != nil {
			t.Fatalf("reservations = %+v", r)
		}
		if n := s.Metric(t, "bounded_inventory_reservations_failed_total", "reason", "out_of_stock"); n != 1 {
			t.Fatalf("failed{out_of_stock} = %v", n)
		}
		if n := s.Metric(t, "bounded_inventory_reservations_confirmed_total"); n != 1 {
			t.Fatalf("confirmed = %v", n)
		}
	})
}

// Cancel releases; dispatch consumes; deliveries of the same order or
// shipment again — under the same event id or a new one — change nothing.
func TestReservationLifecycleAndDuplicates(t *testing.T) {
	t.Parallel()
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		s := start(t, d)
		s.putStock(t, "MUG-350", 10, 0, 10)

		// Reserve, then the same event again and the same order under a new id.
		shipped := newID()
		first := orderConfirmed(t, shipped, line("MUG-350", 4))
		s.inject(t, first)
		s.Inject(t, first) // JetStream or the inbox drop it
		s.confirm(t, shipped, line("MUG-350", 4))
		s.settle(t)
		s.checkStock(t, "MUG-350", 10, 4)
		if n := len(forOrder(t, s, events.ReservationConfirmed, shipped)); n != 1 {
			t.Fatalf("%d reservation_confirmed for one order", n)
		}

		// Dispatch consumes: on_hand and reserved both drop.
		shipment := newID()
		s.inject(t, dispatched(t, shipped, shipment, line("MUG-350", 4)))
		s.inject(t, dispatched(t, shipped, shipment, line("MUG-350", 4))) // again, new event id
		s.settle(t)
		s.checkStock(t, "MUG-350", 6, 0)
		r := s.reservations(t, shipped)
		if len(r.Reservations) != 1 || r.Reservations[0].Status != "consumed" || r.Reservations[0].ShipmentID != shipment {
			t.Fatalf("after dispatch = %+v", r)
		}
		servicetest.Eventually(t, 10*time.Second, "the shipment's stock_changed", func() bool {
			return len(stockChangesOf(t, s, shipped, events.StockShipment)) == 1
		})
		if sc := stockChangesOf(t, s, shipped, events.StockShipment)[0]; sc.DeltaOnHand != -4 || sc.DeltaReserved != -4 || sc.OnHand != 6 || sc.Reserved != 0 {
			t.Fatalf("shipment stock_changed = %+v", sc)
		}

		// Cancel releases, once; a cancelled order confirmed again stays released.
		cancelled := newID()
		s.confirm(t, cancelled, line("MUG-350", 5))
		s.cancel(t, cancelled, "payment_declined")
		s.cancel(t, cancelled, "payment_declined")
		s.confirm(t, cancelled, line("MUG-350", 5))
		s.settle(t)
		s.checkStock(t, "MUG-350", 6, 0)
		e := s.WaitPublished(t, events.ReservationReleased, func(e contractEvent) bool { return e.Subject == cancelled })
		if rel := decode[events.ReservationReleasedV1](t, e); rel.Reason != "payment_declined" || !slices.Equal(rel.Items, []events.Line{line("MUG-350", 5)}) {
			t.Fatalf("released = %+v", rel)
		}
		time.Sleep(200 * time.Millisecond) // let the relay publish anything else it has
		if n := len(forOrder(t, s, events.ReservationReleased, cancelled)); n != 1 {
			t.Fatalf("%d reservation_released for one cancellation", n)
		}
		if n := len(forOrder(t, s, events.ReservationConfirmed, cancelled)); n != 1 {
			t.Fatalf("%d reservation_confirmed for one order", n)
		}
		if c := stockChangesOf(t, s, cancelled, events.StockRelease); len(c) != 1 || c[0].DeltaReserved != -5 || c[0].DeltaOnHand != 0 {
			t.Fatalf("release stock_changed = %+v", c)
		}
		r = s.reservations(t, cancelled)
		if len(r.Reservations) != 1 || r.Reservations[0].Status != "released" || r.Reservations[0].ReleaseReason != "payment_declined" {
			t.Fatalf("after cancel = %+v", r)
		}

		// Nothing reserved, nothing to release: a failed order, an order never seen.
		failed := newID()
		s.confirm(t, failed, line("MUG-350", 100))
		s.cancel(t, failed, "out_of_stock")
		s.cancel(t, newID(), "product_unavailable")
		s.settle(t)
		s.checkStock(t, "MUG-350", 6, 0)
		if n := len(forOrder(t, s, events.ReservationReleased, failed)); n != 0 {
			t.Fatalf("released a failed order")
		}
		if r := s.reservations(t, newID()); len(r.Reservations) != 0 || r.Failure != nil {
			t.Fatalf("reservations of an unknown order = %+v", r)
		}
		if n := s.Metric(t, "bounded_inbox_dead_letters_total", "service", "inventory"); n != 0 {
			t.Fatalf("%v dead letters", n)
		}
	})
}

// 50 orders of one unit each against 20 in stock, all at once: exactly 20
// are reserved and 30 fail; the stock never goes negative or oversold.
func TestConcurrentReservationsNeverOversell(t *testing.T) {
	t.Parallel()
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		s := start(t, d)
		s.putStock(t, "HOT-1", 20, 0, 10)
		var wg sync.WaitGroup
		orders := make([]string, 50)
		for i := range orders {
			orders[i] = newID()
		}
		evs := make([]contractEvent, len(orders))
		for i, o := range orders {
			evs[i] = orderConfirmed(t, o, line("HOT-1", 1))
		}
		for i := range evs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.inject(t, evs[i])
			}()
		}
		wg.Wait()
		servicetest.Eventually(t, 30*time.Second, "50 outcomes", func() bool {
			return len(s.Published(events.ReservationConfirmed))+len(s.Published(events.ReservationFailed)) >= 50
		})
		confirmed, failed := s.Published(events.ReservationConfirmed), s.Published(events.ReservationFailed)
		if len(confirmed) != 20 || len(failed) != 30 {
			t.Fatalf("%d confirmed, %d failed; want 20 and 30", len(confirmed), len(failed))
		}
		for _, e := range failed {
			if f := decode[events.ReservationFailedV1](t, e); f.Reason != events.FailureOutOfStock || f.Shortages[0].Available != 0 {
				t.Fatalf("failure = %+v", f)
			}
		}
		s.checkStock(t, "HOT-1", 20, 20)
		// Every reservation saw the one before it: reserved went 1, 2, ... 20.
		var seen []int
		servicetest.Eventually(t, 10*time.Second, "20 stock_changed", func() bool {
			seen = seen[:0]
			for _, sc := range publishedData(t, s, events.StockChanged, func(v events.StockChangedV1) bool { return v.Reason == events.StockReservation }) {
				if sc.Reserved > sc.OnHand || sc.Reserved < 0 {
					t.Fatalf("stock_changed broke the invariant: %+v", sc)
				}
				seen = append(seen, sc.Reserved)
			}
			return len(seen) == 20
		})
		slices.Sort(seen)
		for i, r := range seen {
			if r != i+1 {
				t.Fatalf("reserved levels %v, want 1..20 each once", seen)
			}
		}
	})
}

// A shipment dispatched for an order without a reserved reservation is an
// error: retried, then dead-lettered, and visible to operators. Events
// whose data can never be applied are dead-lettered at once.
func TestUnapplicableEventsAreDeadLettered(t *testing.T) {
	t.Parallel()
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		s := start(t, d)
		s.putStock(t, "MUG-350", 10, 0, 10)
		orphan := newID()
		s.inject(t, dispatched(t, orphan, newID(), line("MUG-350", 1)))
		// Cancelled, then dispatched: the reservation is released, not reserved.
		late := newID()
		s.confirm(t, late, line("MUG-350", 2))
		s.cancel(t, late, "payment_declined")
		s.settle(t)
		s.inject(t, dispatched(t, late, newID(), line("MUG-350", 2)))
		bad := newID()
		s.confirm(t, bad, line("MUG-350", 0))
		s.productV2(t, "not a sku", "Name", "Short", "Long", 1, true)
		s.settle(t)
		var dls struct {
			Count       int `json:"count"`
			DeadLetters []struct {
				Service   string `json:"service"`
				EventType string `json:"event_type"`
				Error     string `json:"error"`
				Attempts  int    `json:"attempts"`
			} `json:"dead_letters"`
		}
		s.MustProblem(t, "GET", "/ops/dead-letters", nil, false, http.StatusUnauthorized)
		s.MustJSON(t, "GET", "/ops/dead-letters?service=inventory", nil, true, http.StatusOK, &dls)
		if dls.Count != 4 {
			t.Fatalf("dead letters = %+v, want 4", dls)
		}
		found := map[string]int{}
		for _, dl := range dls.DeadLetters {
			switch {
			case dl.Service != "inventory":
				t.Fatalf("dead letter of %s", dl.Service)
			case dl.EventType == "fulfillment.shipment_dispatched.v1" && strings.Contains(dl.Error, orphan) && dl.Attempts > 1:
				found["orphan"]++
			case dl.EventType == "fulfillment.shipment_dispatched.v1" && strings.Contains(dl.Error, "released") && dl.Attempts > 1:
				found["released"]++
			case dl.EventType == "orders.order_confirmed.v1" && strings.Contains(dl.Error, "quantity 0") && dl.Attempts == 1:
				found["quantity"]++
			case dl.EventType == "catalog.product_updated.v2" && strings.Contains(dl.Error, "not a sku") && dl.Attempts == 1:
				found["sku"]++
			}
		}
		if len(found) != 4 {
			t.Fatalf("dead letters = %+v", dls.DeadLetters)
		}
		if n := s.Metric(t, "bounded_inbox_dead_letters_total", "service", "inventory"); n != 4 {
			t.Fatalf("dead letters metric = %v", n)
		}
		s.checkStock(t, "MUG-350", 10, 0)
	})
}
