package payments

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/bounded-dev/bounded/services/payments/events"
)

// PaymentStatus is where a payment is in its life:
//
//	pending → captured → refunded
//	pending → declined | voided
//	voided | declined → captured → refunded   (a charge that completed after the payment was called off)
//
// Beside its status, a payment called off while the outcome of a gateway
// call made for it was unknown has its outcome unknown (OutcomeUnknown)
// until a lookup at the gateway settles it: see Payment.RecordLookup.
type PaymentStatus string

const (
	StatusPending  PaymentStatus = "pending"  // waiting for (another) gateway attempt
	StatusCaptured PaymentStatus = "captured" // the money was taken
	StatusDeclined PaymentStatus = "declined" // the card was declined, or the gateway stayed unavailable
	StatusVoided   PaymentStatus = "voided"   // the order was cancelled before the money was taken
	StatusRefunded PaymentStatus = "refunded" // the money was taken and given back
)

// Outcome is the result of one gateway attempt.
type Outcome string

const (
	OutcomeApproved Outcome = "approved"
	OutcomeDeclined Outcome = "declined"
	OutcomeFailed   Outcome = "failed" // a temporary failure (or an unknown error): retried
)

// LookupOutcome is what a lookup of a payment's charge at the gateway (by
// the payment's idempotency key) came to.
type LookupOutcome string

const (
	LookupCharged    LookupOutcome = "charged"     // the gateway has an approved charge under the key
	LookupNotCharged LookupOutcome = "not_charged" // no charge under the key, or a declined one: never charged
	LookupFailed     LookupOutcome = "failed"      // the lookup failed: still unknown, asked again later
)

// ErrInvalid is the kind of error a constructor returns for bad input.
var ErrInvalid = errors.New("invalid")

// errStale says a gateway result arrived for a payment or refund that has
// already recorded its final one (a worker whose lease ran out): nothing to
// record, since the idempotency key made both calls one charge.
var errStale = errors.New("stale gateway result")

// Payment is the payment of one order: the amount to take with the order's
// card token, and what came of the attempts. Build one with NewPayment.
type Payment struct {
	id            string
	orderID       string
	amountCents   int64
	currency      string
	token         string // kept while the payment is pending; cleared once it is decided
	status        PaymentStatus
	attempts      int
	chargeID      string
	reason        string    // why it was declined or voided
	nextAttemptAt time.Time // pending: the next charge; outcome unknown: the next lookup
	createdAt     time.Time
	updatedAt     time.Time
	// unknownSince is set (to when it became so) while the outcome of a
	// gateway call made for the payment is unknown though the payment was
	// called off: a lost answer may have hidden a charge. Zero otherwise.
	unknownSince time.Time
	lookups      int // failed lookups since unknownSince (their backoff)
}

// NewPayment returns a pending payment of amountCents in currency for
// orderID with the card token, due at once. A zero amount is captured at
// once, without a gateway call (there is nothing to take).
func NewPayment(orderID, token string, amountCents int64, currency string, now time.Time) (*Payment, error) {
	if err := validOrderID(orderID); err != nil {
		return nil, err
	}
	switch {
	case amountCents < 0:
		return nil, fmt.Errorf("%w: total_cents %d is negative", ErrInvalid, amountCents)
	case !currencyRE.MatchString(currency):
		return nil, fmt.Errorf("%w: currency %q: want 3 upper-case letters (ISO 4217)", ErrInvalid, currency)
	case len(token) > 256:
		return nil, fmt.Errorf("%w: payment_token is %d bytes, at most 256", ErrInvalid, len(token))
	case !utf8.ValidString(token) || strings.ContainsRune(token, 0):
		return nil, fmt.Errorf("%w: payment_token holds invalid UTF-8 or NUL", ErrInvalid)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("payment id: %w", err)
	}
	p := &Payment{id: id.String(), orderID: orderID, amountCents: amountCents, currency: currency, token: token,
		status: StatusPending, nextAttemptAt: now, createdAt: now, updatedAt: now}
	if amountCents == 0 {
		p.status, p.token = StatusCaptured, ""
	}
	return p, nil
}

func validOrderID(id string) error {
	if id == "" {
		return fmt.Errorf("%w: order_id is empty", ErrInvalid)
	}
	if err := uuid.Validate(id); err != nil || len(id) != 36 {
		return fmt.Errorf("%w: order_id %q is not a UUID", ErrInvalid, truncate(id, 64))
	}
	return nil
}

// ID returns the payment's id.
func (p *Payment) ID() string { return p.id }

// Status returns the payment's status.
func (p *Payment) Status() PaymentStatus { return p.status }

// OutcomeUnknown reports whether p was called off (declined with
// gateway_unavailable, or voided) while a gateway call made for it may have
// charged the card, and no lookup has settled that yet.
func (p *Payment) OutcomeUnknown() bool { return !p.unknownSince.IsZero() }

// RetryPolicy says how often and how soon a temporarily failed charge is
// tried again, and when a payment whose outcome is unknown is looked up at
// the gateway (see Config for the meaning of the Verify fields).
type RetryPolicy struct {
	MaxAttempts int
	Backoff     func(failures int) time.Duration // of charges, and of lookups within VerifyHorizon
	// VerifyAfter is the wait before the first lookup, VerifyHorizon how
	// long an outcome may stay unknown before lookups slow to one every
	// VerifyInterval and each failure is reported (Effect.Overdue).
	VerifyAfter    time.Duration
	VerifyHorizon  time.Duration
	VerifyInterval time.Duration
}

// Attempt is one recorded gateway attempt.
type Attempt struct {
	N        int
	At       time.Time
	Outcome  Outcome
	Reason   string // the decline reason or the error
	ChargeID string
}

// ChargeResult is what one gateway call for a payment came to.
type ChargeResult struct {
	Outcome  Outcome
	ChargeID string // approved
	Reason   string // declined: the decline reason; failed: the error
}

// LookupResult is what one lookup of a payment's charge at the gateway came
// to.
type LookupResult struct {
	Outcome  LookupOutcome
	ChargeID string // charged: the gateway's charge
	Reason   string // failed: the error
}

// Effect is what recording a result changed beyond the payment itself.
type Effect struct {
	Captured bool      // the payment was captured: publish payment_captured
	Declined bool      // the payment was declined: publish payment_declined
	Refund   *Refund   // money was taken for a payment already called off: refund it
	RetryAt  time.Time // a temporary failure: the payment is due again then
	VerifyAt time.Time // the outcome is unknown: the payment is due for a lookup then
	// Verified says that an unknown outcome was settled: LookupCharged
	// (then Captured and Refund are set) or LookupNotCharged.
	Verified LookupOutcome
	Overdue  bool // a lookup failed with the outcome unknown past VerifyHorizon: report it
}

// RecordCharge records the result of a gateway call made for p at now. A
// pending payment is captured, declined, or (a temporary failure) due again
// after the policy's backoff, declined with gateway_unavailable once it has
// used MaxAttempts; then, since the last failure may have charged the card
// (a timeout), its outcome is unknown and it is due for a lookup after
// VerifyAfter. A payment already voided or declined that the call charged
// anyway (it was in flight when the order was cancelled, a worker's lease ran
// out, or a lookup found the charge) is captured AND gets a refund at once:
// money taken after the payment was called off goes back. For such a
// payment a decline settles an unknown outcome (the key never charges), and
// a failure makes it unknown again (unless a definitive decline came first).
// A result for a payment that is already captured or refunded is stale:
// errStale, nothing changes.
func (p *Payment) RecordCharge(res ChargeResult, policy RetryPolicy, now time.Time) (Attempt, Effect, error) {
	var eff Effect
	switch p.status {
	case StatusCaptured, StatusRefunded:
		return Attempt{}, eff, errStale
	}
	p.attempts++
	a := Attempt{N: p.attempts, At: now, Outcome: res.Outcome, Reason: truncate(res.Reason, 500)}
	p.updatedAt = now
	switch {
	case p.status == StatusPending && res.Outcome == OutcomeApproved:
		p.status, p.chargeID, p.token = StatusCaptured, res.ChargeID, ""
		a.ChargeID = res.ChargeID
		eff.Captured = true
	case p.status == StatusPending && res.Outcome == OutcomeDeclined:
		p.status, p.reason, p.token = StatusDeclined, truncate(res.Reason, 200), ""
		eff.Declined = true
	case p.status == StatusPending && p.attempts >= policy.MaxAttempts:
		p.status, p.reason, p.token = StatusDeclined, events.ReasonGatewayUnavailable, ""
		eff.Declined = true
		eff.VerifyAt = p.becomeUnknown(policy, now)
	case p.status == StatusPending:
		p.nextAttemptAt = now.Add(policy.Backoff(p.attempts))
		eff.RetryAt = p.nextAttemptAt
	case res.Outcome == OutcomeApproved: // voided or declined, and charged anyway
		reason := p.reason
		if p.status == StatusDeclined {
			reason = "charged_after_decline"
		}
		p.settle(&eff, LookupCharged)
		p.status, p.chargeID, p.token = StatusCaptured, res.ChargeID, ""
		a.ChargeID = res.ChargeID
		eff.Captured = true
		r, err := p.newRefund(reason, now)
		if err != nil {
			return Attempt{}, Effect{}, err
		}
		eff.Refund = r
	case res.Outcome == OutcomeDeclined: // voided or declined: the key never charges
		p.settle(&eff, LookupNotCharged)
	case p.status == StatusVoided || p.reason == events.ReasonGatewayUnavailable:
		// A call failed after the payment was called off (it was in
		// flight): it may have charged.
		eff.VerifyAt = p.becomeUnknown(policy, now)
	}
	return a, eff, nil
}

// becomeUnknown makes the outcome of p, just called off, unknown (since now,
// unless it already was) and due for a lookup after policy.VerifyAfter: time
// for a call the gateway was still processing to finish. It returns when.
func (p *Payment) becomeUnknown(policy RetryPolicy, now time.Time) time.Time {
	if p.unknownSince.IsZero() {
		p.unknownSince, p.lookups = now, 0
	}
	p.nextAttemptAt = now.Add(policy.VerifyAfter)
	return p.nextAttemptAt
}

// settle ends an unknown outcome, if p's was, as found: LookupCharged or
// LookupNotCharged.
func (p *Payment) settle(eff *Effect, found LookupOutcome) {
	if p.unknownSince.IsZero() {
		return
	}
	p.unknownSince, eff.Verified = time.Time{}, found
}

// RecordLookup records the result of a lookup at the gateway made at now
// for p, a payment whose outcome is unknown. A charge found is the answer a
// call lost: it is recorded as that call's approval, by RecordCharge, so p is
// captured and refunded at once. No charge (or a declined one) settles it:
// p was never charged, and only the flag changes. A failed lookup is asked
// again: after policy.Backoff of the failed lookups until VerifyHorizon has
// passed since the outcome became unknown, then every VerifyInterval (or the
// backoff, if longer) for as long as it takes, each such failure Overdue. A
// result for a payment whose outcome is not unknown (settled meanwhile) is
// stale: errStale, nothing changes.
func (p *Payment) RecordLookup(res LookupResult, policy RetryPolicy, now time.Time) (Attempt, Effect, error) {
	var eff Effect
	if p.unknownSince.IsZero() || (p.status != StatusDeclined && p.status != StatusVoided) {
		return Attempt{}, eff, errStale
	}
	switch res.Outcome {
	case LookupCharged:
		if res.ChargeID == "" {
			return Attempt{}, eff, fmt.Errorf("lookup for payment %s: a charge without its id", p.id)
		}
		return p.RecordCharge(ChargeResult{Outcome: OutcomeApproved, ChargeID: res.ChargeID,
			Reason: "found by lookup: an earlier call charged, its answer was lost"}, policy, now)
	case LookupNotCharged:
		p.settle(&eff, LookupNotCharged)
		p.updatedAt = now
		return Attempt{}, eff, nil
	}
	p.lookups++
	wait := policy.Backoff(p.lookups)
	if now.Sub(p.unknownSince) >= policy.VerifyHorizon {
		wait, eff.Overdue = max(wait, policy.VerifyInterval), true
	}
	p.nextAttemptAt = now.Add(wait)
	eff.VerifyAt = p.nextAttemptAt
	return Attempt{}, eff, nil
}

// CancelEffect is what cancelling an order did to its payment.
type CancelEffect struct {
	Voided   bool      // pending → voided: publish payment_voided
	Refund   *Refund   // captured: refund the whole amount
	VerifyAt time.Time // voided: its outcome is unknown; the payment is due for a lookup then
}

// Cancel applies the cancellation of p's order (for reason) at now: a
// pending payment is voided (a gateway call in flight that then approves is
// refunded by RecordCharge); a captured one is refunded in full; a declined,
// voided or refunded one needs nothing. A voided payment's outcome is
// unknown, due for a lookup after policy.VerifyAfter: an earlier attempt that
// failed, or a call in flight (which p cannot see), may have charged.
// Repeating a cancellation of a captured payment asks for the same refund
// again; the store keeps one refund per payment.
func (p *Payment) Cancel(reason string, policy RetryPolicy, now time.Time) (CancelEffect, error) {
	var eff CancelEffect
	switch p.status {
	case StatusPending:
		p.status, p.reason, p.token, p.updatedAt = StatusVoided, truncate(reason, 200), "", now
		eff.Voided = true
		eff.VerifyAt = p.becomeUnknown(policy, now)
	case StatusCaptured:
		if p.amountCents == 0 {
			return eff, nil // nothing was taken
		}
		r, err := p.newRefund(reason, now)
		if err != nil {
			return eff, err
		}
		eff.Refund = r
	}
	return eff, nil
}

func (p *Payment) newRefund(reason string, now time.Time) (*Refund, error) {
	if p.status != StatusCaptured || p.chargeID == "" {
		return nil, fmt.Errorf("refund of payment %s: status %s, charge %q: only a captured charge can be refunded", p.id, p.status, p.chargeID)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("refund id: %w", err)
	}
	if reason == "" {
		reason = "order_cancelled"
	}
	return &Refund{id: id.String(), paymentID: p.id, orderID: p.orderID, chargeID: p.chargeID,
		amountCents: p.amountCents, currency: p.currency, reason: truncate(reason, 200), status: RefundPending,
		nextAttemptAt: now, createdAt: now}, nil
}

// RefundStatus is where a refund is.
type RefundStatus string

const (
	RefundPending RefundStatus = "pending" // waiting for (another) gateway attempt
	RefundIssued  RefundStatus = "issued"  // the gateway gave the money back
)

// Refund gives back the money of a captured payment. Refunds come from
// Payment.Cancel and Payment.RecordCharge; a refund is retried until the
// gateway makes it (the money is owed).
type Refund struct {
	id              string
	paymentID       string
	orderID         string
	chargeID        string
	amountCents     int64
	currency        string
	reason          string
	status          RefundStatus
	attempts        int
	lastError       string
	gatewayRefundID string
	nextAttemptAt   time.Time
	createdAt       time.Time
	refundedAt      time.Time
}

// RecordRefund records the result of a gateway refund call made at now: the
// gateway's refund id, or the error (the refund is then due again after
// backoff). A result for a refund already issued is stale: errStale.
func (r *Refund) RecordRefund(gatewayRefundID string, callErr error, backoff func(int) time.Duration, now time.Time) error {
	if r.status != RefundPending {
		return errStale
	}
	r.attempts++
	if callErr != nil {
		r.lastError = truncate(callErr.Error(), 500)
		r.nextAttemptAt = now.Add(backoff(r.attempts))
		return nil
	}
	r.status, r.gatewayRefundID, r.refundedAt, r.lastError = RefundIssued, gatewayRefundID, now, ""
	return nil
}

// truncate makes s storable text (valid UTF-8 without NUL, which
// PostgreSQL refuses) of at most n bytes, cut on a rune boundary.
func truncate(s string, n int) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
