package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bounded-dev/bounded/platform/service"
	"github.com/bounded-dev/bounded/services/fulfillment"
	"github.com/bounded-dev/bounded/services/inventory"
	"github.com/bounded-dev/bounded/services/orders"
	"github.com/bounded-dev/bounded/services/payments"
	"github.com/bounded-dev/bounded/services/reporting"
)

// Exit codes of `bounded reconcile` beyond Main's: 1 is "differences
// found"; exitNoVerdict says it could not compare (the shop did not answer,
// or did not come to a consistent point within --wait): no figure is
// known to be wrong.
const exitNoVerdict = 3

// reconcileConfig is what `bounded reconcile` runs with.
type reconcileConfig struct {
	base   string
	token  string
	wait   time.Duration
	format string
	// poll is the pause between two attempts at a consistent point.
	poll time.Duration
}

func (m *Main) parseReconcile(_ context.Context, args []string) (func(context.Context) error, error) {
	fs := m.newFlagSet("reconcile", `Compares the warehouse's totals (Reporting's GET /reporting/totals: orders and their
value by status, payments captured, declined and voided, refunds, shipments and units
dispatched, stock per SKU) with what each owning service reports through its API
(GET /orders/stats, /payments/stats, /fulfillment/stats, /inventory/stats), at a
consistent point: it waits until every owner's outbox is empty and every Reporting
consumer has applied its whole stream, and the owners' figures and outbox positions
did not move while the warehouse was read (see docs/reporting.md).

Prints every figure: owner's value, warehouse's value, difference.
Exit status: 0 no differences; 1 differences found; 2 a usage error; 3 no verdict
(the shop did not answer, or came to no consistent point within --wait).`)
	var cfg reconcileConfig
	base := cmp.Or(os.Getenv("BOUNDED_URL"), defaultShopURL)
	fs.StringVar(&cfg.base, "url", base, "the shop's `address`, as 'bounded up' prints it (default $BOUNDED_URL, else "+defaultShopURL+")")
	fs.StringVar(&cfg.token, "admin-token", os.Getenv("BOUNDED_ADMIN_TOKEN"), "the shop's admin `token` (default $BOUNDED_ADMIN_TOKEN, else the one in DATA/admin-token)")
	data := fs.String("data", "data", "the shop's data `directory`, where 'bounded up' keeps the admin token")
	fs.DurationVar(&cfg.wait, "wait", 30*time.Second, "how long to wait for a consistent point")
	fs.StringVar(&cfg.format, "format", "table", "output: table or json")
	if err := fs.parse(args); err != nil {
		return nil, err
	}
	switch {
	case cfg.format != "table" && cfg.format != "json":
		return nil, usagef("reconcile: --format %q: want table or json", cfg.format)
	case cfg.wait <= 0:
		return nil, usagef("reconcile: --wait %s: want a positive duration", cfg.wait)
	}
	if u, err := url.Parse(cfg.base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usagef("reconcile: --url %q: want an http(s) URL such as %s", cfg.base, defaultShopURL)
	}
	cfg.poll = 200 * time.Millisecond
	return func(ctx context.Context) error {
		token, err := shopAdminToken(cfg.token, *data)
		if err != nil {
			return exitError{exitNoVerdict, fmt.Errorf("reconcile: %w", err)}
		}
		cfg.token = token
		return m.reconcile(ctx, cfg)
	}, nil
}

// exitError ends the program with its code; Main prints err in one line
// unless it is nil.
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e exitError) Unwrap() error { return e.err }

// ownerStats are the owners' answers to GET /stats.
type ownerStats struct {
	Orders      orders.Stats
	Payments    payments.Stats
	Fulfillment fulfillment.Stats
	Inventory   inventory.Stats
}

// positions are the owners' outbox positions, by service.
func (o ownerStats) positions() map[string][2]int64 {
	return map[string][2]int64{
		"orders":      {o.Orders.Outbox.Backlog, o.Orders.Outbox.Recorded},
		"payments":    {o.Payments.Outbox.Backlog, o.Payments.Outbox.Recorded},
		"fulfillment": {o.Fulfillment.Outbox.Backlog, o.Fulfillment.Outbox.Recorded},
		"inventory":   {o.Inventory.Outbox.Backlog, o.Inventory.Outbox.Recorded},
	}
}

// shopClient calls the shop's API with the admin token.
type shopClient struct {
	base, token string
}

// get fetches path into v. Any answer but 200 is an error with the
// problem's detail.
func (c shopClient) get(ctx context.Context, path string, v any) error {
	body, err := callShop(ctx, c.base, c.token, http.MethodGet, path, http.StatusOK)
	if se := (*shopError)(nil); errors.As(err, &se) {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	return nil
}

func (c shopClient) owners(ctx context.Context) (ownerStats, error) {
	var o ownerStats
	for _, g := range []struct {
		path string
		v    any
	}{{"/orders/stats", &o.Orders}, {"/payments/stats", &o.Payments}, {"/fulfillment/stats", &o.Fulfillment}, {"/inventory/stats", &o.Inventory}} {
		if err := c.get(ctx, g.path, g.v); err != nil {
			return o, err
		}
	}
	return o, nil
}

// snapshot is one consistent reading: the owners' figures and the
// warehouse's, with what made them consistent.
type snapshot struct {
	owners    ownerStats
	warehouse reporting.Totals
	consumers []service.ConsumerJSON
}

// read tries once to read a consistent snapshot. It returns why the shop
// was not at a consistent point ("" when it was), or an error when the
// shop cannot be asked.
//
// The argument: (1) each owner's figures are read with its outbox in one
// statement, and its backlog is 0: every event describing those figures
// is in its stream. (2) Then every Reporting consumer has nothing pending
// or unacknowledged, up to its stream's last message: the warehouse has
// applied every event of (1) (a consumer acknowledges after its commit).
// (3) Then the warehouse is read. (4) Then the owners are read again and
// nothing moved (figures, outbox positions): no event was recorded since
// (1), so the warehouse read in (3) holds exactly the events the figures
// of (1) describe.
func (c shopClient) read(ctx context.Context) (snapshot, string, error) {
	var s snapshot
	before, err := c.owners(ctx)
	if err != nil {
		return s, "", err
	}
	for _, svc := range slices.Sorted(maps.Keys(before.positions())) {
		if n := before.positions()[svc][0]; n > 0 {
			return s, fmt.Sprintf("%s has %d events in its outbox, not yet published", svc, n), nil
		}
	}
	var cs struct {
		Consumers []service.ConsumerJSON `json:"consumers"`
	}
	if err := c.get(ctx, "/ops/consumers?service="+reporting.Name, &cs); err != nil {
		return s, "", err
	}
	if len(cs.Consumers) == 0 {
		return s, "", errors.New("the shop's Reporting service runs no consumers")
	}
	var behind []string
	for _, con := range cs.Consumers {
		switch {
		case con.Error != "":
			behind = append(behind, fmt.Sprintf("%s: %s", con.Consumer, con.Error))
		case con.Paused:
			behind = append(behind, con.Consumer+" is paused (a rebuild?)")
		case !con.CaughtUp:
			behind = append(behind, fmt.Sprintf("%s: %d pending, %d unacknowledged, at %d of %d", con.Consumer,
				con.Pending, con.AckPending, con.AckFloor, con.StreamLastSeq))
		}
	}
	if len(behind) > 0 {
		return s, "the warehouse is behind: " + strings.Join(behind, "; "), nil
	}
	if err := c.get(ctx, "/reporting/totals", &s.warehouse); err != nil {
		return s, "", err
	}
	after, err := c.owners(ctx)
	if err != nil {
		return s, "", err
	}
	for _, svc := range slices.Sorted(maps.Keys(before.positions())) {
		if b, a := before.positions()[svc], after.positions()[svc]; b != a {
			return s, fmt.Sprintf("%s moved while the warehouse was read (outbox at %d, then %d)", svc, b[1], a[1]), nil
		}
	}
	if !sameFigures(before, after) {
		return s, "the owners' figures changed while the warehouse was read", nil
	}
	s.owners, s.consumers = after, cs.Consumers
	return s, "", nil
}

// sameFigures compares two readings of the owners, their times aside.
func sameFigures(a, b ownerStats) bool {
	for _, x := range []*ownerStats{&a, &b} {
		x.Orders.AsOf, x.Payments.AsOf, x.Fulfillment.AsOf, x.Inventory.AsOf = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// figure is one compared figure.
type figure struct {
	Name       string `json:"figure"`
	Owner      string `json:"owner"` // the owning service
	OwnerValue int64  `json:"owner_value"`
	Warehouse  int64  `json:"warehouse_value"`
	Difference int64  `json:"difference"` // warehouse − owner
	cents      bool
}

// compare lists every figure of s, owner's and warehouse's side by side,
// in a stable order.
func compare(s snapshot) []figure {
	type pair struct{ owner, warehouse int64 }
	var out []figure
	add := func(owner, name string, cents bool, values map[string]*pair) {
		for _, k := range slices.Sorted(maps.Keys(values)) {
			v := values[k]
			out = append(out, figure{Name: strings.TrimSpace(name + " " + k), Owner: owner, OwnerValue: v.owner, Warehouse: v.warehouse,
				Difference: v.warehouse - v.owner, cents: cents})
		}
	}
	side := func(m map[string]*pair, k string) *pair {
		if m[k] == nil {
			m[k] = &pair{}
		}
		return m[k]
	}

	// Orders: count and value by status and currency.
	count, value := map[string]*pair{}, map[string]*pair{}
	for _, t := range s.owners.Orders.ByStatus {
		k := t.Status + " " + t.Currency
		side(count, k).owner += t.Orders
		side(value, k).owner += t.ValueCents
	}
	for _, t := range s.warehouse.Orders {
		k := t.Status + " " + t.Currency
		side(count, k).warehouse += t.Orders
		side(value, k).warehouse += t.ValueCents
	}
	add("orders", "orders", false, count)
	add("orders", "order value", true, value)

	// Payments and refunds, per currency.
	names := []string{"payments captured", "amount captured", "payments declined", "amount declined",
		"payments voided", "amount voided", "refunds issued", "amount refunded"}
	pay := map[string]map[string]*pair{}
	for _, n := range names {
		pay[n] = map[string]*pair{}
	}
	for _, t := range s.owners.Payments.ByCurrency {
		for i, v := range []int64{t.Captured, t.CapturedCents, t.Declined, t.DeclinedCents, t.Voided, t.VoidedCents, t.RefundsIssued, t.RefundedCents} {
			side(pay[names[i]], t.Currency).owner += v
		}
	}
	for _, t := range s.warehouse.Payments {
		for i, v := range []int64{t.Captured, t.CapturedCents, t.Declined, t.DeclinedCents, t.Voided, t.VoidedCents, t.RefundsIssued, t.RefundedCents} {
			side(pay[names[i]], t.Currency).warehouse += v
		}
	}
	for _, n := range names {
		add("payments", n, strings.HasPrefix(n, "amount"), pay[n])
	}

	// Shipments.
	f, w := s.owners.Fulfillment, s.warehouse.Shipments
	add("fulfillment", "shipments created", false, map[string]*pair{"": {f.Shipments, w.Shipments}})
	add("fulfillment", "shipments dispatched", false, map[string]*pair{"": {f.Dispatched, w.Dispatched}})
	add("fulfillment", "units dispatched", false, map[string]*pair{"": {f.UnitsDispatched, w.UnitsDispatched}})

	// Stock: the sums, then every SKU.
	i := s.owners.Inventory
	add("inventory", "stock on hand, all SKUs", false, map[string]*pair{"": {i.OnHand, s.warehouse.OnHand}})
	add("inventory", "stock reserved, all SKUs", false, map[string]*pair{"": {i.Reserved, s.warehouse.Reserved}})
	onHand, reserved := map[string]*pair{}, map[string]*pair{}
	for _, t := range i.Stock {
		side(onHand, t.SKU).owner, side(reserved, t.SKU).owner = t.OnHand, t.Reserved
	}
	for _, t := range s.warehouse.Stock {
		side(onHand, t.SKU).warehouse, side(reserved, t.SKU).warehouse = t.OnHand, t.Reserved
	}
	add("inventory", "on hand", false, onHand)
	add("inventory", "reserved", false, reserved)

	// A figure both sides put at zero tells nothing (a currency with no
	// voided payment, a SKU with nothing reserved): leave it out.
	return slices.DeleteFunc(out, func(f figure) bool { return f.OwnerValue == 0 && f.Warehouse == 0 })
}

// reconcile waits for a consistent point, compares and prints.
func (m *Main) reconcile(ctx context.Context, cfg reconcileConfig) error {
	c := shopClient{base: cfg.base, token: cfg.token}
	start := time.Now()
	deadline := start.Add(cfg.wait)
	var last string
	var lastShown time.Time
	for {
		s, why, err := c.read(ctx)
		if err != nil {
			return exitError{exitNoVerdict, fmt.Errorf("reconcile: %w", err)}
		}
		if why == "" {
			if last != "" {
				fmt.Fprintf(m.Stderr, "reconcile: consistent after %s\n", time.Since(start).Round(time.Millisecond))
			}
			return m.printReconcile(s, compare(s), cfg.format)
		}
		if time.Now().After(deadline) {
			return exitError{exitNoVerdict, fmt.Errorf("reconcile: no consistent point within %s (nothing compared): %s", cfg.wait, why)}
		}
		// Progress: each new reason, and the same one again every 2 s.
		if why != last || time.Since(lastShown) >= 2*time.Second {
			fmt.Fprintf(m.Stderr, "reconcile: waiting for a consistent point (%s): %s\n", time.Since(start).Round(time.Second), why)
			last, lastShown = why, time.Now()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(cfg.poll):
		}
	}
}

// reconcileJSON is `bounded reconcile --format json`'s output.
type reconcileJSON struct {
	// Outbox is each owner's outbox position at the consistent point.
	Outbox      map[string]int64          `json:"outbox_recorded"`
	Watermarks  []reporting.StreamApplied `json:"watermarks"`
	Figures     []figure                  `json:"figures"`
	Differences int                       `json:"differences"`
	// PaymentsOutcomeUnknown counts the payments called off whose gateway
	// outcome is still being looked up (see printReconcile).
	PaymentsOutcomeUnknown int64 `json:"payments_outcome_unknown"`
}

// printReconcile prints the figures; it returns exitError 1 when any
// differs.
func (m *Main) printReconcile(s snapshot, figs []figure, format string) error {
	diffs := 0
	for _, f := range figs {
		if f.Difference != 0 {
			diffs++
		}
	}
	// Payments called off while a gateway call's outcome was unknown are
	// looked up until settled; one found charged is captured and refunded
	// then. The figures agree now; say that some may still move.
	var unknown int64
	for _, t := range s.owners.Payments.ByCurrency {
		unknown += t.OutcomeUnknown
	}
	if format == "json" {
		out := reconcileJSON{Outbox: map[string]int64{}, Watermarks: s.warehouse.Watermarks, Figures: figs, Differences: diffs,
			PaymentsOutcomeUnknown: unknown}
		for svc, p := range s.owners.positions() {
			out.Outbox[svc] = p[1]
		}
		b, err := json.MarshalIndent(out, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintln(m.Stdout, string(b))
	} else {
		var applied int64
		for _, w := range s.warehouse.Watermarks {
			applied += w.EventsApplied
		}
		fmt.Fprintf(m.Stdout, "reconcile: owners' APIs against the warehouse, at a consistent point (outboxes empty, %d events applied)\n", applied)
		t := table{header: []string{"FIGURE", "OWNER", "OWNER'S VALUE", "WAREHOUSE'S VALUE", "DIFFERENCE"}}
		for _, f := range figs {
			show := strconv.FormatInt
			if f.cents {
				show = func(v int64, _ int) string { return money(v) }
			}
			d := "-"
			if f.Difference != 0 {
				d = show(f.Difference, 10)
				if f.Difference > 0 {
					d = "+" + d
				}
			}
			t.add(f.Name, f.Owner, show(f.OwnerValue, 10), show(f.Warehouse, 10), d)
		}
		if err := t.write(m.Stdout); err != nil {
			return err
		}
		if unknown > 0 {
			fmt.Fprintf(m.Stdout, "note: %d payments called off while a gateway call's outcome was unknown are still being looked up; "+
				"one found charged will be captured and refunded, moving the captured and refunded figures together\n", unknown)
		}
		if diffs == 0 {
			fmt.Fprintln(m.Stdout, "no differences")
		} else {
			fmt.Fprintf(m.Stdout, "%s:\n", differences(diffs))
			for _, f := range figs {
				if f.Difference != 0 {
					o, w := strconv.FormatInt(f.OwnerValue, 10), strconv.FormatInt(f.Warehouse, 10)
					if f.cents {
						o, w = money(f.OwnerValue), money(f.Warehouse)
					}
					fmt.Fprintf(m.Stdout, "  %s: %s says %s, the warehouse %s\n", f.Name, f.Owner, o, w)
				}
			}
		}
	}
	if diffs > 0 {
		return exitError{1, fmt.Errorf("reconcile: %s between the owners and the warehouse", differences(diffs))}
	}
	return nil
}

func differences(n int) string {
	if n == 1 {
		return "1 difference"
	}
	return strconv.Itoa(n) + " differences"
}
