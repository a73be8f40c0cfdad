package inventory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/bounded-dev/bounded/platform/contract"
	"github.com/bounded-dev/bounded/platform/sqldb"
	"github.com/bounded-dev/bounded/services/inventory/events"
)

// purchasing is the purchase-order job. Each round it
//
//  1. refreshes unsent purchase orders whose product copy changed: a
//     flagged one that is now complete becomes pending, a pending one that
//     is now incomplete becomes flagged (and is published and counted);
//  2. creates a purchase order for every SKU at or below its reorder point
//     with no open one — pending when Inventory's product copy gives it a
//     name and a description, flagged (published, counted, never sent)
//     when it does not;
//  3. sends the pending ones (and the retrying ones whose backoff passed)
//     to the supplier, outside any transaction, and records the outcome:
//     sent (and purchase_order_placed), rejected, or retrying.
//
// It wakes when a commit leaves stock at or below a reorder point or
// changes a product, and polls every PollInterval as a backstop. One job
// runs per process, and replicas' jobs run side by side on one database:
// the unique index keeps one open purchase order per SKU however many jobs
// create at once, a job claims each purchase order before sending it (a
// lease, Config.Lease), so one replica at a time sends it, records only
// under its own claim, and the refresh leaves a claimed order alone until
// its outcome is recorded. If a replica dies during a call, another sends
// the order again once the lease has run out, which the Supplier contract
// makes harmless (idempotent per id).
type purchasing struct {
	*svc
	lastErr string // the last error logged, so that a lasting failure is logged once
}

// Run runs rounds until ctx is done. Errors of a round are logged, and the
// round is tried again at the next wake or poll: the job never stops the
// host for a database hiccup.
func (p *purchasing) Run(ctx context.Context) error {
	tick := time.NewTicker(p.cfg.PollInterval)
	defer tick.Stop()
	for {
		more, err := p.round(ctx)
		if ctx.Err() != nil {
			return nil
		}
		p.logOnce(err)
		if more {
			continue // a full batch was sent: there may be more due now
		}
		select {
		case <-ctx.Done():
			return nil
		case <-p.wake:
		case <-tick.C:
		}
	}
}

func (p *purchasing) logOnce(err error) {
	switch {
	case err == nil && p.lastErr != "":
		p.env.Logger.Info("purchase-order job recovered")
		p.lastErr = ""
	case err != nil && err.Error() != p.lastErr:
		p.env.Logger.Error("purchase-order job failed; trying again", "err", err)
		p.lastErr = err.Error()
	}
}

// round runs the three steps; it reports whether a full batch was sent.
func (p *purchasing) round(ctx context.Context) (bool, error) {
	errRefresh := p.refresh(ctx)
	errCreate := p.create(ctx)
	more, errSend := p.send(ctx)
	return more, errors.Join(errRefresh, errCreate, errSend)
}

// refresh brings unsent purchase orders up to date with the product copy.
func (p *purchasing) refresh(ctx context.Context) error {
	stale, err := p.st.stalePOs(ctx, p.env.DB.Reader())
	if err != nil || len(stale) == 0 {
		return err
	}
	t := now()
	return p.env.DB.Transact(ctx, func(tx *sqldb.Tx) error {
		var evs []contract.Event
		flagged := 0
		for _, s := range stale {
			missing := missingFields(s.Product.Name, s.Product.Description)
			to := POPending
			switch {
			case len(missing) > 0:
				to = POFlagged
			case s.Status == PORetrying:
				to = PORetrying // keep its attempts and backoff; next_attempt_at is now
			}
			ok, err := p.st.refreshPO(ctx, tx, s, to, missing, t)
			if err != nil {
				return err
			}
			if ok && to == POFlagged && s.Status != POFlagged {
				ev, err := events.NewPurchaseOrderFlagged(events.PurchaseOrderFlaggedV1{PurchaseOrderID: s.ID, SKU: s.SKU, Missing: missing, FlaggedAt: t})
				if err != nil {
					return err
				}
				evs = append(evs, ev)
				flagged++
			}
		}
		tx.AfterCommit(func() { p.m.poFlagged.Add(float64(flagged)) })
		return p.env.Outbox.Record(ctx, tx, evs...)
	})
}

// create opens a purchase order for every SKU that needs one. The SKUs are
// found on the read pool first, so that a round with nothing to do takes
// no write transaction; the transaction then finds them again (the stock
// may have moved) and inserts, the unique index keeping one open order per
// SKU.
func (p *purchasing) create(ctx context.Context) error {
	if c, err := p.st.reorderCandidates(ctx, p.env.DB.Reader()); err != nil || len(c) == 0 {
		return err
	}
	t := now()
	return p.env.DB.Transact(ctx, func(tx *sqldb.Tx) error {
		cands, err := p.st.reorderCandidates(ctx, tx)
		if err != nil {
			return err
		}
		var evs []contract.Event
		flagged := 0
		for _, c := range cands {
			id, err := uuid.NewV7()
			if err != nil {
				return err
			}
			po := PurchaseOrder{ID: id.String(), SKU: c.SKU, Quantity: c.ReorderQuantity, Name: c.Name, Description: c.Description,
				ProductVersion: c.ProductVersion, Status: POPending, CreatedAt: t}
			if po.Missing = missingFields(c.Name, c.Description); len(po.Missing) > 0 {
				po.Status = POFlagged
			}
			ok, err := p.st.insertPO(ctx, tx, po)
			if err != nil {
				return err
			}
			if ok && po.Status == POFlagged {
				ev, err := events.NewPurchaseOrderFlagged(events.PurchaseOrderFlaggedV1{PurchaseOrderID: po.ID, SKU: po.SKU,
					Missing: po.Missing, FlaggedAt: t})
				if err != nil {
					return err
				}
				evs = append(evs, ev)
				flagged++
			}
		}
		tx.AfterCommit(func() { p.m.poFlagged.Add(float64(flagged)) })
		return p.env.Outbox.Record(ctx, tx, evs...)
	})
}

// send sends due purchase orders, one at a time, each outside any
// transaction, and records each outcome in a transaction of its own. It
// reports whether it sent a full batch.
func (p *purchasing) send(ctx context.Context) (bool, error) {
	due, err := p.st.duePOs(ctx, p.env.DB.Reader(), now(), p.cfg.BatchSize)
	if err != nil {
		return false, err
	}
	var errs []error
	for _, po := range due {
		if err := p.claimAndSend(ctx, po.ID); err != nil {
			errs = append(errs, err)
		}
		if ctx.Err() != nil {
			return false, nil
		}
	}
	return len(due) == p.cfg.BatchSize, errors.Join(errs...)
}

// claimAndSend claims purchase order id and sends it, unless another
// replica claimed or recorded it since it was found due. It claims just
// before the call, one order at a time, so that a lease is not spent
// waiting behind the rest of the batch.
func (p *purchasing) claimAndSend(ctx context.Context, id string) error {
	t := now()
	claim := t.Add(p.cfg.Lease)
	var (
		po PurchaseOrder
		ok bool
	)
	err := p.env.DB.Transact(ctx, func(tx *sqldb.Tx) error {
		var err error
		po, ok, err = p.st.claimPO(ctx, tx, id, t, claim)
		return err
	})
	if err != nil || !ok {
		return err
	}
	return p.sendOne(ctx, po, claim)
}

// sendOne sends po, claimed until claim, and records the outcome.
func (p *purchasing) sendOne(ctx context.Context, po PurchaseOrder, claim time.Time) error {
	// The database refuses an incomplete pending order; this check is the
	// last line before the supplier all the same.
	if missing := missingFields(po.Name, po.Description); len(missing) > 0 {
		return p.record(ctx, po, claim, POFlagged, "", missing)
	}
	callCtx, cancel := context.WithTimeout(ctx, p.cfg.SupplierTimeout)
	err := p.cfg.Supplier.PlaceOrder(callCtx, SupplierOrder{ID: po.ID, SKU: po.SKU, Name: po.Name, Description: po.Description, Quantity: po.Quantity})
	cancel()
	switch {
	case ctx.Err() != nil:
		// Shutting down: give the claim back, so that another replica (or
		// the next start) sends it again at once rather than after the
		// lease; the supplier dedupes by id. On a fresh, short context, as
		// ctx is done; if it fails, the lease runs out.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = p.env.DB.Transact(rctx, func(tx *sqldb.Tx) error { return p.st.releasePO(rctx, tx, po.ID, claim) })
		return nil
	case err == nil:
		return p.record(ctx, po, claim, POSent, "", nil)
	case errors.Is(err, ErrRejected):
		p.env.Logger.Warn("supplier rejected a purchase order", "purchase_order", po.ID, "sku", po.SKU, "err", err)
		return p.record(ctx, po, claim, PORejected, err.Error(), nil)
	default:
		p.env.Logger.Warn("supplier call failed; the purchase order will be sent again", "purchase_order", po.ID, "sku", po.SKU,
			"attempt", po.Attempts+1, "err", err)
		return p.record(ctx, po, claim, PORetrying, err.Error(), nil)
	}
}

// record stores the outcome of sending po under the claim until claim,
// with its event and its count.
func (p *purchasing) record(ctx context.Context, po PurchaseOrder, claim time.Time, to POStatus, lastError string, missing []string) error {
	t := now()
	next := t
	if to == PORetrying {
		next = t.Add(p.cfg.RetryBackoff(po.Attempts + 1))
	}
	return p.env.DB.Transact(ctx, func(tx *sqldb.Tx) error {
		ok, err := p.st.sendOutcome(ctx, tx, po.ID, claim, to, lastError, missing, next, t)
		if err != nil || !ok {
			return err // !ok: the claim ran out, and another replica holds it or recorded it
		}
		var ev contract.Event
		switch to {
		case POSent:
			tx.AfterCommit(p.m.poPlaced.Inc)
			ev, err = events.NewPurchaseOrderPlaced(events.PurchaseOrderPlacedV1{PurchaseOrderID: po.ID, SKU: po.SKU,
				Name: po.Name, Description: po.Description, Quantity: int(po.Quantity), PlacedAt: t})
		case POFlagged:
			tx.AfterCommit(p.m.poFlagged.Inc)
			ev, err = events.NewPurchaseOrderFlagged(events.PurchaseOrderFlaggedV1{PurchaseOrderID: po.ID, SKU: po.SKU,
				Missing: slices.Clone(missing), FlaggedAt: t})
		case PORejected:
			tx.AfterCommit(p.m.poRejected.Inc)
			return nil
		case PORetrying:
			tx.AfterCommit(p.m.poSendErrors.Inc)
			return nil
		default:
			return fmt.Errorf("purchase order %s: no outcome %s", po.ID, to)
		}
		if err != nil {
			return err
		}
		return p.env.Outbox.Record(ctx, tx, ev)
	})
}
