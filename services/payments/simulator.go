package payments

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Test card tokens the Simulator knows. Any other token is declined with
// invalid_token.
const (
	TokenApprove           = "tok_approve"            // approved
	TokenDecline           = "tok_decline"            // declined: card_declined
	TokenInsufficientFunds = "tok_insufficient_funds" // declined: insufficient_funds
	TokenFlaky             = "tok_flaky"              // temporary failure on the first 2 calls per idempotency key, then approved
	TokenUnavailable       = "tok_unavailable"        // always a temporary failure
	// TokenChargedTimeout charges on the first call per idempotency key,
	// yet every call (that one too) answers a temporary failure, as a
	// timeout whose charge went through would: only LookupCharge shows the
	// charge.
	TokenChargedTimeout = "tok_charged_timeout"
)

// Errors of the Simulator other than ErrTemporary. They are not temporary,
// but Payments retries every gateway error alike (the outcome of a call that
// failed is unknown to it).
var (
	ErrGatewayInvalidRequest = errors.New("payment gateway: invalid request")
	ErrIdempotencyMismatch   = errors.New("payment gateway: idempotency key reused with a different request")
	ErrUnknownCharge         = errors.New("payment gateway: unknown charge")
	ErrRefundExceedsCharge   = errors.New("payment gateway: refund exceeds what is left of the charge")
)

// SimulatorConfig configures a Simulator. The zero value is a fast gateway
// whose refunds always succeed.
type SimulatorConfig struct {
	// Latency is how long every call takes (it ends early, with the
	// context's error, when the call's context is done).
	Latency time.Duration
	// RefundFailures makes the first RefundFailures Refund calls for each
	// idempotency key fail temporarily.
	RefundFailures int
	// LookupFailures makes the first LookupFailures LookupCharge calls for
	// each idempotency key fail temporarily.
	LookupFailures int
}

// SimCharge is a charge attempt as the Simulator recorded it: approved
// (ID set) or declined.
type SimCharge struct {
	ID             string
	IdempotencyKey string
	Token          string
	Reference      string
	AmountCents    int64
	Currency       string
	Approved       bool
	DeclineReason  string
	RefundedCents  int64
	At             time.Time
}

// SimRefund is a refund the Simulator made.
type SimRefund struct {
	ID             string
	IdempotencyKey string
	ChargeID       string
	AmountCents    int64
	Currency       string
	At             time.Time
}

// Simulator is an in-memory payment gateway that behaves by test card token
// (see the Token constants). It honours idempotency keys: a charge or refund
// repeated with the same key returns the first answer and never moves money
// twice; a key reused with a different request is refused. A refund never
// exceeds what is left of its charge. It records everything it did, for
// tests and the embedded shop. LookupCharge finds the charge (approved or
// declined) made under a key, for good. It is safe for concurrent use.
//
// Its memory is its process's: two replicas of Payments with a Simulator
// each would have two gateways (a charge one made unknown to the other's
// refunds, a call repeated after a crash charged again), and a restart
// forgets every key. The shop's default gateway is therefore the
// StoredSimulator, which behaves the same with its records in the Payments
// database. A Simulator suits tests, which may share one between replicas
// in one process.
type Simulator struct {
	cfg SimulatorConfig

	mu          sync.Mutex
	charges     map[string]*SimCharge // by idempotency key: approved and declined
	chargeByID  map[string]*SimCharge // approved only
	chargeCalls map[string]int        // by idempotency key
	refunds     map[string]*SimRefund // by idempotency key
	refundCalls map[string]int
	lookupCalls map[string]int
}

var _ Gateway = (*Simulator)(nil)

// NewSimulator returns a Simulator with no history.
func NewSimulator(cfg SimulatorConfig) *Simulator {
	return &Simulator{
		cfg:         cfg,
		charges:     map[string]*SimCharge{},
		chargeByID:  map[string]*SimCharge{},
		chargeCalls: map[string]int{},
		refunds:     map[string]*SimRefund{},
		refundCalls: map[string]int{},
		lookupCalls: map[string]int{},
	}
}

var currencyRE = regexp.MustCompile(`^[A-Z]{3}$`)

// Charge charges req.Token; see Simulator.
func (s *Simulator) Charge(ctx context.Context, req ChargeRequest) (Charge, error) {
	if err := checkChargeRequest(req); err != nil {
		return Charge{}, err
	}
	if err := simWait(ctx, s.cfg.Latency); err != nil {
		return Charge{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chargeCalls[req.IdempotencyKey]++
	if c := s.charges[req.IdempotencyKey]; c != nil {
		return c.answer(req)
	}
	c, err := newSimCharge(req, s.chargeCalls[req.IdempotencyKey], time.Now().UTC())
	if err != nil {
		return Charge{}, err
	}
	if c.Approved {
		s.chargeByID[c.ID] = c
	}
	s.charges[req.IdempotencyKey] = c
	return c.answer(req)
}

// Refund gives back part or all of an approved charge; see Simulator.
func (s *Simulator) Refund(ctx context.Context, req RefundRequest) (RefundResult, error) {
	if err := checkRefundRequest(req); err != nil {
		return RefundResult{}, err
	}
	if err := simWait(ctx, s.cfg.Latency); err != nil {
		return RefundResult{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refundCalls[req.IdempotencyKey]++
	if n := s.refundCalls[req.IdempotencyKey]; n <= s.cfg.RefundFailures {
		return RefundResult{}, refundHiccup(n)
	}
	if r := s.refunds[req.IdempotencyKey]; r != nil {
		return r.answer(req)
	}
	c := s.chargeByID[req.ChargeID]
	if err := c.canRefund(req); err != nil {
		return RefundResult{}, err
	}
	c.RefundedCents += req.AmountCents
	r := newSimRefund(req, time.Now().UTC())
	s.refunds[req.IdempotencyKey] = r
	return r.answer(req)
}

// LookupCharge returns the charge made under key; see Simulator.
func (s *Simulator) LookupCharge(ctx context.Context, key string) (Charge, bool, error) {
	if err := checkLookup(key); err != nil {
		return Charge{}, false, err
	}
	if err := simWait(ctx, s.cfg.Latency); err != nil {
		return Charge{}, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lookupCalls[key]++
	if n := s.lookupCalls[key]; n <= s.cfg.LookupFailures {
		return Charge{}, false, lookupHiccup(n)
	}
	c := s.charges[key]
	if c == nil {
		return Charge{}, false, nil
	}
	return c.found(), true, nil
}

// The rules both simulators follow, whatever keeps their records.

func checkChargeRequest(req ChargeRequest) error {
	switch {
	case req.IdempotencyKey == "":
		return fmt.Errorf("%w: no idempotency key", ErrGatewayInvalidRequest)
	case req.AmountCents <= 0:
		return fmt.Errorf("%w: amount %d: want a positive amount", ErrGatewayInvalidRequest, req.AmountCents)
	case !currencyRE.MatchString(req.Currency):
		return fmt.Errorf("%w: currency %q", ErrGatewayInvalidRequest, req.Currency)
	}
	return nil
}

func checkLookup(key string) error {
	if key == "" {
		return fmt.Errorf("%w: no idempotency key", ErrGatewayInvalidRequest)
	}
	return nil
}

func checkRefundRequest(req RefundRequest) error {
	switch {
	case req.IdempotencyKey == "":
		return fmt.Errorf("%w: no idempotency key", ErrGatewayInvalidRequest)
	case req.ChargeID == "":
		return fmt.Errorf("%w: no charge id", ErrGatewayInvalidRequest)
	case req.AmountCents <= 0:
		return fmt.Errorf("%w: amount %d: want a positive amount", ErrGatewayInvalidRequest, req.AmountCents)
	}
	return nil
}

// newSimCharge is what the nth call with req's key comes to when the key
// has no charge yet: a charge, approved or declined by req.Token, or a
// temporary failure (nothing to record).
func newSimCharge(req ChargeRequest, n int, at time.Time) (*SimCharge, error) {
	c := &SimCharge{IdempotencyKey: req.IdempotencyKey, Token: req.Token, Reference: req.Reference,
		AmountCents: req.AmountCents, Currency: req.Currency, At: at}
	switch req.Token {
	case TokenApprove:
		c.Approved = true
	case TokenDecline:
		c.DeclineReason = "card_declined"
	case TokenInsufficientFunds:
		c.DeclineReason = "insufficient_funds"
	case TokenFlaky:
		if n <= 2 {
			return nil, fmt.Errorf("%w: simulated hiccup (call %d for this key)", ErrTemporary, n)
		}
		c.Approved = true
	case TokenUnavailable:
		return nil, fmt.Errorf("%w: simulated outage", ErrTemporary)
	case TokenChargedTimeout:
		c.Approved = true // and answer times out
	default:
		c.DeclineReason = "invalid_token"
	}
	if c.Approved {
		c.ID = "ch_" + uuid.NewString()
	}
	return c, nil
}

// answer is c's answer to req, a call with c's key: c again, unless req
// asks for something else under that key (or c's token loses every answer).
func (c *SimCharge) answer(req ChargeRequest) (Charge, error) {
	if c.Token != req.Token || c.AmountCents != req.AmountCents || c.Currency != req.Currency {
		return Charge{}, fmt.Errorf("%w: key %s", ErrIdempotencyMismatch, req.IdempotencyKey)
	}
	if c.Token == TokenChargedTimeout {
		return Charge{}, fmt.Errorf("%w: simulated timeout (the card was charged; the answer is lost)", ErrTemporary)
	}
	return c.found(), nil
}

// found is c as LookupCharge returns it.
func (c *SimCharge) found() Charge {
	return Charge{ID: c.ID, Approved: c.Approved, DeclineReason: c.DeclineReason}
}

func refundHiccup(n int) error {
	return fmt.Errorf("%w: simulated refund hiccup (call %d for this key)", ErrTemporary, n)
}

func lookupHiccup(n int) error {
	return fmt.Errorf("%w: simulated lookup hiccup (call %d for this key)", ErrTemporary, n)
}

// canRefund says whether req may refund approved charge c (nil: unknown).
func (c *SimCharge) canRefund(req RefundRequest) error {
	switch {
	case c == nil:
		return fmt.Errorf("%w: %s", ErrUnknownCharge, req.ChargeID)
	case c.Currency != req.Currency:
		return fmt.Errorf("%w: currency %s, the charge is in %s", ErrGatewayInvalidRequest, req.Currency, c.Currency)
	case c.RefundedCents+req.AmountCents > c.AmountCents:
		return fmt.Errorf("%w: %d asked, %d of %d left", ErrRefundExceedsCharge,
			req.AmountCents, c.AmountCents-c.RefundedCents, c.AmountCents)
	}
	return nil
}

func newSimRefund(req RefundRequest, at time.Time) *SimRefund {
	return &SimRefund{ID: "re_" + uuid.NewString(), IdempotencyKey: req.IdempotencyKey, ChargeID: req.ChargeID,
		AmountCents: req.AmountCents, Currency: req.Currency, At: at}
}

// answer is r's answer to req, a call with r's key.
func (r *SimRefund) answer(req RefundRequest) (RefundResult, error) {
	if r.ChargeID != req.ChargeID || r.AmountCents != req.AmountCents || r.Currency != req.Currency {
		return RefundResult{}, fmt.Errorf("%w: key %s", ErrIdempotencyMismatch, req.IdempotencyKey)
	}
	return RefundResult{ID: r.ID}, nil
}

// simWait simulates the gateway's latency.
func simWait(ctx context.Context, latency time.Duration) error {
	if latency <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(latency)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrTemporary, ctx.Err())
	}
}

// Charges returns the approved charges, oldest first.
func (s *Simulator) Charges() []SimCharge {
	return s.chargesWhere(func(*SimCharge) bool { return true })
}

// ChargesFor returns the approved charges whose Reference is ref (an order
// id, for Payments), oldest first.
func (s *Simulator) ChargesFor(ref string) []SimCharge {
	return s.chargesWhere(func(c *SimCharge) bool { return c.Reference == ref })
}

func (s *Simulator) chargesWhere(keep func(*SimCharge) bool) []SimCharge {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []SimCharge
	for _, c := range s.chargeByID {
		if keep(c) {
			out = append(out, *c)
		}
	}
	slices.SortFunc(out, func(a, b SimCharge) int { return a.At.Compare(b.At) })
	return out
}

// Refunds returns the refunds made, oldest first.
func (s *Simulator) Refunds() []SimRefund {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]SimRefund, 0, len(s.refunds))
	for _, r := range s.refunds {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b SimRefund) int { return a.At.Compare(b.At) })
	return out
}

// ChargeCalls returns how many Charge calls reached the simulator with
// idempotency key key (including failed ones; not those refused as invalid
// or cut short by their context).
func (s *Simulator) ChargeCalls(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.chargeCalls[key]
}

// LookupCalls returns how many LookupCharge calls reached the simulator
// with key key (including failed ones; not those refused as invalid or cut
// short by their context).
func (s *Simulator) LookupCalls(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lookupCalls[key]
}
