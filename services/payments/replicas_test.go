package payments_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/bounded-dev/bounded/platform/servicetest"
	"github.com/bounded-dev/bounded/platform/sqldb"
	"github.com/bounded-dev/bounded/services/payments"
	"github.com/bounded-dev/bounded/services/payments/events"
)

// Payments as distributed mode runs it: two replicas on one PostgreSQL
// database, sharing the durable consumer's messages and the job's work.

// startReplicas runs two replicas of Payments with cfg (sim as the
// gateway, when not nil: one gateway object for both, as one real gateway
// would be) and returns the harness's and the second replica.
func startReplicas(t *testing.T, cfg payments.Config, sim *payments.Simulator) (*shop, *servicetest.Replica) {
	t.Helper()
	if sim != nil {
		cfg.Gateway = sim
	}
	cfg.RetryBackoff, cfg.MaxRetryBackoff = 10*time.Millisecond, 40*time.Millisecond
	cfg.VerifyAfter = 10 * time.Millisecond
	s := &shop{Harness: servicetest.Start(t, sqldb.Postgres, payments.Spec(cfg)), sim: sim}
	return s, servicetest.StartReplica(t, s.Harness, payments.Spec(cfg))
}

// both is the sum of a metric over the two replicas.
func both(t *testing.T, s *shop, r *servicetest.Replica, name string) float64 {
	t.Helper()
	return s.Metric(t, name, "service", "payments") + r.Metric(t, name, "service", "payments")
}

// distinctAbout counts the distinct events of type name about the order
// (a relay may publish one twice; JetStream keeps it once).
func (s *shop) distinctAbout(name, orderID string) int {
	ids := map[string]bool{}
	for _, e := range s.Published(name) {
		if e.Subject == orderID {
			ids[e.ID] = true
		}
	}
	return len(ids)
}

// TestReplicasChargeOnce: 50 orders confirmed to two replicas whose jobs
// both claim from the same table, through one slow gateway and two workers
// each: exactly 50 charges, one gateway call and one attempt per payment,
// one payment_captured per order; both replicas did part of the work.
func TestReplicasChargeOnce(t *testing.T) {
	sim := payments.NewSimulator(payments.SimulatorConfig{Latency: 10 * time.Millisecond})
	s, r := startReplicas(t, payments.Config{Workers: 2}, sim)
	const n = 50
	orders := make([]string, n)
	for i := range orders {
		orders[i] = s.confirm(t, payments.TokenApprove, int64(100+i))
	}
	// A CI run once timed out here after 15 s with no log line to say
	// where the work stood; the wait is longer now, and says.
	deadline := time.Now().Add(45 * time.Second)
	for both(t, s, r, "bounded_payments_captured_total") < n {
		if time.Now().After(deadline) {
			t.Fatalf("after 45 s: captured %v + %v, events handled %v + %v, gateway charges %d, of %d orders",
				s.Metric(t, "bounded_payments_captured_total", "service", "payments"), r.Metric(t, "bounded_payments_captured_total", "service", "payments"),
				s.Metric(t, "bounded_inbox_handled_total", "service", "payments"), r.Metric(t, "bounded_inbox_handled_total", "service", "payments"),
				len(sim.Charges()), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // room for a second charge, if there were one
	if c := len(sim.Charges()); c != n {
		t.Fatalf("%d charges for %d orders", c, n)
	}
	for i, order := range orders {
		ps := s.payments(t, order)
		if len(ps) != 1 {
			t.Fatalf("order %d: %d payments", i, len(ps))
		}
		calls, captured := sim.ChargeCalls(ps[0].ID), s.distinctAbout(events.PaymentCaptured, order)
		if ps[0].Status != "captured" || len(ps[0].Attempts) != 1 || calls != 1 || len(sim.ChargesFor(order)) != 1 || captured != 1 {
			t.Fatalf("order %d: payment %+v, %d gateway calls, %d payment_captured", i, ps[0], calls, captured)
		}
	}
	if got := both(t, s, r, "bounded_payments_captured_total"); got != n {
		t.Fatalf("the replicas captured %v payments, want %d", got, n)
	}
	metric := []func(testing.TB, string, ...string) float64{s.Metric, r.Metric}
	for i, m := range metric {
		handled := m(t, "bounded_inbox_handled_total", "service", "payments")
		captured := m(t, "bounded_payments_captured_total", "service", "payments")
		t.Logf("replica %d: %v events handled, %v payments captured", i+1, handled, captured)
		if handled == 0 && captured == 0 {
			t.Errorf("replica %d did nothing: the test ran one replica", i+1)
		}
	}
}

// TestReplicasCancelWhileConfirming: each order's order_cancelled right
// behind its order_confirmed, to two replicas that may apply them at once
// or the cancellation first. Whatever the interleaving, no cancelled order
// keeps any money: it has no payment, a voided one, or a refunded one, and
// the gateway gave back every charge it made.
func TestReplicasCancelWhileConfirming(t *testing.T) {
	sim := payments.NewSimulator(payments.SimulatorConfig{})
	s, r := startReplicas(t, payments.Config{}, sim)
	const n = 40
	orders := make([]string, n)
	for i := range orders {
		orders[i] = newOrderID(t)
		s.confirmOrder(t, orders[i], payments.TokenApprove, int64(100+i))
		s.cancel(t, orders[i], "out_of_stock")
	}
	servicetest.Eventually(t, 15*time.Second, fmt.Sprintf("%d events handled", 2*n), func() bool {
		return both(t, s, r, "bounded_inbox_handled_total") >= 2*n
	})
	// Once every event is applied, the job settles what they left: each
	// order ends with no payment, a voided one, or a refunded one. (One
	// GET is not a snapshot: a payment may read captured beside its issued
	// refund; it reads refunded on the next.)
	outcomes := map[string]int{}
	unsettled := map[string][]payment{}
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		clear(outcomes)
		clear(unsettled)
		for _, order := range orders {
			switch ps := s.payments(t, order); {
			case len(ps) == 0:
				outcomes["none"]++
			case len(ps) == 1 && (ps[0].Status == "voided" || ps[0].Status == "refunded" && len(ps[0].Refunds) == 1):
				outcomes[ps[0].Status]++
			default:
				unsettled[order] = ps
			}
		}
		if len(unsettled) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cancelled orders whose payments are neither voided nor refunded: %+v", unsettled)
		}
	}
	t.Logf("outcomes: %v", outcomes)
	refunded := map[string]int64{}
	for _, rf := range sim.Refunds() {
		refunded[rf.ChargeID] += rf.AmountCents
	}
	for _, c := range sim.Charges() {
		if refunded[c.ID] != c.AmountCents {
			t.Fatalf("charge %s of order %s: %d taken, %d given back", c.ID, c.Reference, c.AmountCents, refunded[c.ID])
		}
	}
}

// TestReplicasShareTheDefaultGateway: with the default gateway (the
// StoredSimulator, in the database) two replicas call one gateway: a
// tok_flaky payment takes exactly three calls whichever replicas make
// them, and a refund made through either replica finds the charge the
// other made (its first attempt succeeds).
func TestReplicasShareTheDefaultGateway(t *testing.T) {
	s, r := startReplicas(t, payments.Config{Workers: 2}, nil)
	const n = 16
	orders := make([]string, n)
	for i := range orders {
		orders[i] = s.confirm(t, payments.TokenFlaky, int64(100+i))
	}
	servicetest.Eventually(t, 15*time.Second, "every payment settled", func() bool {
		return both(t, s, r, "bounded_payments_captured_total")+both(t, s, r, "bounded_payments_declined_total") >= n
	})
	for i, order := range orders {
		if p := s.payments(t, order)[0]; p.Status != "captured" || len(p.Attempts) != 3 {
			t.Fatalf("order %d: payment %+v: want captured at the third call", i, p)
		}
		s.cancel(t, order, "out_of_stock")
	}
	servicetest.Eventually(t, 15*time.Second, "every payment refunded", func() bool {
		return both(t, s, r, "bounded_payments_refunded_total") >= n
	})
	for i, order := range orders {
		ps := s.payments(t, order)
		if len(ps) != 1 {
			t.Fatalf("order %d: %d payments", i, len(ps))
		}
		p := ps[0]
		if p.Status != "refunded" || len(p.Attempts) != 3 || len(p.Refunds) != 1 || p.Refunds[0].Attempts != 1 ||
			p.Refunds[0].LastError != "" || s.distinctAbout(events.RefundIssued, order) != 1 {
			t.Fatalf("order %d: payment %+v", i, p)
		}
	}
	if e := both(t, s, r, "bounded_payments_gateway_errors_total"); e != 2*n {
		t.Fatalf("%v gateway errors, want %d (two hiccups per flaky payment, no refund failing)", e, 2*n)
	}
}
