package reporting_test

import (
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/bounded-dev/bounded/platform/httpapi"
	"github.com/bounded-dev/bounded/platform/servicetest"
	"github.com/bounded-dev/bounded/platform/sqldb"
	ordersevents "github.com/bounded-dev/bounded/services/orders/events"
	"github.com/bounded-dev/bounded/services/reporting"
)

// TestLateArrivingDimensions: facts that name a product and a category
// before Catalog's events about them are reported at once (under an
// inferred member), and the real events complete them; an older product
// event arriving after a newer one changes nothing.
func TestLateArrivingDimensions(t *testing.T) {
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		w := start(t, d)
		order := newID(t)
		w.load(t, confirmed(t, order, "ada@example.com", day1, line{"LATE-1", 2, 700}))

		var p rows[reporting.SalesRow]
		w.report(t, "sales-by-product", "", &p)
		want := reporting.SalesRow{SKU: "LATE-1", Name: "Item LATE-1", Currency: "EUR", Orders: 1, Units: 2, GrossCents: 1400, NetCents: 1400}
		if len(p.Rows) != 1 || p.Rows[0] != want {
			t.Fatalf("before the product event: %+v, want [%+v]", p.Rows, want)
		}
		var c rows[reporting.SalesRow]
		w.report(t, "sales-by-category", "", &c)
		if len(c.Rows) != 1 || c.Rows[0].Category != "" || c.Rows[0].Name != "(unknown)" || c.Rows[0].GrossCents != 1400 {
			t.Fatalf("by category before the product event: %+v", c.Rows)
		}

		// The product arrives, naming a category not known yet.
		w.load(t, product(t, "LATE-1", "Late lamp", "lighting", 3))
		w.report(t, "sales-by-product", "", &p)
		want.Name, want.Category = "Late lamp", "lighting"
		if len(p.Rows) != 1 || p.Rows[0] != want {
			t.Fatalf("after the product event: %+v, want [%+v]", p.Rows, want)
		}
		w.report(t, "sales-by-category", "", &c)
		if len(c.Rows) != 1 || c.Rows[0].Category != "lighting" || c.Rows[0].Name != "lighting" {
			t.Fatalf("by category with an inferred category: %+v", c.Rows)
		}
		w.load(t, category(t, "lighting", "Lighting"))
		w.report(t, "sales-by-category", "", &c)
		if len(c.Rows) != 1 || c.Rows[0].Name != "Lighting" {
			t.Fatalf("by category after the category event: %+v", c.Rows)
		}

		// An older version of the product, late: kept out.
		w.load(t, product(t, "LATE-1", "Old lamp name", "kitchen", 2))
		w.report(t, "sales-by-product", "", &p)
		if p.Rows[0].Name != "Late lamp" || p.Rows[0].Category != "lighting" {
			t.Fatalf("an older product version overwrote a newer one: %+v", p.Rows[0])
		}
	})
}

// TestShipmentAndPaymentBeforeTheOrder: Fulfillment's and Payments' facts
// about an order arrive before Orders' confirmation. They are kept, and
// the order's reports and history are whole once it arrives.
func TestShipmentAndPaymentBeforeTheOrder(t *testing.T) {
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		w := start(t, d)
		order, pay, ship := newID(t), newID(t), newID(t)
		l := line{"EARLY", 1, 2500}
		w.loadInOrder(t,
			shipmentDispatched(t, ship, order, day1.Add(2*time.Hour), l),
			captured(t, pay, order, 2500, day1.Add(time.Minute)),
			orderShipped(t, order, day1.Add(2*time.Hour)),
		)
		var f funnelData
		w.report(t, "funnel", "", &f)
		if f.stages()["placed"] != 0 {
			t.Fatalf("an order not confirmed yet counts as placed: %v", f.stages())
		}
		if h := w.history(t, "ada@example.com"); len(h) != 0 {
			t.Fatalf("history before the confirmation: %+v", h)
		}
		var lt struct {
			Measures []reporting.LeadTime `json:"measures"`
		}
		w.report(t, "lead-time", "", &lt)
		if lt.Measures[0].Shipments != 0 {
			t.Fatalf("lead time without the confirmation: %+v", lt.Measures[0])
		}

		w.loadInOrder(t, confirmed(t, order, "Ada@Example.com", day1, l), shipmentCreated(t, ship, order, day1.Add(time.Hour), l))
		w.report(t, "funnel", "", &f)
		if got := f.stages(); got["placed"] != 1 || got["shipped"] != 1 {
			t.Fatalf("funnel: %v", got)
		}
		w.report(t, "lead-time", "", &lt)
		if m := lt.Measures[0]; m.Shipments != 1 || m.P50Seconds != 7200 {
			t.Fatalf("confirmed to dispatched: %+v", m)
		}
		if m := lt.Measures[1]; m.Shipments != 1 || m.P50Seconds != 3600 {
			t.Fatalf("created to dispatched: %+v", m)
		}
		h := w.history(t, "ada@example.com")
		if len(h) != 1 {
			t.Fatalf("history: %+v", h)
		}
		o := h[0]
		if o.OrderID != order || o.Status != "shipped" || o.PaymentStatus != "captured" || o.ShipmentStatus != "dispatched" ||
			o.TotalCents != 2500 || o.PaidCents != 2500 || len(o.Items) != 1 || len(o.Timeline) != 5 {
			t.Fatalf("history: %+v", o)
		}
	})
}

// TestDuplicates: an event delivered twice (same id, past JetStream's
// duplicate window) is applied once by the inbox; the same fact under a
// second event id is one fact, because every load is idempotent on its
// natural key. The watermark counts events, not facts.
func TestDuplicates(t *testing.T) {
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		w := start(t, d)
		sc := newScenario(t)
		w.load(t, sc.events...)
		marks := w.watermarks(t)

		var before []any
		for _, name := range reporting.Reports {
			var v any
			w.report(t, name, "", &v)
			before = append(before, v)
		}
		hist := stripFreshness(w.history(t, "ada@example.com"))

		for _, e := range sc.events {
			w.redeliver(t, e) // same id: the inbox drops it
		}
		if got := w.Metric(t, "bounded_inbox_duplicates_total", "service", "reporting"); int(got) != len(sc.events) {
			t.Fatalf("%v duplicates dropped, want %d", got, len(sc.events))
		}
		for _, e := range sc.events {
			w.load(t, again(t, e)) // the same facts, new ids
		}
		for i, name := range reporting.Reports {
			var v any
			w.report(t, name, "", &v)
			if !reflect.DeepEqual(v, before[i]) {
				t.Errorf("%s changed when the same facts came again:\n before %v\n  after %v", name, before[i], v)
			}
		}
		if got := stripFreshness(w.history(t, "ada@example.com")); !reflect.DeepEqual(got, hist) {
			t.Errorf("order history changed when the same facts came again:\n before %+v\n  after %+v", hist, got)
		}
		after := w.watermarks(t)
		total := 0
		for stream, m := range after {
			total += int(m.EventsApplied)
			if m.EventsApplied != 2*marks[stream].EventsApplied {
				t.Errorf("watermark %s: %d events applied, want %d (each event once, the second ids included)", stream, m.EventsApplied, 2*marks[stream].EventsApplied)
			}
		}
		if total != 2*len(sc.events) {
			t.Errorf("watermarks count %d events, want %d", total, 2*len(sc.events))
		}
	})
}

// TestWatermarks: one per source stream, with the newest event time.
func TestWatermarks(t *testing.T) {
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		w := start(t, d)
		sc := newScenario(t)
		w.load(t, sc.events...)
		counts, newest := map[string]int64{}, map[string]time.Time{}
		for _, e := range sc.events {
			src := e.Source[1:] // "/orders"
			counts[src]++
			if e.Time.After(newest[src]) {
				newest[src] = e.Time
			}
		}
		marks := w.watermarks(t)
		if len(marks) != len(counts) {
			t.Fatalf("watermarks %+v, want one for each of %v", marks, counts)
		}
		for src, n := range counts {
			m := marks[src]
			if m.EventsApplied != n || !m.LastEventAt.Equal(newest[src].Truncate(time.Millisecond)) || m.LastAppliedAt.Before(m.LastEventAt) {
				t.Errorf("watermark %s: %+v, want %d events, the newest at %s", src, m, n, newest[src])
			}
		}
	})
}

// TestBadEventsAreDeadLettered: an event the warehouse cannot load is
// dead-lettered at once, never dropped, and loads nothing.
func TestBadEventsAreDeadLettered(t *testing.T) {
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		w := start(t, d)
		bad := must(ordersevents.NewOrderConfirmed(ordersevents.OrderConfirmedV1{CustomerEmail: "ada@example.com", Currency: "EUR", ConfirmedAt: day1}))
		w.load(t, bad)
		if got := w.Metric(t, "bounded_inbox_dead_letters_total", "service", "reporting"); got != 1 {
			t.Fatalf("%v dead letters, want 1", got)
		}
		var p rows[reporting.SalesRow]
		w.report(t, "sales-by-day", "", &p)
		if len(p.Rows) != 0 {
			t.Fatalf("a dead-lettered event loaded %+v", p.Rows)
		}
	})
}

// TestReadModel: the order history with statuses, amounts, timeline and
// freshness, and the lag metric.
func TestReadModel(t *testing.T) {
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		w := start(t, d)
		sc := newScenario(t)
		w.load(t, sc.events...)
		h := w.history(t, "ADA@example.com")
		if len(h) != 2 || h[0].OrderID != sc.O3 || h[1].OrderID != sc.O1 {
			t.Fatalf("ada's history: %+v, want O3 then O1", h)
		}
		o3, o1 := h[0], h[1]
		if o3.Status != "cancelled" || o3.CancelReason != "out_of_stock" || o3.PaymentStatus != "refunded" ||
			o3.PaidCents != 500 || o3.RefundedCents != 500 || o3.ShipmentStatus != "none" {
			t.Errorf("O3: %+v", o3)
		}
		if o1.Status != "shipped" || o1.PaymentStatus != "captured" || o1.ShipmentStatus != "dispatched" || o1.TotalCents != 2000 ||
			len(o1.Items) != 2 || o1.Items[0].SKU != "A" {
			t.Errorf("O1: %+v", o1)
		}
		var kinds []string
		for _, e := range o1.Timeline {
			kinds = append(kinds, e.Kind)
			if e.EventAt.IsZero() || e.AppliedAt.Before(e.EventAt.Truncate(time.Millisecond)) {
				t.Errorf("O1 entry %+v: applied before its event was created", e)
			}
		}
		// By time, then by kind: the capture and order_paid share a time, as do the dispatch and order_shipped.
		wantKinds := []string{"order_confirmed", "order_paid", "payment_captured", "order_reserved", "shipment_created", "order_shipped", "shipment_dispatched"}
		if !reflect.DeepEqual(kinds, wantKinds) {
			t.Errorf("O1 timeline %v, want %v", kinds, wantKinds)
		}
		for _, o := range h {
			f := o.Freshness
			if f.LastEventAt.IsZero() || f.AppliedAt.Before(f.LastEventAt) || f.LagMillis != f.AppliedAt.Sub(f.LastEventAt).Milliseconds() {
				t.Errorf("%s freshness %+v", o.OrderID, f)
			}
		}
		if bob := w.history(t, "bob@example.com"); len(bob) != 1 || bob[0].PaymentStatus != "declined" || bob[0].Status != "cancelled" {
			t.Errorf("bob's history: %+v", bob)
		}
		if none := w.history(t, "nobody@example.com"); len(none) != 0 {
			t.Errorf("nobody's history: %+v", none)
		}
		// Every Orders, Payments and Fulfillment event was measured.
		n := 0
		for _, e := range sc.events {
			switch e.Source {
			case "/orders", "/payments", "/fulfillment":
				n++
			}
		}
		if got := w.Metric(t, "bounded_reporting_read_model_lag_seconds", "service", "reporting"); int(got) != n {
			t.Errorf("lag observed %v times, want %d", got, n)
		}
	})
}

// TestAPI: the routes are the OpenAPI document's, and bad queries are
// problems that say what is wrong.
func TestAPI(t *testing.T) {
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		w := start(t, d)
		spec := reporting.Spec(reporting.Config{})
		if err := httpapi.CheckOpenAPI(spec.OpenAPI, w.Host.Routes("reporting")); err != nil {
			t.Fatal(err)
		}
		var list struct {
			Reports []string `json:"reports"`
		}
		w.MustJSON(t, "GET", "/reporting/reports", nil, false, http.StatusOK, &list)
		if !reflect.DeepEqual(list.Reports, reporting.Reports) {
			t.Fatalf("reports %v", list.Reports)
		}
		for _, tc := range []struct {
			path   string
			status int
		}{
			{"/reporting/reports/sales-by-day?from=yesterday", 400},
			{"/reporting/reports/sales-by-day?from=2026-03-04&to=2026-03-03", 400},
			{"/reporting/reports/sales-by-day?to=2026-02-30", 400},
			{"/reporting/reports/sales-by-product?limit=0", 400},
			{"/reporting/reports/sales-by-product?limit=1001", 400},
			{"/reporting/reports/sales-by-product?limit=x", 400},
			{"/reporting/reports/sales-by-product?form=2026-03-01", 400},
			{"/reporting/reports/sales-by-day?from=2026-03-01&from=2026-03-02", 400},
			{"/reporting/reports/funnel?limit=5", 400},
			{"/reporting/reports/revenue", 404},
			{"/reporting/order-history", 400},
			{"/reporting/order-history?customer_email=not-an-email", 400},
			{"/reporting/order-history?customer_email=ada@example.com&limit=-1", 400},
			{"/reporting/watermarks?x=1", 400},
			{"/reporting/reports/funnel/extra", 404},
		} {
			w.MustProblem(t, "GET", tc.path, nil, false, tc.status)
		}
		w.MustProblem(t, "POST", "/reporting/reports/funnel", nil, false, http.StatusMethodNotAllowed)
		// An empty warehouse answers with empty reports, not errors.
		for _, name := range reporting.Reports {
			var v any
			w.report(t, name, "from=2026-01-01&to=2026-12-31", &v)
		}
		var wm struct {
			Streams []reporting.Watermark `json:"streams"`
		}
		w.MustJSON(t, "GET", "/reporting/watermarks", nil, false, http.StatusOK, &wm)
		if wm.Streams == nil || len(wm.Streams) != 0 {
			t.Fatalf("watermarks of an empty warehouse: %+v", wm)
		}
	})
}
