package inventory_test

import (
	"testing"

	"github.com/bounded-dev/bounded/platform/sqldb"
	"github.com/bounded-dev/bounded/services/inventory/events"
)

// TestBatchesDoNotDeadlock sends a burst of orders over a few SKUs, each
// order naming its SKUs in its own order, then ships or cancels them. The
// consumer applies what queues up in batches, several workers at once;
// every batch locks its orders and SKUs up front, in one order, so no two
// batches deadlock (PostgreSQL would fail one of them after its
// deadlock_timeout, and the batch would be applied again one by one).
func TestBatchesDoNotDeadlock(t *testing.T) {
	s := start(t, sqldb.Postgres)
	skus := []string{"BATCH-A", "BATCH-B", "BATCH-C", "BATCH-D"}
	const onHand = 100000
	for _, sku := range skus {
		s.productV2(t, sku, "Item "+sku, "Short", "A long description of "+sku+".", 1, true)
		s.putStock(t, sku, onHand, 0, 10)
	}
	s.settle(t)

	const n = 400
	orders := make([]string, n)
	lines := make([][]events.Line, n)
	for i := range orders {
		orders[i] = newID()
		// Two or three SKUs, starting anywhere: batches meet them in
		// every order.
		for j := range 2 + i%2 {
			lines[i] = append(lines[i], line(skus[(i+j*(1+i%3))%len(skus)], 1))
		}
		s.confirm(t, orders[i], lines[i]...)
	}
	s.settle(t)
	shipped := map[string]int{}
	for i, order := range orders {
		if i%4 == 0 {
			s.cancel(t, order, "payment_declined")
			continue
		}
		s.inject(t, dispatched(t, order, newID(), lines[i]...))
		for _, l := range lines[i] {
			shipped[l.SKU] += l.Quantity
		}
	}
	s.settle(t)

	for _, sku := range skus {
		s.checkStock(t, sku, onHand-shipped[sku], 0)
	}
	if dl := s.Metric(t, "bounded_inbox_dead_letters_total", "service", "inventory"); dl != 0 {
		t.Fatalf("%v dead letters", dl)
	}
	batches := s.Metric(t, "bounded_inbox_batches_total", "service", "inventory")
	failed := s.Metric(t, "bounded_inbox_batch_failures_total", "service", "inventory")
	t.Logf("%v batches committed, %v failed", batches, failed)
	if batches == 0 {
		t.Fatal("no batch: the test sent its events too slowly to test batches")
	}
	if failed != 0 {
		t.Fatalf("%v batches failed (deadlocks: each cost deadlock_timeout)", failed)
	}
}
