package fulfillment_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/bounded-dev/bounded/platform/contract"
	"github.com/bounded-dev/bounded/platform/servicetest"
	"github.com/bounded-dev/bounded/platform/sqldb"
	"github.com/bounded-dev/bounded/services/fulfillment"
	"github.com/bounded-dev/bounded/services/fulfillment/events"
)

// distinct counts the distinct events among es (a relay may publish one
// twice; JetStream keeps it once).
func distinct(es []contract.Event) int {
	ids := map[string]bool{}
	for _, e := range es {
		ids[e.ID] = true
	}
	return len(ids)
}

// TestReplicasDispatchOnce: Fulfillment as distributed mode runs it, two
// replicas on one PostgreSQL database. 50 orders get their three events
// (from three producers, so applied at once by the two replicas' consumers)
// and fall due for dispatch together, after a delay, with a small batch:
// both replicas' dispatch jobs claim from the same rows. Each shipment is
// created once and dispatched once, with one event each. 10 more orders are
// cancelled before they are paid (the cancellation right behind the
// confirmation, on one stream, which the two replicas may apply in either
// order): none of them is dispatched.
func TestReplicasDispatchOnce(t *testing.T) {
	cfg := fulfillment.Config{DispatchDelay: 300 * time.Millisecond, DispatchBatch: 4}
	s := &shop{Harness: servicetest.Start(t, sqldb.Postgres, fulfillment.Spec(cfg))}
	r := servicetest.StartReplica(t, s.Harness, fulfillment.Spec(cfg))
	metric := func(name string) float64 {
		return s.Metric(t, name, "service", "fulfillment") + r.Metric(t, name, "service", "fulfillment")
	}

	const n, nCancelled = 50, 10
	orders := make([]string, n+nCancelled)
	for i := range orders {
		orders[i] = newOrderID(t)
		if i < n {
			s.inject(t, confirmed(t, orders[i], 1+i%3), reserved(t, orders[i]), paid(t, orders[i]))
		} else {
			s.inject(t, confirmed(t, orders[i], 1), cancelled(t, orders[i]), reserved(t, orders[i]))
		}
	}
	servicetest.Eventually(t, 15*time.Second, fmt.Sprintf("%d events applied", s.injected), func() bool {
		applied := 0.0
		for _, m := range []string{"bounded_inbox_handled_total", "bounded_inbox_duplicates_total", "bounded_inbox_dead_letters_total"} {
			applied += metric(m)
		}
		return int(applied) >= s.injected
	})
	servicetest.Eventually(t, 15*time.Second, fmt.Sprintf("%d shipments dispatched", n), func() bool {
		return metric("bounded_fulfillment_shipments_dispatched_total") >= n
	})
	quiet() // room for a second dispatch, if there were one
	if got := metric("bounded_fulfillment_shipments_dispatched_total"); got != n {
		t.Fatalf("%v dispatches for %d paid orders", got, n)
	}
	for i, order := range orders[:n] {
		sh := s.shipment(t, order)
		created, dispatched := s.published(t, events.ShipmentCreated, order), s.published(t, events.ShipmentDispatched, order)
		if sh.Status != "dispatched" || distinct(created) != 1 || distinct(dispatched) != 1 ||
			decodeDispatched(t, dispatched[0]).ShipmentID != sh.ID {
			t.Fatalf("order %d: shipment %+v, %d shipment_created, %d shipment_dispatched", i, sh, distinct(created), distinct(dispatched))
		}
	}
	outcomes := map[string]int{}
	for i, order := range orders[n:] {
		switch list := s.shipments(t, order); {
		case len(list) == 0:
			outcomes["never created"]++
		case len(list) == 1 && list[0].Status == "cancelled":
			outcomes["cancelled"]++
		default:
			t.Fatalf("cancelled order %d: shipments %+v", i, list)
		}
		if d := s.published(t, events.ShipmentDispatched, order); len(d) != 0 {
			t.Fatalf("cancelled order %d dispatched", i)
		}
	}
	t.Logf("cancelled orders: %v; dispatched by replica 1: %v, by replica 2: %v", outcomes,
		s.metric(t, "bounded_fulfillment_shipments_dispatched_total"), r.Metric(t, "bounded_fulfillment_shipments_dispatched_total"))
}
