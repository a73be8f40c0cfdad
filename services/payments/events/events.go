// Package events is the Payments service's published contract. It is the
// only package of the Payments service other services may import. The
// subject of every event is the order id, so that one order's payment events
// keep their order.
package events

import (
	"time"

	"github.com/bounded-dev/bounded/platform/contract"
)

// ReasonGatewayUnavailable is the decline reason of a payment whose gateway
// failed temporarily through every attempt. Other decline reasons are the
// gateway's (card_declined, insufficient_funds, invalid_token, ...).
const ReasonGatewayUnavailable = "gateway_unavailable"

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

// NewPaymentCaptured builds a payments.payment_captured.v1 event about the
// order. The service and Examples build their events with these functions.
func NewPaymentCaptured(p PaymentCapturedV1) (contract.Event, error) {
	return contract.New(Source, contract.TypeName(PaymentCaptured, 1), p.OrderID, p)
}

// NewPaymentDeclined builds a payments.payment_declined.v1 event.
func NewPaymentDeclined(p PaymentDeclinedV1) (contract.Event, error) {
	return contract.New(Source, contract.TypeName(PaymentDeclined, 1), p.OrderID, p)
}

// NewPaymentVoided builds a payments.payment_voided.v1 event.
func NewPaymentVoided(p PaymentVoidedV1) (contract.Event, error) {
	return contract.New(Source, contract.TypeName(PaymentVoided, 1), p.OrderID, p)
}

// NewRefundIssued builds a payments.refund_issued.v1 event.
func NewRefundIssued(p RefundIssuedV1) (contract.Event, error) {
	return contract.New(Source, contract.TypeName(RefundIssued, 1), p.OrderID, p)
}

// Examples returns one realistic example of every event type Payments
// publishes, in every version it still publishes, built with the functions
// the service uses. Producers' contract tests hold them against their
// consumers' Reliances.
func Examples() []contract.Event {
	const (
		orderID   = "01935f3c-8a41-7c2e-9d4b-2f6a1e0c5b17"
		paymentID = "01935f3c-8b02-7a11-8c3d-5e9f0a1b2c3d"
		refundID  = "01935f3d-0c44-7b90-a1e2-3f4a5b6c7d8e"
	)
	at := time.Date(2025, 11, 22, 10, 30, 0, 0, time.UTC)
	must := func(e contract.Event, err error) contract.Event {
		if err != nil {
			panic("payments events: example: " + err.Error())
		}
		return e
	}
	return []contract.Event{
		must(NewPaymentCaptured(PaymentCapturedV1{PaymentID: paymentID, OrderID: orderID, AmountCents: 4598,
			Currency: "EUR", Attempts: 1, CapturedAt: at})),
		must(NewPaymentDeclined(PaymentDeclinedV1{PaymentID: paymentID, OrderID: orderID, AmountCents: 4598,
			Currency: "EUR", Reason: "insufficient_funds", Attempts: 1, DeclinedAt: at})),
		must(NewPaymentVoided(PaymentVoidedV1{PaymentID: paymentID, OrderID: orderID, AmountCents: 4598,
			Currency: "EUR", Reason: "out_of_stock", VoidedAt: at})),
		must(NewRefundIssued(RefundIssuedV1{RefundID: refundID, PaymentID: paymentID, OrderID: orderID,
			AmountCents: 4598, Currency: "EUR", Reason: "out_of_stock", RefundedAt: at})),
	}
}

// Reliances are the fields of other services' events Payments reads. The
// producers' tests check them (contract.CheckReliances).
func Reliances() []contract.Reliance {
	return []contract.Reliance{
		// The payment to take: how much, in what, with which card token.
		contract.Relies("payments", "orders.order_confirmed", "order_id", "payment_token", "currency", "total_cents"),
		// Voids or refunds the order's payment; the reason goes on the void or refund.
		contract.Relies("payments", "orders.order_cancelled", "order_id", "reason"),
	}
}
