package payments_test

import (
	"errors"
	"testing"
	"time"

	"github.com/bounded-dev/bounded/services/payments"
)

var policy = payments.RetryPolicy{MaxAttempts: 3, Backoff: func(n int) time.Duration { return time.Duration(n) * time.Second }}

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
	if eff, err := p.Cancel("out_of_stock", now); err != nil || !eff.Voided || p.Status() != payments.StatusVoided {
		t.Fatalf("cancel pending: %+v %v", eff, err)
	}
	if eff, _ := p.Cancel("out_of_stock", now); eff.Voided || eff.Refund != nil {
		t.Fatalf("cancel voided: %+v", eff)
	}
	a, eff, err = p.RecordCharge(approved, policy, now)
	if err != nil || !eff.Captured || eff.Refund == nil || p.Status() != payments.StatusCaptured || a.N != 1 {
		t.Fatalf("approved after void: %+v %+v %v %s", a, eff, err, p.Status())
	}
	// Voided, then the call fails or declines: recorded, nothing else.
	p = newPayment(t, 100)
	_, _ = p.Cancel("x", now)
	if _, eff, err := p.RecordCharge(failed, policy, now); err != nil || eff != (payments.Effect{}) || p.Status() != payments.StatusVoided {
		t.Fatalf("failed after void: %+v %v %s", eff, err, p.Status())
	}

	// Captured, then cancelled: a refund.
	p = newPayment(t, 100)
	_, _, _ = p.RecordCharge(approved, policy, now)
	if eff, err := p.Cancel("out_of_stock", now); err != nil || eff.Voided || eff.Refund == nil {
		t.Fatalf("cancel captured: %+v %v", eff, err)
	}
	// Declined, then cancelled: nothing.
	p = newPayment(t, 100)
	_, _, _ = p.RecordCharge(payments.ChargeResult{Outcome: payments.OutcomeDeclined, Reason: "card_declined"}, policy, now)
	if eff, err := p.Cancel("payment_declined", now); err != nil || eff.Voided || eff.Refund != nil || p.Status() != payments.StatusDeclined {
		t.Fatalf("cancel declined: %+v %v", eff, err)
	}
}

func TestRecordRefund(t *testing.T) {
	now := time.Now()
	p := newPayment(t, 100)
	_, _, _ = p.RecordCharge(payments.ChargeResult{Outcome: payments.OutcomeApproved, ChargeID: "ch_1"}, policy, now)
	eff, err := p.Cancel("out_of_stock", now)
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
	if err != nil || !eff.Captured || eff.Refund == nil || a.N != 2 || p.Status() != payments.StatusCaptured {
		t.Fatalf("late approval: %+v %+v %v %s", a, eff, err, p.Status())
	}
}
