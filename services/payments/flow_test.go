package payments_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/bounded-dev/bounded/platform/servicetest"
	"github.com/bounded-dev/bounded/platform/sqldb"
	"github.com/bounded-dev/bounded/services/payments"
	"github.com/bounded-dev/bounded/services/payments/events"
)

func outcomes(p payment) []string {
	var out []string
	for _, a := range p.Attempts {
		out = append(out, a.Outcome)
	}
	return out
}

// TestChargeOutcomes drives one order per test card through the gateway and
// checks the payment, its attempts, the event, the gateway's record and the
// metrics.
func TestChargeOutcomes(t *testing.T) {
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		s := start(t, d, payments.Config{MaxAttempts: 4}, nil)
		approve := s.confirm(t, payments.TokenApprove, 4598)
		decline := s.confirm(t, payments.TokenDecline, 1000)
		poor := s.confirm(t, payments.TokenInsufficientFunds, 1000)
		flaky := s.confirm(t, payments.TokenFlaky, 2500)
		down := s.confirm(t, payments.TokenUnavailable, 700)
		bogus := s.confirm(t, "tok_nonsense", 300)

		// Approved: captured on the first attempt, with the gateway's charge.
		p := s.waitStatus(t, approve, "captured")
		_, ev := waitEvent[events.PaymentCapturedV1](t, s, events.PaymentCaptured, approve)
		charges := s.sim.ChargesFor(approve)
		if len(charges) != 1 || p.ChargeID == nil || *p.ChargeID != charges[0].ID || charges[0].AmountCents != 4598 ||
			charges[0].Currency != "EUR" || charges[0].IdempotencyKey != p.ID {
			t.Fatalf("approved: payment %+v, gateway charges %+v", p, charges)
		}
		if ev.PaymentID != p.ID || ev.OrderID != approve || ev.AmountCents != 4598 || ev.Currency != "EUR" || ev.Attempts != 1 || ev.CapturedAt.IsZero() {
			t.Fatalf("payment_captured = %+v", ev)
		}
		if p.AmountCents != 4598 || p.Currency != "EUR" || !slices.Equal(outcomes(p), []string{"approved"}) || p.Attempts[0].N != 1 {
			t.Fatalf("approved payment = %+v", p)
		}

		// Declined by the issuer: one attempt, the reason, no charge.
		for order, reason := range map[string]string{decline: "card_declined", poor: "insufficient_funds", bogus: "invalid_token"} {
			p := s.waitStatus(t, order, "declined")
			_, ev := waitEvent[events.PaymentDeclinedV1](t, s, events.PaymentDeclined, order)
			if p.Reason != reason || ev.Reason != reason || ev.Attempts != 1 || ev.PaymentID != p.ID || p.ChargeID != nil ||
				!slices.Equal(outcomes(p), []string{"declined"}) || p.Attempts[0].Reason != reason {
				t.Fatalf("declined (%s): payment %+v, event %+v", reason, p, ev)
			}
			if c := s.sim.ChargesFor(order); len(c) != 0 {
				t.Fatalf("declined order charged: %+v", c)
			}
		}

		// Flaky: two temporary failures, then captured on the third attempt.
		p = s.waitStatus(t, flaky, "captured")
		_, ev = waitEvent[events.PaymentCapturedV1](t, s, events.PaymentCaptured, flaky)
		if !slices.Equal(outcomes(p), []string{"failed", "failed", "approved"}) || ev.Attempts != 3 ||
			len(s.sim.ChargesFor(flaky)) != 1 || s.sim.ChargeCalls(p.ID) != 3 {
			t.Fatalf("flaky: payment %+v, event %+v, calls %d", p, ev, s.sim.ChargeCalls(p.ID))
		}
		for i, a := range p.Attempts {
			if a.N != i+1 || (i > 0 && a.At.Before(p.Attempts[i-1].At)) {
				t.Fatalf("flaky attempts out of order: %+v", p.Attempts)
			}
		}
		if p.Attempts[0].Reason == "" {
			t.Fatalf("a failed attempt without its error: %+v", p.Attempts[0])
		}

		// Unavailable: MaxAttempts temporary failures, then declined.
		p = s.waitStatus(t, down, "declined")
		_, dev := waitEvent[events.PaymentDeclinedV1](t, s, events.PaymentDeclined, down)
		if p.Reason != events.ReasonGatewayUnavailable || dev.Reason != events.ReasonGatewayUnavailable || dev.Attempts != 4 ||
			!slices.Equal(outcomes(p), []string{"failed", "failed", "failed", "failed"}) || s.sim.ChargeCalls(p.ID) != 4 {
			t.Fatalf("unavailable: payment %+v, event %+v", p, dev)
		}

		// One event per payment, and the metrics agree (of charges: the
		// declined unavailable payment is then looked up, see unknown_test.go).
		for _, order := range []string{approve, flaky} {
			if n := s.publishedAbout(events.PaymentCaptured, order); n != 1 {
				t.Fatalf("%d payment_captured for %s", n, order)
			}
		}
		for name, want := range map[string]float64{
			"bounded_payments_captured_total": 2,
			"bounded_payments_declined_total": 4,
		} {
			if got := s.Metric(t, name, "service", "payments"); got != want {
				t.Errorf("%s = %v, want %v", name, got, want)
			}
		}
		for name, want := range map[string]float64{
			"bounded_payments_gateway_errors_total": 2 + 4,
			"bounded_payments_gateway_call_seconds": 1 + 1 + 1 + 1 + 3 + 4,
		} {
			if got := s.Metric(t, name, "service", "payments", "op", "charge"); got != want {
				t.Errorf("%s{op=charge} = %v, want %v", name, got, want)
			}
		}
	})
}

// TestDuplicateOrderConfirmed: the same order confirmed by two events (two
// ids, so not deduplicated by the inbox) makes one payment and one charge,
// before and after the charge.
func TestDuplicateOrderConfirmed(t *testing.T) {
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		s := start(t, d, payments.Config{}, nil)
		order := s.confirm(t, payments.TokenApprove, 1234)
		s.confirmOrder(t, order, payments.TokenApprove, 1234)
		p := s.waitStatus(t, order, "captured")
		s.confirmOrder(t, order, payments.TokenApprove, 1234)
		s.waitHandled(t, 3)
		time.Sleep(100 * time.Millisecond) // a second charge would be claimed by now
		if ps := s.payments(t, order); len(ps) != 1 || ps[0].ID != p.ID || len(ps[0].Attempts) != 1 {
			t.Fatalf("payments after three confirmations: %+v", ps)
		}
		if c := s.sim.ChargesFor(order); len(c) != 1 || s.sim.ChargeCalls(p.ID) != 1 {
			t.Fatalf("charges %+v, calls %d", c, s.sim.ChargeCalls(p.ID))
		}
		if n := s.publishedAbout(events.PaymentCaptured, order); n != 1 {
			t.Fatalf("%d payment_captured", n)
		}
	})
}

// TestRefundAfterCapture: an order cancelled after its payment was captured
// is refunded in full (through refund failures, retried), once, however
// often the cancellation arrives.
func TestRefundAfterCapture(t *testing.T) {
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		sim := payments.NewSimulator(payments.SimulatorConfig{RefundFailures: 2})
		s := start(t, d, payments.Config{}, sim)
		order := s.confirm(t, payments.TokenApprove, 4598)
		p := s.waitStatus(t, order, "captured")
		s.cancel(t, order, "out_of_stock")
		s.cancel(t, order, "out_of_stock") // another event id: a duplicate the inbox cannot see

		_, ev := waitEvent[events.RefundIssuedV1](t, s, events.RefundIssued, order)
		p = s.waitStatus(t, order, "refunded")
		if len(p.Refunds) != 1 {
			t.Fatalf("refunds = %+v", p.Refunds)
		}
		r := p.Refunds[0]
		if r.Status != "issued" || r.AmountCents != 4598 || r.Currency != "EUR" || r.Reason != "out_of_stock" ||
			r.Attempts != 3 || r.RefundedAt == nil || r.PaymentID != p.ID || r.LastError != "" {
			t.Fatalf("refund = %+v", r)
		}
		if ev.RefundID != r.ID || ev.PaymentID != p.ID || ev.AmountCents != 4598 || ev.Reason != "out_of_stock" || ev.RefundedAt.IsZero() {
			t.Fatalf("refund_issued = %+v", ev)
		}
		gw := sim.Refunds()
		if len(gw) != 1 || gw[0].ChargeID != *p.ChargeID || gw[0].AmountCents != 4598 || gw[0].IdempotencyKey != r.ID {
			t.Fatalf("gateway refunds = %+v", gw)
		}
		var list struct {
			Refunds []refund `json:"refunds"`
		}
		s.MustJSON(t, "GET", "/payments/refunds?order_id="+order, nil, false, http.StatusOK, &list)
		if len(list.Refunds) != 1 || list.Refunds[0].ID != r.ID || list.Refunds[0].OrderID != order {
			t.Fatalf("GET /refunds = %+v", list)
		}
		s.waitHandled(t, 3)
		time.Sleep(100 * time.Millisecond)
		if n := s.publishedAbout(events.RefundIssued, order); n != 1 || len(sim.Refunds()) != 1 {
			t.Fatalf("%d refund_issued, %d gateway refunds", n, len(sim.Refunds()))
		}
		if n := s.publishedAbout(events.PaymentVoided, order); n != 0 {
			t.Fatalf("a captured payment voided")
		}
		if got := s.Metric(t, "bounded_payments_refunded_total", "service", "payments"); got != 1 {
			t.Fatalf("refunded_total = %v", got)
		}
		if got := s.Metric(t, "bounded_payments_gateway_errors_total", "service", "payments", "op", "refund"); got != 2 {
			t.Fatalf("refund gateway errors = %v", got)
		}
	})
}

// TestVoidWhilePending: an order cancelled while its payment waits for a
// retry is voided and never charged: the retry does not happen.
func TestVoidWhilePending(t *testing.T) {
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		const backoff = 2 * time.Second
		s := start(t, d, payments.Config{RetryBackoff: backoff, MaxRetryBackoff: backoff}, nil)
		order := s.confirm(t, payments.TokenFlaky, 2500)
		var p payment
		servicetest.Eventually(t, 15*time.Second, "the first attempt", func() bool {
			ps := s.payments(t, order)
			if len(ps) == 1 {
				p = ps[0]
			}
			return len(p.Attempts) == 1
		})
		s.cancel(t, order, "out_of_stock")
		_, ev := waitEvent[events.PaymentVoidedV1](t, s, events.PaymentVoided, order)
		if ev.PaymentID != p.ID || ev.Reason != "out_of_stock" || ev.AmountCents != 2500 || ev.VoidedAt.IsZero() {
			t.Fatalf("payment_voided = %+v", ev)
		}
		p = s.waitStatus(t, order, "voided")
		s.cancel(t, order, "out_of_stock") // again: nothing more
		// Past the retry's due time: no further call, no charge.
		time.Sleep(time.Until(p.Attempts[0].At.Add(backoff + 500*time.Millisecond)))
		s.waitHandled(t, 3)
		if calls := s.sim.ChargeCalls(p.ID); calls != 1 {
			t.Fatalf("%d gateway calls for a voided payment", calls)
		}
		if c := s.sim.ChargesFor(order); len(c) != 0 {
			t.Fatalf("voided order charged: %+v", c)
		}
		p = s.payments(t, order)[0]
		if p.Status != "voided" || len(p.Attempts) != 1 || len(p.Refunds) != 0 || p.Reason != "out_of_stock" {
			t.Fatalf("payment = %+v", p)
		}
		if n := s.publishedAbout(events.PaymentVoided, order); n != 1 {
			t.Fatalf("%d payment_voided", n)
		}
		if n := len(s.Published(events.PaymentCaptured)) + len(s.Published(events.PaymentDeclined)); n != 0 {
			t.Fatalf("%d captured/declined events for a voided payment", n)
		}
	})
}

// TestChargeInFlightAtCancellation: the order is cancelled while the
// gateway call is in flight; the payment is voided at once, and when the
// call then approves the capture is recorded and refunded at once.
func TestChargeInFlightAtCancellation(t *testing.T) {
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		sim := payments.NewSimulator(payments.SimulatorConfig{})
		g := newGate(sim, payments.TokenApprove)
		t.Cleanup(g.open)
		s := start(t, d, payments.Config{Gateway: g}, sim)
		order := s.confirm(t, payments.TokenApprove, 990)
		var paymentID string
		select {
		case paymentID = <-g.entered:
		case <-time.After(15 * time.Second):
			t.Fatal("no gateway call")
		}
		s.cancel(t, order, "out_of_stock")
		waitEvent[events.PaymentVoidedV1](t, s, events.PaymentVoided, order)
		if p := s.waitStatus(t, order, "voided"); p.ID != paymentID || len(p.Attempts) != 0 {
			t.Fatalf("voided payment = %+v", p)
		}
		g.open() // the call now approves

		_, captured := waitEvent[events.PaymentCapturedV1](t, s, events.PaymentCaptured, order)
		_, refunded := waitEvent[events.RefundIssuedV1](t, s, events.RefundIssued, order)
		p := s.waitStatus(t, order, "refunded")
		charges := sim.ChargesFor(order)
		if len(charges) != 1 || p.ChargeID == nil || *p.ChargeID != charges[0].ID || captured.PaymentID != paymentID {
			t.Fatalf("payment %+v, charges %+v", p, charges)
		}
		if len(p.Refunds) != 1 || p.Refunds[0].Status != "issued" || p.Refunds[0].AmountCents != 990 ||
			refunded.AmountCents != 990 || refunded.Reason != "out_of_stock" {
			t.Fatalf("refunds %+v, event %+v", p.Refunds, refunded)
		}
		if gw := sim.Refunds(); len(gw) != 1 || gw[0].ChargeID != charges[0].ID || gw[0].AmountCents != 990 {
			t.Fatalf("gateway refunds = %+v", gw)
		}
		if !slices.Equal(outcomes(p), []string{"approved"}) {
			t.Fatalf("attempts = %+v", p.Attempts)
		}
	})
}

// TestCancellationWithoutPayment: nothing to do for an order that was
// declined, or that Payments never saw confirmed; and an order cancelled
// before its confirmation arrives (as replicas, which share the stream's
// messages, may apply them) never gets a payment.
func TestCancellationWithoutPayment(t *testing.T) {
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		s := start(t, d, payments.Config{}, nil)
		declined := s.confirm(t, payments.TokenDecline, 500)
		s.waitStatus(t, declined, "declined")
		s.cancel(t, declined, "payment_declined")

		early := newOrderID(t)
		s.cancel(t, early, "product_unavailable")
		s.waitHandled(t, 3)
		s.confirmOrder(t, early, payments.TokenApprove, 800)
		s.waitHandled(t, 4)
		time.Sleep(100 * time.Millisecond)

		if ps := s.payments(t, early); len(ps) != 0 {
			t.Fatalf("an order cancelled before confirmation got payments: %+v", ps)
		}
		if c := s.sim.Charges(); len(c) != 0 {
			t.Fatalf("charges: %+v", c)
		}
		p := s.payments(t, declined)[0]
		if p.Status != "declined" || len(p.Refunds) != 0 {
			t.Fatalf("declined payment after cancellation = %+v", p)
		}
		if n := len(s.Published(events.PaymentVoided)) + len(s.Published(events.RefundIssued)); n != 0 {
			t.Fatalf("%d void/refund events", n)
		}
		if dl := s.Metric(t, "bounded_inbox_dead_letters_total", "service", "payments"); dl != 0 {
			t.Fatalf("%v dead letters", dl)
		}
	})
}

// TestZeroTotal: a free order is captured at once, without a gateway call,
// and needs no refund when cancelled.
func TestZeroTotal(t *testing.T) {
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		s := start(t, d, payments.Config{}, nil)
		order := s.confirm(t, payments.TokenApprove, 0)
		_, ev := waitEvent[events.PaymentCapturedV1](t, s, events.PaymentCaptured, order)
		p := s.waitStatus(t, order, "captured")
		if ev.AmountCents != 0 || ev.Attempts != 0 || len(p.Attempts) != 0 || p.ChargeID != nil {
			t.Fatalf("payment %+v, event %+v", p, ev)
		}
		s.cancel(t, order, "out_of_stock")
		s.waitHandled(t, 2)
		if p := s.payments(t, order)[0]; p.Status != "captured" || len(p.Refunds) != 0 || len(s.sim.Charges()) != 0 {
			t.Fatalf("after cancellation: %+v", p)
		}
	})
}

// TestBadOrderEventsAreDeadLettered: an order_confirmed that cannot become
// a payment is dead-lettered, not retried, not swallowed.
func TestBadOrderEventsAreDeadLettered(t *testing.T) {
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		s := start(t, d, payments.Config{}, nil)
		negative := s.confirm(t, payments.TokenApprove, -5)
		s.Inject(t, servicetest.Event(t, "/orders", "orders.order_confirmed.v1", "not-a-uuid",
			map[string]any{"order_id": "not-a-uuid", "payment_token": "tok_approve", "currency": "EUR", "total_cents": 100}))
		s.Inject(t, servicetest.Event(t, "/orders", "orders.order_confirmed.v1", newOrderID(t),
			map[string]any{"order_id": newOrderID(t), "payment_token": "tok_approve", "currency": "EUR", "total_cents": 100}))
		s.Inject(t, servicetest.Event(t, "/orders", "orders.order_cancelled.v1", "x", map[string]any{"order_id": "x"}))
		s.Inject(t, servicetest.Event(t, "/orders", "orders.order_confirmed.v1", "y", map[string]any{"total_cents": "lots"}))
		servicetest.Eventually(t, 15*time.Second, "5 dead letters", func() bool {
			return s.Metric(t, "bounded_inbox_dead_letters_total", "service", "payments") == 5
		})
		if ps := s.payments(t, negative); len(ps) != 0 {
			t.Fatalf("payment from a negative total: %+v", ps)
		}
		var dls struct {
			DeadLetters []struct {
				Error string `json:"error"`
			} `json:"dead_letters"`
		}
		s.MustJSON(t, "GET", "/ops/dead-letters?service=payments", nil, true, http.StatusOK, &dls)
		for _, dl := range dls.DeadLetters {
			if dl.Error == "" {
				t.Fatalf("a dead letter without its error: %+v", dls)
			}
		}
	})
}
