package fulfillment_test

import (
	"slices"
	"testing"
	"time"

	"github.com/bounded-dev/bounded/platform/contract"
	"github.com/bounded-dev/bounded/platform/servicetest"
	"github.com/bounded-dev/bounded/platform/sqldb"
	"github.com/bounded-dev/bounded/services/fulfillment"
	"github.com/bounded-dev/bounded/services/fulfillment/events"
)

// TestEveryArrivalOrderShipsOnce: the three producers' events arrive in
// any order; each of the six leads to one shipment, created once and
// dispatched once. An order confirmed and reserved but never paid gets its
// shipment and keeps it undispatched.
func TestEveryArrivalOrderShipsOnce(t *testing.T) {
	t.Parallel()
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		s := start(t, d, fulfillment.Config{})
		type step func(testing.TB, string) contract.Event
		conf := func(t testing.TB, order string) contract.Event { return confirmed(t, order, 2, 1) }
		cases := []struct {
			name  string
			steps []step
		}{
			{"confirmed-reserved-paid", []step{conf, reserved, paid}},
			{"confirmed-paid-reserved", []step{conf, paid, reserved}},
			{"reserved-confirmed-paid", []step{reserved, conf, paid}},
			{"reserved-paid-confirmed", []step{reserved, paid, conf}},
			{"paid-confirmed-reserved", []step{paid, conf, reserved}},
			{"paid-reserved-confirmed", []step{paid, reserved, conf}},
		}
		orders := make([]string, len(cases))
		for i, c := range cases {
			orders[i] = newOrderID(t)
			for _, st := range c.steps {
				s.apply(t, st(t, orders[i]))
			}
		}
		unpaid := newOrderID(t)
		s.apply(t, confirmed(t, unpaid, 1), reserved(t, unpaid))

		for i, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				order := orders[i]
				sh := s.waitStatus(t, order, "dispatched")
				s.WaitPublished(t, events.ShipmentDispatched, func(e contract.Event) bool { return e.Subject == order })
				if sh.Package != "small_box" || sh.DispatchedAt == nil || sh.DispatchedAt.Before(sh.CreatedAt) || sh.CancelledAt != nil {
					t.Fatalf("shipment = %+v", sh)
				}
				if want := []Line{{"SKU-1", 2}, {"SKU-2", 1}}; !slices.Equal(sh.Items, want) {
					t.Fatalf("items = %v, want %v", sh.Items, want)
				}
				if sh.ShippingAddress.City != "London" || sh.ShippingAddress.PostalCode != "SW1Y 4JH" {
					t.Fatalf("address = %+v", sh.ShippingAddress)
				}
			})
		}
		s.waitStatus(t, unpaid, "created")
		quiet() // the dispatch job's backstop poll runs meanwhile

		for i, c := range cases {
			order := orders[i]
			created, dispatched := s.published(t, events.ShipmentCreated, order), s.published(t, events.ShipmentDispatched, order)
			if len(created) != 1 || len(dispatched) != 1 {
				t.Fatalf("%s: %d shipment_created and %d shipment_dispatched, want one each", c.name, len(created), len(dispatched))
			}
			sh := s.shipment(t, order)
			cr, di := decodeCreated(t, created[0]), decodeDispatched(t, dispatched[0])
			if cr.ShipmentID != sh.ID || di.ShipmentID != sh.ID || cr.OrderID != order || di.OrderID != order ||
				di.Package != "small_box" || len(di.Items) != 2 || !di.DispatchedAt.Equal(*sh.DispatchedAt) || !cr.CreatedAt.Equal(sh.CreatedAt) {
				t.Fatalf("%s: created %+v, dispatched %+v, shipment %+v", c.name, cr, di, sh)
			}
		}
		if sh := s.shipment(t, unpaid); sh.Status != "created" || sh.DispatchedAt != nil || sh.Package != "envelope" {
			t.Fatalf("unpaid order's shipment = %+v", sh)
		}
		if n := len(s.published(t, events.ShipmentCreated, unpaid)); n != 1 {
			t.Fatalf("unpaid order: %d shipment_created", n)
		}
		if n := len(s.published(t, events.ShipmentDispatched, unpaid)); n != 0 {
			t.Fatal("the unpaid order's shipment was dispatched")
		}
		if c, dp := s.metric(t, "bounded_fulfillment_shipments_created_total"), s.metric(t, "bounded_fulfillment_shipments_dispatched_total"); c != 7 || dp != 6 {
			t.Fatalf("metrics: created %v, dispatched %v; want 7 and 6", c, dp)
		}
		if n := s.metric(t, "bounded_fulfillment_created_to_dispatched_seconds"); n != 6 {
			t.Fatalf("created-to-dispatched histogram has %v samples, want 6", n)
		}
	})
}

// TestCancellation: a cancellation cancels a shipment not yet dispatched
// (and a payment after it does not dispatch it), keeps a shipment from
// being created at all when it comes first, and leaves a dispatched
// shipment dispatched, flagged as a conflict.
func TestCancellation(t *testing.T) {
	t.Parallel()
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		s := start(t, d, fulfillment.Config{})

		// Created, then cancelled, then paid: cancelled, never dispatched.
		early := newOrderID(t)
		s.apply(t, confirmed(t, early, 1), reserved(t, early))
		s.waitStatus(t, early, "created")
		s.apply(t, cancelled(t, early), paid(t, early))
		sh := s.shipment(t, early)
		if sh.Status != "cancelled" || sh.CancelledAt == nil || sh.DispatchedAt != nil {
			t.Fatalf("cancelled shipment = %+v", sh)
		}

		// Cancelled before it was reserved: no shipment at all.
		first := newOrderID(t)
		s.apply(t, confirmed(t, first, 1), cancelled(t, first), reserved(t, first), paid(t, first))
		if list := s.shipments(t, first); len(list) != 0 {
			t.Fatalf("an order cancelled before its reservation got shipments %+v", list)
		}

		// Dispatched, then cancelled: stays dispatched, flagged, counted.
		late := newOrderID(t)
		s.apply(t, confirmed(t, late, 1), reserved(t, late), paid(t, late))
		s.waitStatus(t, late, "dispatched")
		s.apply(t, cancelled(t, late))
		sh = s.shipment(t, late)
		if sh.Status != "dispatched" || sh.CancelledAt != nil || sh.CancelledAfterDispatchAt == nil || sh.DispatchedAt == nil {
			t.Fatalf("shipment cancelled after dispatch = %+v", sh)
		}
		s.apply(t, again(t, cancelled(t, late))) // counted once

		quiet()
		for _, order := range []string{early, first} {
			if n := len(s.published(t, events.ShipmentDispatched, order)); n != 0 {
				t.Fatalf("order %s: dispatched after its cancellation", order)
			}
		}
		if n := len(s.published(t, events.ShipmentCreated, first)); n != 0 {
			t.Fatal("a shipment was created for an order cancelled before its reservation")
		}
		for name, want := range map[string]float64{
			"bounded_fulfillment_shipments_created_total":        2,
			"bounded_fulfillment_shipments_cancelled_total":      1,
			"bounded_fulfillment_shipments_dispatched_total":     1,
			"bounded_fulfillment_cancelled_after_dispatch_total": 1,
		} {
			if got := s.metric(t, name); got != want {
				t.Errorf("%s = %v, want %v", name, got, want)
			}
		}
	})
}

// TestDuplicatesAreNoOps: an event redelivered (same id) is skipped by the
// inbox; the same news sent again (a new id) finds its fact recorded and
// the shipment existing. Either way: one shipment, one of each event.
func TestDuplicatesAreNoOps(t *testing.T) {
	t.Parallel()
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		s := start(t, d, fulfillment.Config{})
		order := newOrderID(t)
		c, r, p := confirmed(t, order, 4), reserved(t, order), paid(t, order)

		// Before the shipment exists: the confirmation twice, the second
		// with other items (the first arrival wins).
		s.apply(t, c)
		s.redeliver(t, c)
		s.settle(t)
		s.apply(t, again(t, confirmed(t, order, 1)), r)
		sh := s.waitStatus(t, order, "created")
		if sh.Package != "medium_box" || len(sh.Items) != 1 || sh.Items[0].Quantity != 4 {
			t.Fatalf("shipment = %+v: want the first confirmation's 4 items in a medium_box", sh)
		}
		s.redeliver(t, r)
		s.apply(t, again(t, r), p)
		s.waitStatus(t, order, "dispatched")
		for _, e := range []contract.Event{c, r, p} {
			s.redeliver(t, e)
			s.apply(t, again(t, e))
		}
		s.apply(t, again(t, confirmed(t, order, 60)))
		quiet()

		if got := s.shipment(t, order); got.ID != sh.ID || got.Status != "dispatched" || got.Package != "medium_box" {
			t.Fatalf("shipment after duplicates = %+v", got)
		}
		if c, dp := len(s.published(t, events.ShipmentCreated, order)), len(s.published(t, events.ShipmentDispatched, order)); c != 1 || dp != 1 {
			t.Fatalf("%d shipment_created and %d shipment_dispatched, want one each", c, dp)
		}
		if n := s.Metric(t, "bounded_inbox_duplicates_total", "service", "fulfillment"); n != 5 {
			t.Fatalf("inbox duplicates = %v, want 5", n)
		}
		if n := s.metric(t, "bounded_fulfillment_shipments_dispatched_total"); n != 1 {
			t.Fatalf("dispatched metric = %v", n)
		}
	})
}

// TestDispatchDelay: a paid shipment waits DispatchDelay after its payment,
// and a cancellation within that time stops it.
func TestDispatchDelay(t *testing.T) {
	t.Parallel()
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		const delay = 1500 * time.Millisecond
		s := start(t, d, fulfillment.Config{DispatchDelay: delay, PollInterval: time.Hour}) // no backstop: the job sleeps until the next shipment falls due
		order, stopped := newOrderID(t), newOrderID(t)
		s.apply(t, confirmed(t, order, 1), reserved(t, order), confirmed(t, stopped, 1), reserved(t, stopped))
		paidAt := time.Now().UTC().Truncate(time.Millisecond)
		s.apply(t, paid(t, order), paid(t, stopped), cancelled(t, stopped))
		if sh := s.shipment(t, order); sh.Status != "created" {
			t.Fatalf("dispatched before its delay: %+v", sh)
		}
		sh := s.waitStatus(t, order, "dispatched")
		if wait := sh.DispatchedAt.Sub(paidAt); wait < delay {
			t.Fatalf("dispatched %s after the payment, want at least %s", wait, delay)
		}
		quiet()
		if sh := s.shipment(t, stopped); sh.Status != "cancelled" || len(s.published(t, events.ShipmentDispatched, stopped)) != 0 {
			t.Fatalf("shipment cancelled within the delay = %+v", sh)
		}
	})
}

// TestManyOrders: a few hundred orders arriving at once, events of each in
// a different order, all ship exactly once (the dispatch job works in
// batches and wakes on commit).
func TestManyOrders(t *testing.T) {
	t.Parallel()
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		const n = 300
		s := start(t, d, fulfillment.Config{DispatchBatch: 32, PollInterval: time.Hour}) // no backstop: commits wake the job
		orders := make([]string, n)
		started := time.Now()
		for i := range orders {
			orders[i] = newOrderID(t)
			c, r, p := confirmed(t, orders[i], 1+i%60), reserved(t, orders[i]), paid(t, orders[i])
			switch i % 3 {
			case 0:
				s.inject(t, c, r, p)
			case 1:
				s.inject(t, p, r, c)
			default:
				s.inject(t, r, p, c)
			}
		}
		servicetest.Eventually(t, 20*time.Second, "every order dispatched", func() bool {
			return s.metric(t, "bounded_fulfillment_shipments_dispatched_total") >= n
		})
		t.Logf("%s: %d orders (%d events published one by one) dispatched in %s", d, n, 3*n, time.Since(started).Round(time.Millisecond))
		servicetest.Eventually(t, 15*time.Second, "every shipment_dispatched published", func() bool {
			return len(s.Published(events.ShipmentDispatched)) >= n
		})
		seen := map[string]int{}
		for _, e := range s.Published(events.ShipmentDispatched) {
			seen[e.Subject]++
		}
		for _, o := range orders {
			if seen[o] != 1 {
				t.Fatalf("order %s dispatched %d times", o, seen[o])
			}
		}
		var list struct {
			Shipments []Shipment `json:"shipments"`
		}
		s.MustJSON(t, "GET", "/fulfillment/shipments?status=dispatched&limit=500", nil, false, 200, &list)
		if len(list.Shipments) != n {
			t.Fatalf("%d dispatched shipments listed, want %d", len(list.Shipments), n)
		}
	})
}

// TestCancellationRacesDispatch: payments and cancellations of many created
// shipments arrive at once, on two consumers, while the dispatch job runs.
// Every shipment ends either cancelled and never dispatched, or dispatched
// once with the late cancellation noted on it; nothing in between.
func TestCancellationRacesDispatch(t *testing.T) {
	t.Parallel()
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		const n = 100
		s := start(t, d, fulfillment.Config{DispatchBatch: 8})
		orders := make([]string, n)
		for i := range orders {
			orders[i] = newOrderID(t)
			s.inject(t, confirmed(t, orders[i], 1), reserved(t, orders[i]))
		}
		s.settle(t)
		for _, o := range orders {
			s.inject(t, paid(t, o), cancelled(t, o))
		}
		s.settle(t)
		servicetest.Eventually(t, 15*time.Second, "no shipment left created", func() bool {
			var list struct {
				Shipments []Shipment `json:"shipments"`
			}
			s.MustJSON(t, "GET", "/fulfillment/shipments?status=created", nil, false, 200, &list)
			return len(list.Shipments) == 0
		})
		quiet()
		var nCancelled, nDispatched int
		for _, o := range orders {
			sh := s.shipment(t, o)
			dispatched := len(s.published(t, events.ShipmentDispatched, o))
			switch {
			case sh.Status == "cancelled" && dispatched == 0 && sh.DispatchedAt == nil:
				nCancelled++
			case sh.Status == "dispatched" && dispatched == 1 && sh.CancelledAfterDispatchAt != nil && sh.CancelledAt == nil:
				nDispatched++
			default:
				t.Fatalf("order %s: shipment %+v with %d shipment_dispatched", o, sh, dispatched)
			}
		}
		t.Logf("%s: %d cancelled in time, %d dispatched before their cancellation", d, nCancelled, nDispatched)
		if c, l := s.metric(t, "bounded_fulfillment_shipments_cancelled_total"), s.metric(t, "bounded_fulfillment_cancelled_after_dispatch_total"); int(c) != nCancelled || int(l) != nDispatched {
			t.Fatalf("metrics: cancelled %v, cancelled after dispatch %v; want %d and %d", c, l, nCancelled, nDispatched)
		}
	})
}
