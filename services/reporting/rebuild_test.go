package reporting_test

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bounded-dev/bounded/platform/contract"
	"github.com/bounded-dev/bounded/platform/servicetest"
	"github.com/bounded-dev/bounded/platform/sqldb"
	"github.com/bounded-dev/bounded/services/reporting"
)

// snapshot is everything the warehouse answers that a rebuild must give
// back: every report, the order histories, the watermarks' counts.
type snapshot struct {
	reports    map[string]any
	histories  map[string][]reporting.HistoryOrder
	watermarks map[string]int64
}

func (w *warehouse) snapshot(t *testing.T) snapshot {
	t.Helper()
	s := snapshot{reports: map[string]any{}, histories: map[string][]reporting.HistoryOrder{}, watermarks: map[string]int64{}}
	for _, name := range reporting.Reports {
		var v any
		w.report(t, name, "", &v)
		s.reports[name] = v
	}
	for _, email := range []string{"ada@example.com", "bob@example.com", "cy@example.com"} {
		s.histories[email] = stripFreshness(w.history(t, email))
	}
	for stream, wm := range w.watermarks(t) {
		s.watermarks[stream] = wm.EventsApplied
	}
	return s
}

// rebuild runs a rebuild through the API and waits for its end.
func (w *warehouse) rebuild(t *testing.T) reporting.RebuildStatus {
	t.Helper()
	var started struct {
		RebuildID string `json:"rebuild_id"`
		Status    string `json:"status"`
	}
	w.MustJSON(t, "POST", "/reporting/admin/rebuild", nil, true, http.StatusAccepted, &started)
	var st reporting.RebuildStatus
	servicetest.Eventually(t, 30*time.Second, "the rebuild to end", func() bool {
		w.MustJSON(t, "GET", started.Status, nil, true, http.StatusOK, &st)
		return st.State != "running"
	})
	if st.State != "done" || st.RebuildID != started.RebuildID {
		t.Fatalf("rebuild %s: %+v", started.RebuildID, st)
	}
	return st
}

// TestRebuild loads a scenario through the live consumers, rebuilds the
// warehouse from the streams, and finds every report, order history and
// watermark count as before; then live consumption goes on from where the
// replay ended: an event published after is applied once.
func TestRebuild(t *testing.T) {
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		w := start(t, d)
		sc := newScenario(t)
		w.load(t, sc.events...)
		before := w.snapshot(t)

		st := w.rebuild(t)
		if st.EventsApplied != int64(len(sc.events)) || st.EventsTotal != int64(len(sc.events)) {
			t.Errorf("rebuild applied %d of %d events, want %d", st.EventsApplied, st.EventsTotal, len(sc.events))
		}
		after := w.snapshot(t)
		checkScenario(t, w)
		if !reflect.DeepEqual(before, after) {
			t.Errorf("the rebuilt warehouse differs:\n before: %+v\n after: %+v", before, after)
		}

		// Live again, from the replay's end: a new event counts once, and
		// none of the replayed events comes again.
		o5 := newID(t)
		w.load(t, confirmed(t, o5, "dee@example.com", day2, line{"A", 1, 500}))
		wm := w.watermarks(t)
		if got, want := wm["orders"].EventsApplied, before.watermarks["orders"]+1; got != want {
			t.Errorf("orders' watermark after the rebuild and one more event: %d events, want %d", got, want)
		}
		if h := w.history(t, "dee@example.com"); len(h) != 1 {
			t.Errorf("order history of the order after the rebuild: %+v", h)
		}

		// A second rebuild gives the same again, the new order included.
		w.rebuild(t)
		if got := w.watermarks(t)["orders"].EventsApplied; got != before.watermarks["orders"]+1 {
			t.Errorf("orders' watermark after a second rebuild: %d", got)
		}
	})
}

// TestRebuildWithTwoReplicas: two replicas share the live consumers
// (PostgreSQL). One runs a rebuild while events keep coming: the other's
// live consumers must apply nothing into the warehouse being rebuilt (it
// pauses them when it sees the rebuild, and until then its handlers back
// off), so every event counts once — applied by the replay or, after it,
// by either replica — and both replicas consume again afterwards.
func TestRebuildWithTwoReplicas(t *testing.T) {
	w := start(t, sqldb.Postgres)
	w.replica = servicetest.StartReplica(t, w.Harness, reporting.Spec(reporting.Config{}))
	// A backlog large enough that the rebuild takes a while.
	const backlog, during, after = 1500, 300, 20
	var events []contract.Event
	for i := range backlog {
		events = append(events, confirmed(t, newID(t), fmt.Sprintf("early-%d@example.com", i), day1, line{"A", 1, 500}))
	}
	w.load(t, events...)
	handled := func(m interface {
		Metric(testing.TB, string, ...string) float64
	}) float64 {
		return m.Metric(t, "bounded_inbox_handled_total", "service", "reporting")
	}
	if a, b := handled(w.Harness), handled(w.replica); a == 0 || b == 0 {
		t.Fatalf("before the rebuild the replicas handled %v and %v events; want both some", a, b)
	}
	ordersBefore := w.watermarks(t)["orders"].EventsApplied

	var started struct {
		Status string `json:"status"`
	}
	w.MustJSON(t, "POST", "/reporting/admin/rebuild", nil, true, http.StatusAccepted, &started)
	for i := range during { // while the rebuild runs, and on after it
		w.Inject(t, confirmed(t, newID(t), fmt.Sprintf("during-%d@example.com", i), day2, line{"A", 1, 500}))
	}
	var st reporting.RebuildStatus
	servicetest.Eventually(t, 60*time.Second, "the rebuild to end", func() bool {
		w.MustJSON(t, "GET", started.Status, nil, true, http.StatusOK, &st)
		return st.State != "running"
	})
	if st.State != "done" {
		t.Fatalf("rebuild: %+v", st)
	}
	t.Logf("the rebuild replayed %d events; %d more were published during it", st.EventsApplied, during)

	// Both replicas consume again (the other resumes within a second of
	// the end): events after the rebuild reach each.
	w.WaitConsuming(t, reporting.Spec(reporting.Config{}))
	a0, b0 := handled(w.Harness), handled(w.replica)
	for i := range after {
		w.Inject(t, confirmed(t, newID(t), fmt.Sprintf("after-%d@example.com", i), day2, line{"A", 1, 500}))
	}
	want := ordersBefore + during + after
	servicetest.Eventually(t, 30*time.Second, fmt.Sprintf("%d order events applied", want), func() bool {
		return w.watermarks(t)["orders"].EventsApplied >= want
	})
	time.Sleep(1500 * time.Millisecond) // room for a late second application
	if got := w.watermarks(t)["orders"].EventsApplied; got != want {
		t.Fatalf("orders' watermark: %d events applied, want %d (%d before the rebuild, %d during, %d after): an event was applied twice or lost",
			got, want, ordersBefore, during, after)
	}
	for _, email := range []string{"early-0@example.com", "during-0@example.com", fmt.Sprintf("during-%d@example.com", during-1), "after-0@example.com"} {
		if h := w.history(t, email); len(h) != 1 {
			t.Errorf("order history of %s: %d orders, want 1", email, len(h))
		}
	}
	if a, b := handled(w.Harness)-a0, handled(w.replica)-b0; a == 0 || b == 0 {
		t.Errorf("after the rebuild the replicas handled %v and %v new events; want both some", a, b)
	}
}

// TestReadsDuringARebuildSayServiceUnavailable: while the row says a
// rebuild runs, the reports answer 503 with Retry-After.
func TestRebuildConflictAndStatus(t *testing.T) {
	w := start(t, sqldb.SQLite)
	var st reporting.RebuildStatus
	w.MustJSON(t, "GET", "/reporting/admin/rebuild", nil, true, http.StatusOK, &st)
	if st.State != "idle" {
		t.Errorf("before any rebuild: state %q, want idle", st.State)
	}
	w.MustProblem(t, "POST", "/reporting/admin/rebuild", nil, false, http.StatusUnauthorized)
	w.MustProblem(t, "GET", "/reporting/admin/rebuild/nope", nil, true, http.StatusNotFound)
	w.rebuild(t)
}

// TestRebuildGivesTheLiveTables loads a scenario live in reverse order,
// with every fact sent twice (under new ids), then rebuilds: every
// warehouse table holds the same rows as the live path left, column by
// column, but for the columns the service's clock writes (applied_at) and
// the order history's last event time, which tells the order the events
// were applied in, not what they say.
func TestRebuildGivesTheLiveTables(t *testing.T) {
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		w := start(t, d)
		sc := newScenario(t)
		reversed := slices.Clone(sc.events)
		slices.Reverse(reversed)
		w.loadInOrder(t, reversed...)
		for _, e := range sc.events {
			w.load(t, again(t, e))
		}
		db, err := sqldb.Open(context.Background(), sqldb.Config{DSN: w.DSNs["reporting"]})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		before := tableRows(t, db)
		w.rebuild(t)
		after := tableRows(t, db)
		for table, rows := range before {
			if len(rows) == 0 {
				t.Errorf("%s: no rows; the scenario should fill it", table)
			}
			if !reflect.DeepEqual(rows, after[table]) {
				t.Errorf("%s differs after the rebuild:\n live:    %q\n rebuilt: %q", table, rows, after[table])
			}
		}
	})
}

// clockColumns are the columns that depend on when an event was applied.
var clockColumns = map[string]bool{"applied_at": true, "last_applied_at": true, "order_history.last_event_at": true}

// tableRows returns every warehouse table's rows, each as text, sorted.
func tableRows(t *testing.T, db *sqldb.DB) map[string][]string {
	t.Helper()
	ctx := context.Background()
	out := map[string][]string{}
	for _, table := range []string{"dim_category", "dim_product", "dim_date", "fact_checkout", "fact_order", "fact_order_line",
		"fact_payment", "fact_refund", "fact_reservation", "fact_stockout", "fact_shipment", "fact_stock_movement",
		"fact_purchase_order", "watermarks", "order_history", "order_history_entries"} {
		rows, err := db.Reader().QueryContext(ctx, `SELECT * FROM `+table)
		if err != nil {
			t.Fatal(err)
		}
		cols, err := rows.Columns()
		if err != nil {
			t.Fatal(err)
		}
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		var texts []string
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for i, c := range cols {
				if clockColumns[c] || clockColumns[table+"."+c] {
					continue
				}
				v := vals[i]
				if bs, ok := v.([]byte); ok {
					v = string(bs)
				}
				fmt.Fprintf(&b, "%s=%v ", c, v)
			}
			texts = append(texts, b.String())
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		slices.Sort(texts)
		out[table] = texts
	}
	return out
}

// TestEventsBehindARebuildCountOnce (PostgreSQL): after a rebuild, the
// Orders consumer is rewound by hand to the stream's first message — as a
// consumer that a replica made again at its own start, or messages a
// replica fetched before the rebuild and held, would deliver them. Every
// one of those events was applied by the replay, and its inbox row went
// with the old warehouse: the fence must ack them without an effect.
func TestEventsBehindARebuildCountOnce(t *testing.T) {
	w := start(t, sqldb.Postgres)
	sc := newScenario(t)
	w.load(t, sc.events...)
	w.rebuild(t)
	before := w.snapshot(t)

	ctx := context.Background()
	stream, _ := w.Host.StreamOf("orders")
	st, err := w.JS.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	names := st.ConsumerNames(ctx)
	var durable string
	for n := range names.Name() {
		durable = n
	}
	if durable == "" {
		t.Fatalf("no consumer on %s", stream)
	}
	cons, err := st.Consumer(ctx, durable)
	if err != nil {
		t.Fatal(err)
	}
	cfg := cons.CachedInfo().Config
	cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverAllPolicy, 0
	servicetest.Eventually(t, 10*time.Second, "the consumer rewound", func() bool {
		_ = st.DeleteConsumer(ctx, durable)
		c, err := st.CreateConsumer(ctx, cfg) // the live consumer may make it again first
		return err == nil && c.CachedInfo().Config.DeliverPolicy == jetstream.DeliverAllPolicy
	})
	orders := float64(before.watermarks["orders"])
	count := func(name string) float64 { return w.Metric(t, name, "service", "reporting") }
	d0, h0 := count("bounded_inbox_duplicates_total"), count("bounded_inbox_handled_total")
	// A live consumer whose consumer was made again under it may pull again
	// only when its pending pull expires (30 s): hence the long wait.
	servicetest.Eventually(t, 60*time.Second, fmt.Sprintf("the %v order events delivered again", orders), func() bool {
		return count("bounded_inbox_duplicates_total")-d0+count("bounded_inbox_handled_total")-h0 >= orders
	})
	if dups, handled := count("bounded_inbox_duplicates_total")-d0, count("bounded_inbox_handled_total")-h0; dups != orders || handled != 0 {
		t.Errorf("of %v order events delivered again, %v were acked without an effect and %v applied; want all without", orders, dups, handled)
	}
	if after := w.snapshot(t); !reflect.DeepEqual(before, after) {
		t.Fatalf("events the replay applied counted again:\n before: %+v\n after: %+v", before, after)
	}
}
