package fulfillment

import (
	"context"
	"time"

	"github.com/bounded-dev/bounded/platform/contract"
	"github.com/bounded-dev/bounded/platform/sqldb"
	"github.com/bounded-dev/bounded/services/fulfillment/events"
)

// minWait keeps the dispatch job from spinning when a shipment is due but
// was not dispatched (another replica holds it, on PostgreSQL).
const minWait = 5 * time.Millisecond

// runDispatcher is the dispatch job. It dispatches every due shipment (paid,
// packable, created, DispatchDelay after the payment), a batch per
// transaction, then sleeps until the next one falls due, a commit that
// makes a shipment due wakes it, or PollInterval passes (the backstop).
// It returns nil when ctx is done; a failed batch is logged and tried again
// after PollInterval (returning it would stop the whole host).
func (s *fulfillment) runDispatcher(ctx context.Context) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	outage := false // a database outage is logged once, not every poll
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.wake:
		case <-timer.C:
		}
		wait := s.cfg.PollInterval
		next, err := s.dispatchAllDue(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			if !outage || !sqldb.IsUnavailable(err) {
				s.log.Error("dispatch failed; trying again", "err", err, "in", wait)
			}
			outage = sqldb.IsUnavailable(err)
		default:
			outage = false
			if !next.IsZero() {
				wait = max(min(time.Until(next), wait), minWait)
			}
		}
		timer.Reset(wait)
	}
}

// dispatchAllDue dispatches batches until one is not full, and returns
// when the next created shipment falls due (zero if none is paid).
func (s *fulfillment) dispatchAllDue(ctx context.Context) (time.Time, error) {
	for {
		n, err := s.dispatchBatch(ctx)
		if err != nil {
			return time.Time{}, err
		}
		if n < s.cfg.DispatchBatch {
			break
		}
	}
	return nextDue(ctx, s.env.DB)
}

// dispatchBatch dispatches up to DispatchBatch due shipments in one
// transaction with their shipment_dispatched events, and returns how many.
func (s *fulfillment) dispatchBatch(ctx context.Context) (int, error) {
	var done []dispatchedRow
	at := now()
	err := s.env.DB.Transact(ctx, func(tx *sqldb.Tx) error {
		var err error
		if done, err = dispatchDue(ctx, tx, at, s.cfg.DispatchBatch); err != nil || len(done) == 0 {
			return err
		}
		evs := make([]contract.Event, len(done))
		for i, r := range done {
			if evs[i], err = events.NewShipmentDispatched(events.ShipmentDispatchedV1{
				ShipmentID: r.ID, OrderID: r.OrderID, Package: r.Package, Items: eventLines(r.Items), DispatchedAt: at,
			}); err != nil {
				return err
			}
		}
		return s.env.Outbox.Record(ctx, tx, evs...)
	})
	if err != nil {
		return 0, err
	}
	for _, r := range done {
		s.m.dispatched.Inc()
		s.m.toDispatch.Observe(at.Sub(r.Created).Seconds())
	}
	return len(done), nil
}
