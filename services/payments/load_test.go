package payments_test

import (
	"testing"
	"time"

	"github.com/bounded-dev/bounded/platform/servicetest"
	"github.com/bounded-dev/bounded/platform/sqldb"
	"github.com/bounded-dev/bounded/services/payments"
	"github.com/bounded-dev/bounded/services/payments/events"
)

// TestManyPaymentsAtOnce: many orders through a slow gateway and a small
// worker pool; every payment settles with exactly the calls its card needs
// (a payment handed to two workers at once would show more), one event
// each; some are cancelled on the way and end voided or refunded. The
// unavailable ones are looked up, found never charged. Then the job idles
// without spinning.
func TestManyPaymentsAtOnce(t *testing.T) {
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		sim := payments.NewSimulator(payments.SimulatorConfig{Latency: 5 * time.Millisecond})
		s := start(t, d, payments.Config{Workers: 4, MaxAttempts: 3}, sim)
		tokens := []string{payments.TokenApprove, payments.TokenFlaky, payments.TokenDecline, payments.TokenUnavailable}
		wantCalls := map[string]int{payments.TokenApprove: 1, payments.TokenFlaky: 3, payments.TokenDecline: 1, payments.TokenUnavailable: 3}
		wantStatus := map[string]string{payments.TokenApprove: "captured", payments.TokenFlaky: "captured",
			payments.TokenDecline: "declined", payments.TokenUnavailable: "declined"}
		const n = 40
		orders := make([]string, n)
		for i := range n {
			orders[i] = s.confirm(t, tokens[i%len(tokens)], int64(100+i))
		}
		// Cancel the first approved order once it is captured: refunded.
		s.waitStatus(t, orders[0], "captured")
		s.cancel(t, orders[0], "out_of_stock")

		servicetest.Eventually(t, 20*time.Second, "every payment settled", func() bool {
			settled := len(s.Published(events.PaymentCaptured)) + len(s.Published(events.PaymentDeclined))
			return settled == n && len(s.Published(events.RefundIssued)) == 1
		})
		for i, order := range orders {
			tok := tokens[i%len(tokens)]
			ps := s.payments(t, order)
			if len(ps) != 1 {
				t.Fatalf("order %d: %d payments", i, len(ps))
			}
			p := ps[0]
			want := wantStatus[tok]
			if i == 0 {
				want = "refunded"
			}
			if p.Status != want || len(p.Attempts) != wantCalls[tok] || sim.ChargeCalls(p.ID) != wantCalls[tok] {
				t.Fatalf("order %d (%s): status %s, %d attempts, %d gateway calls", i, tok, p.Status, len(p.Attempts), sim.ChargeCalls(p.ID))
			}
		}
		if c := len(sim.Charges()); c != n/2 {
			t.Fatalf("%d charges, want %d", c, n/2)
		}
		servicetest.Eventually(t, 10*time.Second, "every unavailable payment looked up", func() bool {
			return s.Metric(t, "bounded_payments_outcomes_verified_total", "service", "payments", "result", "not_charged") == n/4
		})
		// Idle: only the backstop poll claims (about one a second).
		before := s.Metric(t, "bounded_payments_job_claims_total", "service", "payments")
		time.Sleep(1500 * time.Millisecond)
		if idle := s.Metric(t, "bounded_payments_job_claims_total", "service", "payments") - before; idle > 3 {
			t.Fatalf("%v claims in 1.5 s of idling: the job spins", idle)
		}
	})
}
