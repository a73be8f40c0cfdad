package payments

import (
	"context"
	"errors"
)

// Gateway is the payment gateway Payments charges and refunds through.
//
// Contract: implementations must be safe for concurrent use and must honour
// IdempotencyKey: a request repeated with the same key returns the first
// request's result and never charges (or refunds) twice. Payments uses the
// payment id as the key of its charges and the refund id as the key of its
// refunds, so a crash between a gateway call and the commit that records it
// repeats the call, not the charge.
//
// A decline is a result (Charge.Approved false, with DeclineReason), not an
// error. An error means the outcome is unknown: Payments treats every error
// as temporary and retries with the same key; wrap ErrTemporary to say so
// explicitly. Calls get a context with a deadline (Config.GatewayTimeout).
//
// LookupCharge reads, and never moves money: it returns the charge made
// under idempotency key key (approved, or declined), found=true; or
// found=false, which must be definitive: the gateway made no charge under
// key, and no call with key it is still processing will make one (Payments
// looks up no sooner than Config.VerifyAfter after it gave up on its last
// call), and it has not forgotten one (it answers for as long as Payments
// may ask, which may be long after the charge: keys that expire are not
// enough; look the charge up by the key kept with it). An error means
// unknown: Payments asks again later. Payments calls it for a payment it
// called off while the outcome of a Charge call was unknown, to learn
// whether the card was charged after all (see Payment.RecordLookup).
type Gateway interface {
	Charge(ctx context.Context, req ChargeRequest) (Charge, error)
	Refund(ctx context.Context, req RefundRequest) (RefundResult, error)
	LookupCharge(ctx context.Context, key string) (charge Charge, found bool, err error)
}

// ErrTemporary marks a gateway failure that a retry with the same
// idempotency key may cure (timeout, gateway unavailable).
var ErrTemporary = errors.New("payment gateway: temporary failure")

// ChargeRequest asks the gateway to charge a card token.
type ChargeRequest struct {
	IdempotencyKey string
	Token          string
	AmountCents    int64
	Currency       string
	// Reference is shown with the charge on the gateway's side (Payments
	// passes the order id).
	Reference string
}

// Charge is the gateway's answer to a ChargeRequest.
type Charge struct {
	ID            string // set when approved
	Approved      bool
	DeclineReason string // set when declined
}

// RefundRequest asks the gateway to give back (part of) a charge.
type RefundRequest struct {
	IdempotencyKey string
	ChargeID       string
	AmountCents    int64
	Currency       string
}

// RefundResult is the gateway's answer to a RefundRequest.
type RefundResult struct {
	ID string
}
