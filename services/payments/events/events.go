// Package events is the Payments service's published contract. It is the
// only package of the Payments service other services may import. The
// subject of every event is the order id, so that one order's payment events
// keep their order.
package events

import (
	"time"

	"github.com/bounded-dev/bounded/platform/contract"
)

// Source is the CloudEvents source of Payments' events.
const Source = "/payments"

// Event names (without version).
const (
	PaymentCaptured = "payments.payment_captured"
	PaymentDeclined = "payments.payment_declined"
	// PaymentVoided: the order was cancelled before any money was taken.
	PaymentVoided = "payments.payment_voided"
	RefundIssued  = "payments.refund_issued"
)

// PaymentCapturedV1: the gateway approved and captured the amount.
type PaymentCapturedV1 struct {
	PaymentID   string    `json:"payment_id"`
	OrderID     string    `json:"order_id"`
	AmountCents int64     `json:"amount_cents"`
	Currency    string    `json:"currency"`
	Attempts    int       `json:"attempts"`
	CapturedAt  time.Time `json:"captured_at"`
}

// PaymentDeclinedV1: the gateway declined the card, or stayed unavailable
// through every attempt.
type PaymentDeclinedV1 struct {
	PaymentID   string    `json:"payment_id"`
	OrderID     string    `json:"order_id"`
	AmountCents int64     `json:"amount_cents"`
	Currency    string    `json:"currency"`
	Reason      string    `json:"reason"`
	Attempts    int       `json:"attempts"`
	DeclinedAt  time.Time `json:"declined_at"`
}

// PaymentVoidedV1: a payment not yet captured was called off.
type PaymentVoidedV1 struct {
	PaymentID   string    `json:"payment_id"`
	OrderID     string    `json:"order_id"`
	AmountCents int64     `json:"amount_cents"`
	Currency    string    `json:"currency"`
	Reason      string    `json:"reason"`
	VoidedAt    time.Time `json:"voided_at"`
}

// RefundIssuedV1: a captured payment was refunded.
type RefundIssuedV1 struct {
	RefundID    string    `json:"refund_id"`
	PaymentID   string    `json:"payment_id"`
	OrderID     string    `json:"order_id"`
	AmountCents int64     `json:"amount_cents"`
	Currency    string    `json:"currency"`
	Reason      string    `json:"reason"`
	RefundedAt  time.Time `json:"refunded_at"`
}

// Registry returns Payments' event registry.
func Registry() *contract.Registry {
	r := contract.NewRegistry()
	contract.Register[PaymentCapturedV1](r, PaymentCaptured, 1)
	contract.Register[PaymentDeclinedV1](r, PaymentDeclined, 1)
	contract.Register[PaymentVoidedV1](r, PaymentVoided, 1)
	contract.Register[RefundIssuedV1](r, RefundIssued, 1)
	return r
}
