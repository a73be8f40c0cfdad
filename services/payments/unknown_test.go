package payments_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/bounded-dev/bounded/platform/servicetest"
	"github.com/bounded-dev/bounded/platform/sqldb"
	"github.com/bounded-dev/bounded/services/payments"
	"github.com/bounded-dev/bounded/services/payments/events"
)

// A payment called off while a gateway call's outcome was unknown (declined
// gateway_unavailable, or voided) is looked up at the gateway until the
// gateway says whether it charged: a charge found is captured and refunded
// at once, none settles it.

// lookupGate is a Gateway that holds LookupCharge calls until the test
// opens it, then passes them to the Simulator: the test's way to see a
// payment while its outcome is unknown.
type lookupGate struct {
	*payments.Simulator
	release chan struct{}
	once    sync.Once
}

func newLookupGate(sim *payments.Simulator) *lookupGate {
	return &lookupGate{Simulator: sim, release: make(chan struct{})}
}

func (g *lookupGate) LookupCharge(ctx context.Context, key string) (payments.Charge, bool, error) {
	select {
	case <-g.release:
	case <-ctx.Done():
		return payments.Charge{}, false, ctx.Err()
	}
	return g.Simulator.LookupCharge(ctx, key)
}

func (g *lookupGate) open() { g.once.Do(func() { close(g.release) }) }

// checkRefundedOnce checks that the order's card was charged exactly once
// and that charge refunded exactly once, in full, at the gateway and in the
// payment, with one payment_captured and one refund_issued; it returns the
// payment.
func checkRefundedOnce(t *testing.T, s *shop, sim *payments.Simulator, order string, amount int64, reason string) payment {
	t.Helper()
	p := s.waitStatus(t, order, "refunded")
	charges, refunds := sim.ChargesFor(order), sim.Refunds()
	if len(charges) != 1 || charges[0].AmountCents != amount || charges[0].IdempotencyKey != p.ID {
		t.Fatalf("gateway charges %+v, want one of %d", charges, amount)
	}
	if len(refunds) != 1 || refunds[0].ChargeID != charges[0].ID || refunds[0].AmountCents != charges[0].AmountCents {
		t.Fatalf("gateway refunds %+v of charge %+v, want one, in full", refunds, charges[0])
	}
	if p.ChargeID == nil || *p.ChargeID != charges[0].ID || p.Unknown || len(p.Refunds) != 1 {
		t.Fatalf("payment %+v", p)
	}
	if r := p.Refunds[0]; r.Status != "issued" || r.AmountCents != amount || r.Reason != reason {
		t.Fatalf("refund %+v, want issued, %d, %s", r, amount, reason)
	}
	_, captured := waitEvent[events.PaymentCapturedV1](t, s, events.PaymentCaptured, order)
	_, refunded := waitEvent[events.RefundIssuedV1](t, s, events.RefundIssued, order)
	if captured.AmountCents != amount || refunded.AmountCents != amount || refunded.Reason != reason || refunded.PaymentID != p.ID {
		t.Fatalf("payment_captured %+v, refund_issued %+v", captured, refunded)
	}
	if c, r := s.publishedAbout(events.PaymentCaptured, order), s.publishedAbout(events.RefundIssued, order); c != 1 || r != 1 {
		t.Fatalf("%d payment_captured, %d refund_issued", c, r)
	}
	return p
}

// TestChargedButAnswerLost: the gateway charges the card but every call
// times out. The payment is declined with gateway_unavailable (Orders
// cancels the order), its outcome unknown; the lookup finds the charge, which
// is captured and refunded at once: one charge, one refund, equal amounts.
func TestChargedButAnswerLost(t *testing.T) {
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		sim := payments.NewSimulator(payments.SimulatorConfig{})
		g := newLookupGate(sim)
		t.Cleanup(g.open)
		s := start(t, d, payments.Config{Gateway: g, MaxAttempts: 3}, sim)
		order := s.confirm(t, payments.TokenChargedTimeout, 4200)

		_, declined := waitEvent[events.PaymentDeclinedV1](t, s, events.PaymentDeclined, order)
		p := s.waitStatus(t, order, "declined")
		if declined.Reason != events.ReasonGatewayUnavailable || declined.Attempts != 3 || p.Reason != events.ReasonGatewayUnavailable ||
			!p.Unknown || len(p.Refunds) != 0 || !slices.Equal(outcomes(p), []string{"failed", "failed", "failed"}) {
			t.Fatalf("declined: payment %+v, event %+v; want gateway_unavailable, outcome unknown", p, declined)
		}
		if c := sim.ChargesFor(order); len(c) != 1 {
			t.Fatalf("the simulator made %d charges, want 1 (its answers lost)", len(c))
		}

		g.open() // the lookup finds the charge
		p = checkRefundedOnce(t, s, sim, order, 4200, "charged_after_decline")
		if !slices.Equal(outcomes(p), []string{"failed", "failed", "failed", "approved"}) || p.Attempts[3].Reason == "" {
			t.Fatalf("attempts %+v: want the found charge recorded as the fourth, with its reason", p.Attempts)
		}
		if calls, lookups := sim.ChargeCalls(p.ID), sim.LookupCalls(p.ID); calls != 3 || lookups != 1 {
			t.Fatalf("%d charge calls, %d lookups; want 3, 1", calls, lookups)
		}
		if n := s.publishedAbout(events.PaymentDeclined, order); n != 1 {
			t.Fatalf("%d payment_declined", n)
		}
		for result, want := range map[string]float64{"charged": 1, "not_charged": 0} {
			if got := s.Metric(t, "bounded_payments_outcomes_verified_total", "service", "payments", "result", result); got != want {
				t.Errorf("outcomes verified %s = %v, want %v", result, got, want)
			}
		}
		if got := s.Metric(t, "bounded_payments_verify_overdue_total", "service", "payments"); got != 0 {
			t.Errorf("verify overdue = %v", got)
		}
	})
}

// TestFailedWithoutCharge: the gateway fails every call without charging.
// The payment is declined with gateway_unavailable, its outcome unknown; the
// lookup finds no charge: the flag is cleared, and nothing is refunded.
func TestFailedWithoutCharge(t *testing.T) {
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		sim := payments.NewSimulator(payments.SimulatorConfig{})
		g := newLookupGate(sim)
		t.Cleanup(g.open)
		s := start(t, d, payments.Config{Gateway: g, MaxAttempts: 3}, sim)
		order := s.confirm(t, payments.TokenUnavailable, 900)
		if p := s.waitStatus(t, order, "declined"); !p.Unknown || p.Reason != events.ReasonGatewayUnavailable {
			t.Fatalf("declined: %+v; want gateway_unavailable, outcome unknown", p)
		}

		g.open()
		var p payment
		servicetest.Eventually(t, 15*time.Second, "the outcome settled", func() bool {
			p = s.payments(t, order)[0]
			return !p.Unknown
		})
		if p.Status != "declined" || p.Reason != events.ReasonGatewayUnavailable || len(p.Refunds) != 0 || p.ChargeID != nil || len(p.Attempts) != 3 {
			t.Fatalf("payment %+v: want declined as before, nothing else", p)
		}
		if c, r, lookups := sim.ChargesFor(order), sim.Refunds(), sim.LookupCalls(p.ID); len(c) != 0 || len(r) != 0 || lookups != 1 {
			t.Fatalf("charges %+v, refunds %+v, %d lookups", c, r, lookups)
		}
		if got := s.Metric(t, "bounded_payments_outcomes_verified_total", "service", "payments", "result", "not_charged"); got != 1 {
			t.Fatalf("outcomes verified not_charged = %v", got)
		}
		time.Sleep(100 * time.Millisecond) // a second lookup, if there were one
		if n := sim.LookupCalls(p.ID); n != 1 {
			t.Fatalf("%d lookups after the outcome was settled", n)
		}
		if n := len(s.Published(events.PaymentCaptured)) + len(s.Published(events.RefundIssued)); n != 0 {
			t.Fatalf("%d captured/refund events", n)
		}
	})
}

// TestLookupFailsForAWhile: the lookups fail three times, then find the
// charge: retried, then captured and refunded. The horizon is shorter than
// VerifyAfter, so every failure is past it: each is counted as overdue (and
// logged at ERROR) and the next lookup comes VerifyInterval later. (Backoff
// within the horizon: TestUnknownOutcome.)
func TestLookupFailsForAWhile(t *testing.T) {
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		sim := payments.NewSimulator(payments.SimulatorConfig{LookupFailures: 3})
		s := start(t, d, payments.Config{MaxAttempts: 2, VerifyHorizon: time.Millisecond, VerifyInterval: 50 * time.Millisecond}, sim)
		order := s.confirm(t, payments.TokenChargedTimeout, 1250)
		p := checkRefundedOnce(t, s, sim, order, 1250, "charged_after_decline")
		if n := sim.LookupCalls(p.ID); n != 4 {
			t.Fatalf("%d lookups, want 4 (3 failed)", n)
		}
		for name, want := range map[string]float64{
			"bounded_payments_gateway_errors_total": 3,
			"bounded_payments_gateway_call_seconds": 4,
		} {
			if got := s.Metric(t, name, "service", "payments", "op", "lookup"); got != want {
				t.Errorf("%s{op=lookup} = %v, want %v", name, got, want)
			}
		}
		if got := s.Metric(t, "bounded_payments_verify_overdue_total", "service", "payments"); got != 3 {
			t.Errorf("verify overdue = %v, want 3", got)
		}
		if got := s.Metric(t, "bounded_payments_outcomes_verified_total", "service", "payments", "result", "charged"); got != 1 {
			t.Errorf("outcomes verified charged = %v", got)
		}
	})
}

// TestVoidedChargeAnswerLost: the first call charges but its answer is
// lost; the order is cancelled while the retry waits, and the payment is
// voided (the retry never made). The lookup finds the charge: captured and
// refunded for the cancellation's reason.
func TestVoidedChargeAnswerLost(t *testing.T) {
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		const backoff = 5 * time.Second // longer than the test: the retry is never due
		s := start(t, d, payments.Config{RetryBackoff: backoff, MaxRetryBackoff: backoff}, nil)
		order := s.confirm(t, payments.TokenChargedTimeout, 333)
		servicetest.Eventually(t, 15*time.Second, "the first attempt", func() bool {
			ps := s.payments(t, order)
			return len(ps) == 1 && len(ps[0].Attempts) == 1
		})
		s.cancel(t, order, "out_of_stock")
		waitEvent[events.PaymentVoidedV1](t, s, events.PaymentVoided, order)
		p := checkRefundedOnce(t, s, s.sim, order, 333, "out_of_stock")
		if calls := s.sim.ChargeCalls(p.ID); calls != 1 || !slices.Equal(outcomes(p), []string{"failed", "approved"}) {
			t.Fatalf("%d charge calls, attempts %+v", calls, p.Attempts)
		}
	})
}

// TestReplicasVerifyUnknownOutcomes: two replicas with the default gateway
// (the StoredSimulator, one gateway for both) look up the payments declined
// with gateway_unavailable: each charged one is captured and refunded once,
// in full; each uncharged one is settled, nothing refunded; every outcome
// is settled exactly once between them.
func TestReplicasVerifyUnknownOutcomes(t *testing.T) {
	s, r := startReplicas(t, payments.Config{Workers: 2, MaxAttempts: 2}, nil)
	const n = 8
	charged, uncharged := make([]string, n), make([]string, n)
	for i := range n {
		charged[i] = s.confirm(t, payments.TokenChargedTimeout, int64(100+i))
		uncharged[i] = s.confirm(t, payments.TokenUnavailable, int64(200+i))
	}
	servicetest.Eventually(t, 15*time.Second, "every outcome settled", func() bool {
		return both(t, s, r, "bounded_payments_outcomes_verified_total") >= 2*n &&
			both(t, s, r, "bounded_payments_refunded_total") >= n
	})
	for i, order := range charged {
		ps := s.payments(t, order)
		if len(ps) != 1 {
			t.Fatalf("charged order %d: %d payments", i, len(ps))
		}
		p := ps[0]
		if p.Status != "refunded" || p.Unknown || p.ChargeID == nil || len(p.Refunds) != 1 || p.Refunds[0].Status != "issued" ||
			p.Refunds[0].AmountCents != p.AmountCents || s.distinctAbout(events.RefundIssued, order) != 1 ||
			s.distinctAbout(events.PaymentCaptured, order) != 1 {
			t.Fatalf("charged order %d: payment %+v", i, p)
		}
	}
	for i, order := range uncharged {
		if p := s.payments(t, order)[0]; p.Status != "declined" || p.Unknown || len(p.Refunds) != 0 || p.ChargeID != nil {
			t.Fatalf("uncharged order %d: payment %+v", i, p)
		}
	}
	for result, want := range map[string]float64{"charged": n, "not_charged": n} {
		got := s.Metric(t, "bounded_payments_outcomes_verified_total", "service", "payments", "result", result) +
			r.Metric(t, "bounded_payments_outcomes_verified_total", "service", "payments", "result", result)
		if got != want {
			t.Errorf("outcomes verified %s = %v, want %v", result, got, want)
		}
	}
}
