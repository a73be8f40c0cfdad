package payments_test

import (
	"errors"
	"testing"
	"time"

	"github.com/bounded-dev/bounded/services/payments"
)

var policy = payments.RetryPolicy{MaxAttempts: 3, Backoff: func(n int) time.Duration { return time.Duration(n) * time.Second },
	VerifyAfter: 10 * time.Second, VerifyHorizon: time.Hour, VerifyInterval: 10 * time.Minute}

func newPayment(t *testing.T, amount int64) *payments.Payment {
	t.Helper()
	p, err := payments.NewPayment(newOrderID(t), payments.TokenApprove, amount, "EUR", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNewPaymentValidates(t *testing.T) {
	now := time.Now()
	for _, c := range []struct {
		order, token, currency string
		amount                 int64
	}{
		{"", "tok", "EUR", 1},
		{"123", "tok", "EUR", 1},
		{newOrderID(t), "tok", "EUR", -1},
		{newOrderID(t), "tok", "eur", 1},
		{newOrderID(t), "tok", "EURO", 1},
		{newOrderID(t), "tok\x00", "EUR", 1},
		{newOrderID(t), string(make([]byte, 300)), "EUR", 1},
	} {
		if _, err := payments.NewPayment(c.order, c.token, c.amount, c.currency, now); !errors.Is(err, payments.ErrInvalid) {
			t.Errorf("NewPayment(%q, %q, %d, %q) = %v, want ErrInvalid", c.order, c.token, c.amount, c.currency, err)
		}
	}
	if p := newPayment(t, 1); p.Status() != payments.StatusPending || p.ID() == "" {
		t.Fatalf("new payment: %s %q", p.Status(), p.ID())
	}
	if p := newPayment(t, 0); p.Status() != payments.StatusCaptured {
		t.Fatalf("a zero payment is %s, want captured at once", p.Status())
	}
}

func TestRecordCharge(t *testing.T) {
	now := time.Now()
	failed := payments.ChargeResult{Outcome: payments.OutcomeFailed, Reason: "timeout"}
	approved := payments.ChargeResult{Outcome: payments.OutcomeApproved, ChargeID: "ch_1"}

	// Temporary failures back off until MaxAttempts, then decline.
	p := newPayment(t, 100)
	for n := 1; n <= 2; n++ {
		a, eff, err := p.RecordCharge(failed, policy, now)
		if err != nil || a.N != n || eff.RetryAt != now.Add(time.Duration(n)*time.Second) || eff.Declined || p.Status() != payments.StatusPending {
			t.Fatalf("failure %d: %+v %+v %v %s", n, a, eff, err, p.Status())
		}
	}
	a, eff, err := p.RecordCharge(failed, policy, now)
	if err != nil || a.N != 3 || !eff.Declined || !eff.RetryAt.IsZero() || p.Status() != payments.StatusDeclined {
		t.Fatalf("last failure: %+v %+v %v %s", a, eff, err, p.Status())
	}

	// Approved: captured; a second result is stale.
	p = newPayment(t, 100)
	if a, eff, err := p.RecordCharge(approved, policy, now); err != nil || !eff.Captured || eff.Refund != nil || a.ChargeID != "ch_1" {
		t.Fatalf("approved: %+v %+v %v", a, eff, err)
	}
	if _, _, err := p.RecordCharge(approved, policy, now); err == nil {
		t.Fatal("a second result for a captured payment was recorded")
	}

	// Voided, then the charge in flight approves: captured and refunded.
	p = newPayment(t, 100)
	if eff, err := p.Cancel("out_of_stock", policy, now); err != nil || !eff.Voided || p.Status() != payments.StatusVoided {
		t.Fatalf("cancel pending: %+v %v", eff, err)
	}
	if eff, _ := p.Cancel("out_of_stock", policy, now); eff.Voided || eff.Refund != nil {
		t.Fatalf("cancel voided: %+v", eff)
	}
	a, eff, err = p.RecordCharge(approved, policy, now)
	if err != nil || !eff.Captured || eff.Refund == nil || p.Status() != payments.StatusCaptured || a.N != 1 {
		t.Fatalf("approved after void: %+v %+v %v %s", a, eff, err, p.Status())
	}
	// Voided, then the call fails: recorded, and its outcome is unknown
	// (it may have charged): due for a lookup. Then a call that declines:
	// the key never charges, settled.
	p = newPayment(t, 100)
	if eff, _ := p.Cancel("x", policy, now); eff.VerifyAt != now.Add(policy.VerifyAfter) || !p.OutcomeUnknown() {
		t.Fatalf("void: %+v, outcome unknown %v", eff, p.OutcomeUnknown())
	}
	later := now.Add(time.Minute)
	if _, eff, err := p.RecordCharge(failed, policy, later); err != nil || eff != (payments.Effect{VerifyAt: later.Add(policy.VerifyAfter)}) ||
		p.Status() != payments.StatusVoided || !p.OutcomeUnknown() {
		t.Fatalf("failed after void: %+v %v %s", eff, err, p.Status())
	}
	declined := payments.ChargeResult{Outcome: payments.OutcomeDeclined, Reason: "card_declined"}
	if _, eff, err := p.RecordCharge(declined, policy, later); err != nil || eff != (payments.Effect{Verified: payments.LookupNotCharged}) ||
		p.Status() != payments.StatusVoided || p.OutcomeUnknown() {
		t.Fatalf("declined after void: %+v %v %s", eff, err, p.Status())
	}

	// Captured, then cancelled: a refund.
	p = newPayment(t, 100)
	_, _, _ = p.RecordCharge(approved, policy, now)
	if eff, err := p.Cancel("out_of_stock", policy, now); err != nil || eff.Voided || eff.Refund == nil {
		t.Fatalf("cancel captured: %+v %v", eff, err)
	}
	// Declined, then cancelled: nothing.
	p = newPayment(t, 100)
	_, _, _ = p.RecordCharge(payments.ChargeResult{Outcome: payments.OutcomeDeclined, Reason: "card_declined"}, policy, now)
	if eff, err := p.Cancel("payment_declined", policy, now); err != nil || eff.Voided || eff.Refund != nil || p.Status() != payments.StatusDeclined {
		t.Fatalf("cancel declined: %+v %v", eff, err)
	}
}

func TestRecordRefund(t *testing.T) {
	now := time.Now()
	p := newPayment(t, 100)
	_, _, _ = p.RecordCharge(payments.ChargeResult{Outcome: payments.OutcomeApproved, ChargeID: "ch_1"}, policy, now)
	eff, err := p.Cancel("out_of_stock", policy, now)
	if err != nil || eff.Refund == nil {
		t.Fatal(eff, err)
	}
	r := eff.Refund
	if err := r.RecordRefund("", errors.New("gateway down"), policy.Backoff, now); err != nil {
		t.Fatal(err)
	}
	if err := r.RecordRefund("re_1", nil, policy.Backoff, now); err != nil {
		t.Fatal(err)
	}
	if err := r.RecordRefund("re_2", nil, policy.Backoff, now); err == nil {
		t.Fatal("a second result for an issued refund was recorded")
	}
}

// A charge that approves after its payment was declined (a worker whose
// lease ran out while another gave up) is captured and refunded.
func TestApprovalAfterDecline(t *testing.T) {
	now := time.Now()
	p := newPayment(t, 100)
	one := payments.RetryPolicy{MaxAttempts: 1, Backoff: policy.Backoff}
	if _, eff, _ := p.RecordCharge(payments.ChargeResult{Outcome: payments.OutcomeFailed, Reason: "timeout"}, one, now); !eff.Declined {
		t.Fatalf("not declined after the last attempt: %+v", eff)
	}
	a, eff, err := p.RecordCharge(payments.ChargeResult{Outcome: payments.OutcomeApproved, ChargeID: "ch_late"}, one, now)
	if err != nil || !eff.Captured || eff.Refund == nil || a.N != 2 || p.Status() != payments.StatusCaptured ||
		eff.Verified != payments.LookupCharged || p.OutcomeUnknown() {
		t.Fatalf("late approval: %+v %+v %v %s", a, eff, err, p.Status())
	}
}

// TestUnknownOutcome: a payment declined with gateway_unavailable (its last
// call may have charged) has its outcome unknown, due for a lookup after
// VerifyAfter; failed lookups back off, then slow to VerifyInterval past the
// horizon, each Overdue, never giving up; a charge found is captured and
// refunded at once (as a late approval); no charge settles it with nothing
// else; a declined card has nothing to verify.
func TestUnknownOutcome(t *testing.T) {
	t0 := time.Now()
	failed := payments.ChargeResult{Outcome: payments.OutcomeFailed, Reason: "timeout"}
	lookupFailed := payments.LookupResult{Outcome: payments.LookupFailed, Reason: "gateway down"}
	declineUnavailable := func(t *testing.T) *payments.Payment {
		t.Helper()
		p := newPayment(t, 2500)
		for range policy.MaxAttempts - 1 {
			_, _, _ = p.RecordCharge(failed, policy, t0)
		}
		if p.OutcomeUnknown() {
			t.Fatal("a pending payment's outcome is unknown")
		}
		_, eff, err := p.RecordCharge(failed, policy, t0)
		if err != nil || !eff.Declined || eff.VerifyAt != t0.Add(policy.VerifyAfter) || !eff.RetryAt.IsZero() ||
			p.Status() != payments.StatusDeclined || !p.OutcomeUnknown() {
			t.Fatalf("declined unavailable: %+v %v %s unknown=%v", eff, err, p.Status(), p.OutcomeUnknown())
		}
		return p
	}

	t.Run("lookups fail, then find the charge", func(t *testing.T) {
		p := declineUnavailable(t)
		at := t0.Add(policy.VerifyAfter)
		for n := 1; n <= 3; n++ {
			a, eff, err := p.RecordLookup(lookupFailed, policy, at)
			if err != nil || a != (payments.Attempt{}) || eff != (payments.Effect{VerifyAt: at.Add(policy.Backoff(n))}) || !p.OutcomeUnknown() {
				t.Fatalf("failed lookup %d: %+v %+v %v", n, a, eff, err)
			}
			at = eff.VerifyAt
		}
		// Past the horizon: every VerifyInterval, each failure overdue.
		at = t0.Add(policy.VerifyHorizon)
		for range 2 {
			_, eff, err := p.RecordLookup(lookupFailed, policy, at)
			if err != nil || !eff.Overdue || eff.VerifyAt != at.Add(policy.VerifyInterval) || !p.OutcomeUnknown() ||
				p.Status() != payments.StatusDeclined {
				t.Fatalf("failed lookup past the horizon: %+v %v", eff, err)
			}
			at = eff.VerifyAt
		}
		a, eff, err := p.RecordLookup(payments.LookupResult{Outcome: payments.LookupCharged, ChargeID: "ch_lost"}, policy, at)
		if err != nil || !eff.Captured || eff.Declined || eff.Verified != payments.LookupCharged || eff.Overdue ||
			a.N != policy.MaxAttempts+1 || a.Outcome != payments.OutcomeApproved || a.ChargeID != "ch_lost" ||
			p.Status() != payments.StatusCaptured || p.OutcomeUnknown() {
			t.Fatalf("charge found: %+v %+v %v %s", a, eff, err, p.Status())
		}
		if eff.Refund == nil {
			t.Fatal("a charge found for a declined payment is not refunded")
		}
		if _, _, err := p.RecordLookup(lookupFailed, policy, at); err == nil {
			t.Fatal("a lookup for a settled payment was recorded")
		}
	})

	t.Run("no charge", func(t *testing.T) {
		p := declineUnavailable(t)
		a, eff, err := p.RecordLookup(payments.LookupResult{Outcome: payments.LookupNotCharged}, policy, t0.Add(time.Minute))
		if err != nil || a != (payments.Attempt{}) || eff != (payments.Effect{Verified: payments.LookupNotCharged}) ||
			p.Status() != payments.StatusDeclined || p.OutcomeUnknown() {
			t.Fatalf("not charged: %+v %+v %v %s", a, eff, err, p.Status())
		}
		if _, _, err := p.RecordLookup(payments.LookupResult{Outcome: payments.LookupNotCharged}, policy, t0); err == nil {
			t.Fatal("a second lookup result was recorded")
		}
		// A call of a worker whose lease ran out fails after that: unknown again.
		if _, eff, err := p.RecordCharge(failed, policy, t0.Add(2*time.Minute)); err != nil || eff.VerifyAt.IsZero() || !p.OutcomeUnknown() {
			t.Fatalf("a late failure after the lookup: %+v %v", eff, err)
		}
	})

	t.Run("a charge without its id", func(t *testing.T) {
		p := declineUnavailable(t)
		if _, _, err := p.RecordLookup(payments.LookupResult{Outcome: payments.LookupCharged}, policy, t0); err == nil || !p.OutcomeUnknown() {
			t.Fatalf("a charge without id recorded: %v", err)
		}
	})

	t.Run("nothing to verify", func(t *testing.T) {
		p := newPayment(t, 100)
		if _, _, err := p.RecordLookup(payments.LookupResult{Outcome: payments.LookupNotCharged}, policy, t0); err == nil {
			t.Fatal("a lookup for a pending payment was recorded")
		}
		// Declined by the card: the key never charges; a late failure changes nothing.
		_, eff, _ := p.RecordCharge(payments.ChargeResult{Outcome: payments.OutcomeDeclined, Reason: "card_declined"}, policy, t0)
		if !eff.Declined || !eff.VerifyAt.IsZero() || p.OutcomeUnknown() {
			t.Fatalf("card declined: %+v unknown=%v", eff, p.OutcomeUnknown())
		}
		if _, eff, _ := p.RecordCharge(failed, policy, t0); eff != (payments.Effect{}) || p.OutcomeUnknown() {
			t.Fatalf("a late failure after a decline: %+v unknown=%v", eff, p.OutcomeUnknown())
		}
		// Captured: nothing unknown, and cancelling it refunds as before.
		p = newPayment(t, 100)
		_, _, _ = p.RecordCharge(payments.ChargeResult{Outcome: payments.OutcomeApproved, ChargeID: "ch"}, policy, t0)
		if eff, _ := p.Cancel("x", policy, t0); eff.Refund == nil || !eff.VerifyAt.IsZero() || p.OutcomeUnknown() {
			t.Fatalf("cancel captured: %+v", eff)
		}
	})
}
