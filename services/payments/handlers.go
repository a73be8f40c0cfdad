package payments

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bounded-dev/bounded/platform/contract"
	"github.com/bounded-dev/bounded/platform/inbox"
	"github.com/bounded-dev/bounded/platform/sqldb"
	ordersevents "github.com/bounded-dev/bounded/services/orders/events"
	"github.com/bounded-dev/bounded/services/payments/events"
)

// onOrderConfirmed creates the order's payment, pending, and wakes the job
// once it commits. It is idempotent per order: a second order_confirmed
// (another event id) finds the payment and does nothing. An order whose
// cancellation came first gets no payment: nothing is charged. (On one
// stream the cancellation follows the confirmation, but replicas share the
// stream's messages and may apply them in either order, or at once: see
// lockOrder.)
func (s *svc) onOrderConfirmed(ctx context.Context, tx *sqldb.Tx, e contract.Event, oc ordersevents.OrderConfirmedV1) error {
	if e.Subject != oc.OrderID {
		return inbox.Permanent(fmt.Errorf("order_confirmed %s: subject %q is not the order id %q", e.ID, e.Subject, oc.OrderID))
	}
	p, err := NewPayment(oc.OrderID, oc.PaymentToken, oc.TotalCents, oc.Currency, now())
	if errors.Is(err, ErrInvalid) {
		return inbox.Permanent(fmt.Errorf("order_confirmed %s: %w", e.ID, err))
	}
	if err != nil {
		return err
	}
	if err := lockOrder(ctx, tx, oc.OrderID); err != nil {
		return err
	}
	inserted, err := insertPayment(ctx, tx, p)
	if err != nil || !inserted {
		return err
	}
	if p.status == StatusCaptured { // a zero total: nothing to take
		ev, err := capturedEvent(p, p.createdAt)
		if err != nil {
			return err
		}
		tx.AfterCommit(s.m.captured.Inc)
		return s.ob.Record(ctx, tx, ev)
	}
	tx.AfterCommit(s.wakeJob)
	return nil
}

// onOrderCancelled voids the order's payment if it is pending (a gateway
// call in flight that then approves is refunded at once, see
// Payment.RecordCharge; and the job looks the payment up at the gateway
// once any call in flight is done, see Payment.Cancel), refunds it in full
// if captured, and otherwise does nothing; an order with no payment yet is
// remembered as cancelled so that it never gets one. Idempotent: a repeated
// cancellation finds the payment voided, or its refund already there.
func (s *svc) onOrderCancelled(ctx context.Context, tx *sqldb.Tx, e contract.Event, oc ordersevents.OrderCancelledV1) error {
	if err := validOrderID(oc.OrderID); err != nil {
		return inbox.Permanent(fmt.Errorf("order_cancelled %s: %w", e.ID, err))
	}
	if e.Subject != oc.OrderID {
		return inbox.Permanent(fmt.Errorf("order_cancelled %s: subject %q is not the order id %q", e.ID, e.Subject, oc.OrderID))
	}
	reason := truncate(oc.Reason, 200)
	if reason == "" {
		reason = "order_cancelled"
	}
	if err := lockOrder(ctx, tx, oc.OrderID); err != nil {
		return err
	}
	at := now()
	p, err := lockPayment(ctx, tx, oc.OrderID, true)
	if err != nil {
		return err
	}
	if p == nil {
		return insertCancellation(ctx, tx, oc.OrderID, reason, at)
	}
	eff, err := p.Cancel(reason, s.cfg.policy(), at)
	if err != nil {
		return err
	}
	if eff.Voided {
		if err := updatePayment(ctx, tx, p, false); err != nil {
			return err
		}
		tx.AfterCommit(func() { s.dueAt(eff.VerifyAt) })
		ev, err := events.NewPaymentVoided(events.PaymentVoidedV1{PaymentID: p.id, OrderID: p.orderID,
			AmountCents: p.amountCents, Currency: p.currency, Reason: p.reason, VoidedAt: at})
		if err != nil {
			return err
		}
		tx.AfterCommit(s.m.voided.Inc)
		return s.ob.Record(ctx, tx, ev)
	}
	if eff.Refund != nil {
		inserted, err := insertRefund(ctx, tx, eff.Refund)
		if err != nil {
			return err
		}
		if inserted {
			tx.AfterCommit(s.wakeJob)
		}
	}
	return nil
}

func capturedEvent(p *Payment, at time.Time) (contract.Event, error) {
	return events.NewPaymentCaptured(events.PaymentCapturedV1{PaymentID: p.id, OrderID: p.orderID,
		AmountCents: p.amountCents, Currency: p.currency, Attempts: p.attempts, CapturedAt: at})
}

func declinedEvent(p *Payment, at time.Time) (contract.Event, error) {
	return events.NewPaymentDeclined(events.PaymentDeclinedV1{PaymentID: p.id, OrderID: p.orderID,
		AmountCents: p.amountCents, Currency: p.currency, Reason: p.reason, Attempts: p.attempts, DeclinedAt: at})
}

func refundIssuedEvent(r *Refund) (contract.Event, error) {
	return events.NewRefundIssued(events.RefundIssuedV1{RefundID: r.id, PaymentID: r.paymentID, OrderID: r.orderID,
		AmountCents: r.amountCents, Currency: r.currency, Reason: r.reason, RefundedAt: r.refundedAt})
}
