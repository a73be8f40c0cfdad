package inventory_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/bounded-dev/bounded/platform/servicetest"
	"github.com/bounded-dev/bounded/platform/sqldb"
	"github.com/bounded-dev/bounded/services/inventory"
	"github.com/bounded-dev/bounded/services/inventory/events"
)

// Inventory as distributed mode runs it: two replicas on one PostgreSQL
// database, sharing the durable consumers' messages and the purchase-order
// job's work.

// countingSupplier is one supplier for every replica: a SupplierSimulator
// behind a slow line (so that two replicas' jobs would overlap on one
// purchase order if they could), counting the calls per purchase order.
type countingSupplier struct {
	*inventory.SupplierSimulator
	mu    sync.Mutex
	calls map[string]int
}

func (c *countingSupplier) PlaceOrder(ctx context.Context, po inventory.SupplierOrder) error {
	c.mu.Lock()
	c.calls[po.ID]++
	c.mu.Unlock()
	select {
	case <-time.After(30 * time.Millisecond):
	case <-ctx.Done():
		return ctx.Err()
	}
	return c.SupplierSimulator.PlaceOrder(ctx, po)
}

// replicas is the harness's replica of Inventory and a second one.
type replicas struct {
	*shop
	r        *servicetest.Replica
	supplier *countingSupplier
}

func startReplicas(t *testing.T) *replicas {
	t.Helper()
	sup := &countingSupplier{SupplierSimulator: inventory.NewSupplierSimulator(), calls: map[string]int{}}
	cfg := inventory.Config{Supplier: sup, RetryBackoff: func(int) time.Duration { return 100 * time.Millisecond }}
	h := servicetest.Start(t, sqldb.Postgres, inventory.Spec(cfg))
	s := &shop{Harness: h, supplier: sup.SupplierSimulator, injected: map[string]bool{}}
	return &replicas{shop: s, r: servicetest.StartReplica(t, h, inventory.Spec(cfg)), supplier: sup}
}

// settle waits until the two replicas together have dealt with every event
// injected so far.
func (rs *replicas) settle(t *testing.T) {
	t.Helper()
	rs.mu.Lock()
	want := float64(len(rs.injected))
	rs.mu.Unlock()
	servicetest.Eventually(t, 15*time.Second, fmt.Sprintf("the replicas to handle %v events", want), func() bool {
		n := rs.done(t)
		for _, m := range []string{"bounded_inbox_handled_total", "bounded_inbox_duplicates_total", "bounded_inbox_dead_letters_total"} {
			n += rs.r.Metric(t, m, "service", "inventory")
		}
		return n >= want
	})
	if dl := rs.Metric(t, "bounded_inbox_dead_letters_total") + rs.r.Metric(t, "bounded_inbox_dead_letters_total"); dl != 0 {
		t.Fatalf("%v dead letters", dl)
	}
}

// distinct counts the distinct events of type name about subject (a relay
// may publish one twice; JetStream keeps it once).
func distinct(s *shop, name, subject string) int {
	ids := map[string]bool{}
	for _, e := range s.Published(name) {
		if e.Subject == subject {
			ids[e.ID] = true
		}
	}
	return len(ids)
}

// TestReplicasMoveStockOnce drives 40 orders through two replicas: each is
// reserved or refused once (one event, one outcome), and then cancelled
// or dispatched; every SKU's stock ends as its orders' reservations say
// (nothing moved twice, nothing lost), its stock_changed events add up to
// it, a SKU that fell to its reorder point got one purchase order (never
// two), and the supplier got each purchase order once.
func TestReplicasMoveStockOnce(t *testing.T) {
	rs := startReplicas(t)
	skus := []string{"MUG-1", "MUG-2", "POT-1", "POT-2", "PAN-1"}
	const onHand, reorderPoint = 20, 10 // short for some orders
	for _, sku := range skus {
		rs.productV2(t, sku, "Item "+sku, "Short", "A long description of "+sku+".", 1, true)
		rs.putStock(t, sku, onHand, reorderPoint, 40)
	}
	rs.settle(t)

	const n = 40
	orders := make([]string, n)
	for i := range orders {
		orders[i] = newID()
		lines := []events.Line{line(skus[i%len(skus)], 1+i%3)}
		if i%2 == 0 {
			lines = append(lines, line(skus[(i+2)%len(skus)], 2))
		}
		rs.confirm(t, orders[i], lines...)
	}
	rs.settle(t)
	refused := 0
	for i, order := range orders {
		got := rs.reservations(t, order)
		confirmed, failed := distinct(rs.shop, events.ReservationConfirmed, order), distinct(rs.shop, events.ReservationFailed, order)
		switch {
		case len(got.Reservations) == 1 && got.Failure == nil && confirmed == 1 && failed == 0:
			if i%3 == 0 {
				rs.cancel(t, order, "payment_declined")
			} else {
				rs.inject(t, dispatched(t, order, newID(), got.Reservations[0].Items...))
			}
		case len(got.Reservations) == 0 && got.Failure != nil && confirmed == 0 && failed == 1:
			refused++
		default:
			t.Fatalf("order %d: %+v, %d reservation_confirmed, %d reservation_failed", i, got, confirmed, failed)
		}
	}
	rs.settle(t)

	// Every SKU's stock is what its orders' reservations say.
	wantOnHand, wantReserved := map[string]int{}, map[string]int{}
	for _, sku := range skus {
		wantOnHand[sku] = onHand
	}
	for _, order := range orders {
		for _, r := range rs.reservations(t, order).Reservations {
			for _, l := range r.Items {
				switch r.Status {
				case "consumed":
					wantOnHand[l.SKU] -= l.Quantity
				case "reserved":
					wantReserved[l.SKU] += l.Quantity
				case "released":
				default:
					t.Fatalf("order %s: reservation %s", order, r.Status)
				}
			}
		}
	}
	ids := map[string]bool{}
	moved := map[string]int{}
	for _, e := range rs.Published(events.StockChanged) {
		if ids[e.ID] {
			continue
		}
		ids[e.ID] = true
		v := decode[events.StockChangedV1](t, e)
		if v.Reason != events.StockAdjustment && v.Reason != events.StockRestock {
			moved[v.SKU] += v.DeltaOnHand
		}
	}
	for _, sku := range skus {
		rs.checkStock(t, sku, wantOnHand[sku], wantReserved[sku])
		if onHand+moved[sku] != wantOnHand[sku] {
			t.Fatalf("%s: stock_changed events move on_hand by %d, the stock by %d", sku, moved[sku], wantOnHand[sku]-onHand)
		}
	}

	// One purchase order per SKU that needed one, sent once.
	servicetest.Eventually(t, 15*time.Second, "the purchase orders sent", func() bool {
		return len(rs.purchaseOrders(t, "?status=pending"))+len(rs.purchaseOrders(t, "?status=retrying")) == 0
	})
	pos := rs.purchaseOrders(t, "?limit=100")
	perSKU := map[string]int{}
	for _, po := range pos {
		perSKU[po.SKU]++
		if po.Status != "sent" || po.Attempts != 1 {
			t.Fatalf("purchase order %+v: want sent at the first attempt", po)
		}
	}
	for _, sku := range skus {
		// A SKU may have been low for a while (reserved, then released):
		// one purchase order then; one now if it is low now.
		available := wantOnHand[sku] - wantReserved[sku]
		if perSKU[sku] > 1 || available <= reorderPoint && perSKU[sku] != 1 {
			t.Fatalf("%s (available %d, reorder point %d): %d purchase orders", sku, available, reorderPoint, perSKU[sku])
		}
	}
	rs.supplier.mu.Lock()
	defer rs.supplier.mu.Unlock()
	for _, po := range pos {
		if c := rs.supplier.calls[po.ID]; c != 1 {
			t.Fatalf("purchase order %s for %s: sent %d times", po.ID, po.SKU, c)
		}
	}
	if len(rs.supplier.calls) != len(pos) || len(rs.supplier.Received()) != len(pos) {
		t.Fatalf("the supplier was called for %d purchase orders and accepted %d; %d exist", len(rs.supplier.calls), len(rs.supplier.Received()), len(pos))
	}
	t.Logf("%d orders refused, %d purchase orders; events handled by replica 1: %v, by replica 2: %v", refused, len(pos),
		rs.Metric(t, "bounded_inbox_handled_total"), rs.r.Metric(t, "bounded_inbox_handled_total"))
}

// TestReplicasCancelWhileConfirming: each order's order_cancelled right
// behind its order_confirmed, to two replicas that may apply them at once
// or the cancellation first. Whatever the interleaving, nothing stays
// reserved for a cancelled order.
func TestReplicasCancelWhileConfirming(t *testing.T) {
	rs := startReplicas(t)
	// A SKU per order: what is raced here is the order, not its stock
	// (TestReplicasMoveStockOnce shares SKUs).
	const n = 40
	skus := make([]string, n)
	for i := range skus {
		skus[i] = fmt.Sprintf("CUP-%d", i)
		rs.putStock(t, skus[i], 10, 0, 10)
	}
	orders := make([]string, n)
	for i := range orders {
		orders[i] = newID()
		rs.confirm(t, orders[i], line(skus[i], 1+i%4))
		rs.cancel(t, orders[i], "out_of_stock")
	}
	rs.settle(t)
	outcomes := map[string]int{}
	for i, order := range orders {
		got := rs.reservations(t, order)
		switch {
		case got.Failure != nil:
			t.Fatalf("order %d: failed: %+v", i, got.Failure)
		case len(got.Reservations) == 0:
			outcomes["cancelled first"]++
			if c := distinct(rs.shop, events.ReservationConfirmed, order); c != 0 {
				t.Fatalf("order %d: no reservation, %d reservation_confirmed", i, c)
			}
		case got.Reservations[0].Status == "released":
			outcomes["released"]++
		default:
			t.Fatalf("order %d, cancelled: reservation %+v", i, got.Reservations[0])
		}
	}
	t.Logf("outcomes: %v", outcomes)
	for _, sku := range skus {
		rs.checkStock(t, sku, 10, 0)
	}
}

// TestCancellationBeforeConfirmation: the orders stream's events of one
// order applied out of stream order (as replicas may): the confirmation
// of an order cancelled already reserves nothing and publishes nothing,
// and a duplicate cancellation changes nothing. Older product versions
// after newer ones are ignored.
func TestCancellationBeforeConfirmation(t *testing.T) {
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		s := start(t, d)
		s.putStock(t, "BOWL-1", 10, 0, 10)
		s.productV2(t, "BOWL-1", "Bowl", "Bowl", "A deep bowl.", 3, true)
		s.productV1(t, "BOWL-1", "Old bowl", "An older description.", 2)
		order := newID()
		s.cancel(t, order, "payment_declined")
		s.cancel(t, order, "payment_declined")
		s.confirm(t, order, line("BOWL-1", 4))
		s.settle(t)
		if got := s.reservations(t, order); len(got.Reservations) != 0 || got.Failure != nil {
			t.Fatalf("a cancelled order's late confirmation: %+v", got)
		}
		if n := len(forOrder(t, s, events.ReservationConfirmed, order)) + len(forOrder(t, s, events.ReservationFailed, order)); n != 0 {
			t.Fatalf("%d reservation events for a cancelled order", n)
		}
		s.checkStock(t, "BOWL-1", 10, 0)
		if st := s.stock(t, "BOWL-1"); st.ProductVersion == nil || *st.ProductVersion != 3 || *st.Name != "Bowl" {
			t.Fatalf("product copy after version 3 then 2: %+v", st)
		}
	})
}
