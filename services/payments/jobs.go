package payments

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/bounded-dev/bounded/platform/contract"
	"github.com/bounded-dev/bounded/platform/sqldb"
)

// The job: one loop claims due work and hands it to at most Workers
// goroutines, each of which makes one gateway call outside any transaction
// and records its result in one transaction with its event.
//
// The loop claims only as many rows as it has free workers (a claim is a
// lease in the row, and a lease should not tick away in a queue), refunds
// first (the money is owed), then lookups of payments whose outcome is
// unknown (money may have been taken), then charges. It sleeps until one
// of: work was committed here (wake, from the consumer's or a worker's
// AfterCommit), a worker finished while all were busy (done), the earliest
// retry or lookup this process scheduled is due, or the backstop poll
// (PollInterval, for work committed by another replica and for leases that
// ran out). It never spins: with nothing due it makes one claim per wake or
// poll.

// dueTime is the earliest retry (or lookup) a worker or handler of this
// process scheduled.
type dueTime struct {
	mu sync.Mutex
	t  time.Time
}

// note records a retry at t and reports whether it is the earliest known.
func (d *dueTime) note(t time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.t.IsZero() || t.Before(d.t) {
		d.t = t
		return true
	}
	return false
}

// passed forgets the retry time if it is not after now (a claim at now
// takes what was due by then).
func (d *dueTime) passed(now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.t.After(now) {
		d.t = time.Time{}
	}
}

func (d *dueTime) next() time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.t
}

func (s *svc) runJob(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()                            // workers stop with ctx; their claims are released or recorded
	busy := make(chan struct{}, s.cfg.Workers) // one token per running worker
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	full, failing := false, false
	for {
		free := cap(busy) - len(busy)
		full = free == 0
		if free > 0 {
			n, err := s.dispatch(ctx, &wg, busy, free)
			switch {
			case err != nil && ctx.Err() != nil:
				return nil
			case err != nil:
				// The database is unreachable or refused the claim: log once
				// per streak, retry at the next poll. Not an error of the
				// host: the job must outlive a database restart.
				if !failing {
					s.log.Error("payments job: claim failed; retrying at every poll", "err", err)
				}
				failing = true
			default:
				if failing {
					s.log.Info("payments job: claiming again")
				}
				failing = false
				full = n == free // there may be more: claim again once a worker is free
			}
		}
		var tick <-chan time.Time
		var done <-chan struct{}
		if full {
			done = s.done
		} else {
			d := s.cfg.PollInterval
			if next := s.due.next(); !next.IsZero() {
				d = min(d, max(time.Until(next), 0))
			}
			timer.Reset(d)
			tick = timer.C
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.wake:
		case <-done:
		case <-tick:
		}
	}
}

// dispatch claims up to free due refunds, lookups and charges and starts a
// worker for each; it returns how many it claimed.
func (s *svc) dispatch(ctx context.Context, wg *sync.WaitGroup, busy chan struct{}, free int) (int, error) {
	at := now()
	s.due.passed(at)
	var charges []chargeTask
	var refunds []refundTask
	var lookups []verifyTask
	s.m.claims.Inc()
	err := s.db.Transact(ctx, func(tx *sqldb.Tx) error {
		var err error
		if refunds, err = claimRefunds(ctx, tx, at, s.cfg.Lease, free); err != nil {
			return err
		}
		if rest := free - len(refunds); rest > 0 {
			if lookups, err = claimVerifications(ctx, tx, at, s.cfg.Lease, rest); err != nil {
				return err
			}
		}
		if rest := free - len(refunds) - len(lookups); rest > 0 {
			charges, err = claimCharges(ctx, tx, at, s.cfg.Lease, rest)
		}
		return err
	})
	if err != nil {
		return 0, err
	}
	start := func(f func()) {
		busy <- struct{}{} // never blocks: at most free tasks were claimed
		wg.Add(1)
		go func() {
			defer func() {
				<-busy
				select {
				case s.done <- struct{}{}:
				default:
				}
				wg.Done()
			}()
			f()
		}()
	}
	for _, t := range refunds {
		start(func() { s.refund(ctx, t) })
	}
	for _, t := range lookups {
		start(func() { s.verify(ctx, t) })
	}
	for _, t := range charges {
		start(func() { s.charge(ctx, t) })
	}
	return len(refunds) + len(lookups) + len(charges), nil
}

// recordTimeout bounds recording a gateway result on a fresh context.
const recordTimeout = 10 * time.Second

// charge calls the gateway for one claimed payment and records the result.
func (s *svc) charge(ctx context.Context, t chargeTask) {
	start := time.Now()
	cctx, cancel := context.WithTimeout(ctx, s.cfg.GatewayTimeout)
	ch, err := s.cfg.Gateway.Charge(cctx, ChargeRequest{IdempotencyKey: t.paymentID, Token: t.token,
		AmountCents: t.amountCents, Currency: t.currency, Reference: t.orderID})
	cancel()
	s.m.gatewayCall.WithLabelValues("charge").Observe(time.Since(start).Seconds())
	if err != nil && ctx.Err() != nil {
		// Shutting down cut the call short: give the claim back so that
		// the next run (or another replica) repeats the call, with the
		// same key, at once instead of after the lease.
		s.release(ctx, "payments", t.paymentID, t.claim)
		return
	}
	var res ChargeResult
	switch {
	case err != nil:
		s.m.gatewayErrors.WithLabelValues("charge").Inc()
		res = ChargeResult{Outcome: OutcomeFailed, Reason: err.Error()}
	case ch.Approved && ch.ID == "":
		s.m.gatewayErrors.WithLabelValues("charge").Inc()
		res = ChargeResult{Outcome: OutcomeFailed, Reason: "the gateway approved without a charge id"}
	case ch.Approved:
		res = ChargeResult{Outcome: OutcomeApproved, ChargeID: ch.ID}
	default:
		reason := ch.DeclineReason
		if reason == "" {
			reason = "declined"
		}
		res = ChargeResult{Outcome: OutcomeDeclined, Reason: reason}
	}
	// The call happened: record it even if shutdown began meanwhile (on a
	// fresh context), since dropping it would only repeat the call later.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if err := s.recordCharge(rctx, t.paymentID, res); err != nil {
		// The claim stays until its lease runs out; then the call is
		// repeated with the same key, which returns the same charge.
		s.log.Error("payments job: record charge", "payment", t.paymentID, "outcome", res.Outcome, "err", err)
	}
}

func (s *svc) recordCharge(ctx context.Context, paymentID string, res ChargeResult) error {
	_, err := s.recordPayment(ctx, paymentID, "charge", func(p *Payment, policy RetryPolicy, at time.Time) (Attempt, Effect, error) {
		return p.RecordCharge(res, policy, at)
	})
	return err
}

// verify looks up at the gateway the charge of one claimed payment whose
// outcome is unknown and records what it found.
func (s *svc) verify(ctx context.Context, t verifyTask) {
	start := time.Now()
	cctx, cancel := context.WithTimeout(ctx, s.cfg.GatewayTimeout)
	ch, found, err := s.cfg.Gateway.LookupCharge(cctx, t.paymentID)
	cancel()
	s.m.gatewayCall.WithLabelValues("lookup").Observe(time.Since(start).Seconds())
	if err != nil && ctx.Err() != nil {
		s.release(ctx, "payments", t.paymentID, t.claim) // as in charge
		return
	}
	var res LookupResult
	switch {
	case err != nil:
		res = LookupResult{Outcome: LookupFailed, Reason: err.Error()}
	case found && ch.Approved && ch.ID == "":
		res = LookupResult{Outcome: LookupFailed, Reason: "the gateway found an approved charge without its id"}
	case found && ch.Approved:
		res = LookupResult{Outcome: LookupCharged, ChargeID: ch.ID}
	default: // no charge under the key, or a declined one
		res = LookupResult{Outcome: LookupNotCharged}
	}
	if res.Outcome == LookupFailed {
		s.m.gatewayErrors.WithLabelValues("lookup").Inc()
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	var unknownSince time.Time
	var lookups int
	eff, err := s.recordPayment(rctx, t.paymentID, "lookup", func(p *Payment, policy RetryPolicy, at time.Time) (Attempt, Effect, error) {
		unknownSince, lookups = p.unknownSince, p.lookups
		return p.RecordLookup(res, policy, at)
	})
	switch {
	case err != nil:
		// The claim stays until its lease runs out; then the lookup is
		// made again.
		s.log.Error("payments job: record lookup", "payment", t.paymentID, "outcome", res.Outcome, "err", err)
	case eff.Overdue:
		// Never silent: money may have been taken for a cancelled order.
		s.log.Error("payments job: the outcome of a payment called off is still unknown past the verify horizon; a card may have been charged; still looking it up",
			"payment", t.paymentID, "order", t.orderID, "unknown_since", unknownSince, "lookups", lookups+1,
			"next_lookup", eff.VerifyAt, "err", res.Reason)
	case eff.Verified == LookupCharged:
		s.log.Warn("payments job: a charge whose answer was lost found by lookup; captured and refunded",
			"payment", t.paymentID, "order", t.orderID, "charge", res.ChargeID, "unknown_since", unknownSince)
	}
}

// recordPayment records, in one transaction with its events and refund,
// what a gateway call (op: "charge" or "lookup") made for the payment came
// to: apply is the Payment method that records it. It gives up the
// worker's claim, and returns the effect.
func (s *svc) recordPayment(ctx context.Context, paymentID, op string,
	apply func(p *Payment, policy RetryPolicy, at time.Time) (Attempt, Effect, error)) (Effect, error) {
	var out Effect
	err := s.db.Transact(ctx, func(tx *sqldb.Tx) error {
		out = Effect{}
		at := now()
		p, err := lockPayment(ctx, tx, paymentID, false)
		if err != nil {
			return err
		}
		if p == nil {
			return fmt.Errorf("payment %s is gone", paymentID)
		}
		a, eff, err := apply(p, s.cfg.policy(), at)
		if errors.Is(err, errStale) {
			s.log.Info("payments job: stale "+op+" result ignored (a lease ran out, or the payment was settled meanwhile)",
				"payment", paymentID, "status", p.status)
			return nil
		}
		if err != nil {
			return err
		}
		if a.N > 0 { // a lookup that found no charge is no attempt
			if err := insertAttempt(ctx, tx, p.id, a); err != nil {
				return err
			}
		}
		if err := updatePayment(ctx, tx, p, true); err != nil {
			return err
		}
		var evs []contract.Event
		if eff.Captured {
			ev, err := capturedEvent(p, at)
			if err != nil {
				return err
			}
			evs = append(evs, ev)
			tx.AfterCommit(s.m.captured.Inc)
		}
		if eff.Declined {
			ev, err := declinedEvent(p, at)
			if err != nil {
				return err
			}
			evs = append(evs, ev)
			tx.AfterCommit(s.m.declined.Inc)
		}
		if eff.Refund != nil {
			if _, err := insertRefund(ctx, tx, eff.Refund); err != nil {
				return err
			}
			tx.AfterCommit(s.wakeJob)
		}
		if eff.Verified != "" {
			tx.AfterCommit(s.m.verified.WithLabelValues(string(eff.Verified)).Inc)
		}
		if eff.Overdue {
			tx.AfterCommit(s.m.verifyOverdue.Inc)
		}
		out = eff
		return s.ob.Record(ctx, tx, evs...)
	})
	if err != nil {
		return Effect{}, err
	}
	s.dueAt(out.RetryAt)
	s.dueAt(out.VerifyAt)
	return out, nil
}

// refund calls the gateway for one claimed refund and records the result.
func (s *svc) refund(ctx context.Context, t refundTask) {
	start := time.Now()
	cctx, cancel := context.WithTimeout(ctx, s.cfg.GatewayTimeout)
	res, err := s.cfg.Gateway.Refund(cctx, RefundRequest{IdempotencyKey: t.refundID, ChargeID: t.chargeID,
		AmountCents: t.amountCents, Currency: t.currency})
	cancel()
	s.m.gatewayCall.WithLabelValues("refund").Observe(time.Since(start).Seconds())
	if err != nil && ctx.Err() != nil {
		s.release(ctx, "refunds", t.refundID, t.claim) // as in charge
		return
	}
	if err == nil && res.ID == "" {
		err = errors.New("the gateway refunded without a refund id")
	}
	if err != nil {
		s.m.gatewayErrors.WithLabelValues("refund").Inc()
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if err := s.recordRefund(rctx, t.refundID, res.ID, err); err != nil {
		s.log.Error("payments job: record refund", "refund", t.refundID, "err", err)
	}
}

func (s *svc) recordRefund(ctx context.Context, refundID, gatewayID string, callErr error) error {
	var retryAt time.Time
	err := s.db.Transact(ctx, func(tx *sqldb.Tx) error {
		at := now()
		r, err := lockRefund(ctx, tx, refundID)
		if err != nil {
			return err
		}
		if r == nil {
			return fmt.Errorf("refund %s is gone", refundID)
		}
		err = r.RecordRefund(gatewayID, callErr, s.cfg.backoff, at)
		if errors.Is(err, errStale) {
			s.log.Info("payments job: stale refund result ignored (a lease ran out)", "refund", refundID)
			return nil
		}
		if err != nil {
			return err
		}
		if err := updateRefund(ctx, tx, r, at); err != nil {
			return err
		}
		if r.status != RefundIssued {
			retryAt = r.nextAttemptAt
			return nil
		}
		ev, err := refundIssuedEvent(r)
		if err != nil {
			return err
		}
		tx.AfterCommit(s.m.refunded.Inc)
		return s.ob.Record(ctx, tx, ev)
	})
	if err == nil && !retryAt.IsZero() && s.due.note(retryAt) {
		s.wakeJob()
	}
	return err
}

// release gives up the claim (until claim) on a row of table ("payments"
// or "refunds"), unless the row was claimed again since (the lease ran out
// and another worker, perhaps another replica's, holds it now: that claim
// is not this worker's to give up) or its result was recorded (which gives
// up the claim). A payment voided while its charge was in flight keeps the
// charge's claim (see updatePayment): releasing it lets its lookup come
// sooner. It runs while shutting down, so on a fresh, short context; if it
// fails the lease simply runs out.
func (s *svc) release(ctx context.Context, table, id string, claim time.Time) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	err := s.db.Transact(rctx, func(tx *sqldb.Tx) error {
		d := tx.Dialect()
		_, err := tx.ExecContext(rctx, d.Rebind(`UPDATE `+table+` SET claimed_until = NULL
			WHERE id = $1 AND claimed_until = $2`), id, sqldb.TimeArg(d, claim))
		return err
	})
	if err != nil {
		s.log.Warn("payments job: release claim at shutdown", "table", table, "id", id, "err", err)
	}
}
