package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// shopKill is one process 'bench shop --kill' killed.
type shopKill struct {
	Service string  `json:"service"`
	Replica int     `json:"replica"`
	PID     int     `json:"pid"`
	At      float64 `json:"at_seconds"` // after the first checkout
}

// shopCheck is one invariant checked after the orders settled.
type shopCheck struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// killer kills one process of each service listed, in order, one every
// interval (a service listed twice is killed twice): a bounded number of
// faults. The gateway's supervisor starts each again. It runs only in
// distributed mode.
type killer struct {
	api      benchAPI
	services []string
	every    time.Duration
	t0       time.Time

	mu    sync.Mutex
	kills []shopKill
	err   error
}

// run kills until the list is done or ctx ends. A kill refused because
// every process of the service is restarting (409) is skipped, not an
// error: the fault is already there.
func (k *killer) run(ctx context.Context) {
	tick := time.NewTicker(k.every)
	defer tick.Stop()
	for _, svc := range k.services {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		var p processJSON
		err := k.api.call(ctx, http.MethodPost, "/ops/processes/"+svc+"/kill", nil, true, http.StatusAccepted, &p)
		var se *statusError
		switch {
		case errors.As(err, &se) && se.status == http.StatusConflict, ctx.Err() != nil:
			continue
		case err != nil:
			k.mu.Lock()
			k.err = fmt.Errorf("killing a process of %s: %w", svc, err)
			k.mu.Unlock()
			return
		}
		k.mu.Lock()
		k.kills = append(k.kills, shopKill{Service: svc, Replica: p.Replica, PID: p.PID, At: time.Since(k.t0).Seconds()})
		k.mu.Unlock()
	}
}

func (k *killer) result() ([]shopKill, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.kills, k.err
}

// restarts reads how often the supervisor started each service's
// processes again.
func restarts(ctx context.Context, api benchAPI) (map[string]int, error) {
	var ps processesJSON
	if err := api.call(ctx, http.MethodGet, "/ops/processes", nil, true, http.StatusOK, &ps); err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, p := range ps.Processes {
		out[p.Service] += p.Restarts
	}
	return out, nil
}

// ownerTotals are the owners' figures the invariants compare, summed over
// currencies and SKUs.
type ownerTotals struct {
	shipped, cancelled, shippedValue int64 // orders
	captured, refunded, pending      int64 // payments, cents and count
	dispatched, units                int64 // fulfillment
	onHand, reserved                 int64 // inventory
}

func readTotals(ctx context.Context, c shopClient) (ownerTotals, error) {
	o, err := c.owners(ctx)
	if err != nil {
		return ownerTotals{}, err
	}
	var t ownerTotals
	for _, s := range o.Orders.ByStatus {
		switch s.Status {
		case "shipped":
			t.shipped += s.Orders
			t.shippedValue += s.ValueCents
		case "cancelled":
			t.cancelled += s.Orders
		}
	}
	for _, c := range o.Payments.ByCurrency {
		t.captured += c.CapturedCents
		t.refunded += c.RefundedCents
		t.pending += c.Pending
	}
	t.dispatched, t.units = o.Fulfillment.Dispatched, o.Fulfillment.UnitsDispatched
	t.onHand, t.reserved = o.Inventory.OnHand, o.Inventory.Reserved
	return t, nil
}

// invariants checks, once the orders have settled, what must hold whatever
// faults the run met, against the owners' figures before the checkouts
// (before): each order counted once in its final state, the money taken
// equal to the value shipped, one shipment per shipped order, the stock
// moved once per unit shipped and nothing left reserved or in flight, and
// the warehouse equal to the owners (reconcile). The shop settles on its
// own (a killed process's events come back after the consumers' AckWait,
// 30 s), so the checks are read again until they hold or within passes.
func invariants(ctx context.Context, c shopClient, before ownerTotals, shipped, cancelled int, within time.Duration) ([]shopCheck, error) {
	deadline := time.Now().Add(within)
	for {
		after, err := readTotals(ctx, c)
		if err != nil {
			// A process killed last may still be starting (503).
			if time.Now().After(deadline) {
				return nil, err
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(500 * time.Millisecond):
			}
			continue
		}
		d := func(a, b int64) int64 { return a - b }
		checks := []shopCheck{
			{Name: "every order counted once, in its final state",
				OK: d(after.shipped, before.shipped) == int64(shipped) && d(after.cancelled, before.cancelled) == int64(cancelled),
				Detail: fmt.Sprintf("Orders: %d shipped, %d cancelled; the run saw %d and %d",
					d(after.shipped, before.shipped), d(after.cancelled, before.cancelled), shipped, cancelled)},
			{Name: "money taken = value shipped, nothing in flight",
				OK: d(after.captured, before.captured)-d(after.refunded, before.refunded) == d(after.shippedValue, before.shippedValue) && after.pending == 0,
				Detail: fmt.Sprintf("Payments: captured %d − refunded %d cents; Orders: %d cents shipped; %d payments pending",
					d(after.captured, before.captured), d(after.refunded, before.refunded), d(after.shippedValue, before.shippedValue), after.pending)},
			{Name: "one shipment per shipped order",
				OK:     d(after.dispatched, before.dispatched) == d(after.shipped, before.shipped),
				Detail: fmt.Sprintf("Fulfillment: %d dispatched; Orders: %d shipped", d(after.dispatched, before.dispatched), d(after.shipped, before.shipped))},
			{Name: "stock moved once per unit shipped, nothing left reserved",
				OK: d(before.onHand, after.onHand) == d(after.units, before.units) && after.reserved == 0,
				Detail: fmt.Sprintf("Inventory: on hand %d → %d, %d reserved; Fulfillment: %d units dispatched",
					before.onHand, after.onHand, after.reserved, d(after.units, before.units))},
		}
		ok := true
		for _, ch := range checks {
			ok = ok && ch.OK
		}
		if ok || time.Now().After(deadline) {
			wh, err := warehouseCheck(ctx, c, time.Until(deadline))
			if err != nil {
				return nil, err
			}
			return append(checks, wh), nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// warehouseCheck is reconcile's comparison, at a consistent point reached
// within wait (at least 30 s).
func warehouseCheck(ctx context.Context, c shopClient, wait time.Duration) (shopCheck, error) {
	check := shopCheck{Name: "the warehouse equals the owners (reconcile)"}
	deadline := time.Now().Add(max(wait, 30*time.Second))
	for {
		s, why, err := c.read(ctx)
		if err != nil {
			if time.Now().After(deadline) || ctx.Err() != nil {
				return check, err
			}
			why = err.Error() // a process still starting: try again
		}
		if why == "" {
			var diffs []string
			for _, f := range compare(s) {
				if f.Difference != 0 {
					diffs = append(diffs, fmt.Sprintf("%s %s: owner %d, warehouse %d", f.Owner, f.Name, f.OwnerValue, f.Warehouse))
				}
			}
			check.OK = len(diffs) == 0
			check.Detail = "no difference"
			if !check.OK {
				check.Detail = strings.Join(diffs, "; ")
			}
			return check, nil
		}
		if time.Now().After(deadline) {
			check.Detail = "no consistent point: " + why
			return check, nil
		}
		select {
		case <-ctx.Done():
			return check, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
