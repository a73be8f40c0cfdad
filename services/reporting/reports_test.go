package reporting_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/bounded-dev/bounded/platform/contract"
	"github.com/bounded-dev/bounded/platform/servicetest"
	"github.com/bounded-dev/bounded/platform/sqldb"
	inventoryevents "github.com/bounded-dev/bounded/services/inventory/events"
	ordersevents "github.com/bounded-dev/bounded/services/orders/events"
	"github.com/bounded-dev/bounded/services/reporting"
)

var (
	day1 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	day2 = time.Date(2026, 3, 3, 9, 0, 0, 0, time.UTC)
)

// scenario is a small shop's two days, whose figures the tests below know:
//
//	day 1  O1 ada: A×2 at 5.00, B×1 at 10.00: paid, reserved, shipped (1 h after confirmation)
//	       O2 bob: C×1 at 30.00: declined (card_declined), cancelled, reservation released
//	day 2  O3 ada: A×1 at 5.00: out of stock, cancelled after capture, refunded
//	       O4 cy:  B×3 at 10.00: paid, shipped (3 h after confirmation)
//	       purchase order PO1 for 50 A placed and received, PO2 for B flagged
type scenario struct {
	O1, O2, O3, O4 string
	events         []contract.Event
}

func newScenario(t testing.TB) scenario {
	s := scenario{O1: newID(t), O2: newID(t), O3: newID(t), O4: newID(t)}
	p1, p2, p3, p4 := newID(t), newID(t), newID(t), newID(t)
	sh1, sh4, po1, po2 := newID(t), newID(t), newID(t), newID(t)
	a, b, c := line{"A", 2, 500}, line{"B", 1, 1000}, line{"C", 1, 3000}
	a1, b3 := line{"A", 1, 500}, line{"B", 3, 1000}
	s.events = []contract.Event{
		category(t, "kitchen", "Kitchen"), category(t, "textiles", "Textiles"),
		product(t, "A", "Mug", "kitchen", 1), product(t, "B", "Kettle", "kitchen", 1), product(t, "C", "Towel", "textiles", 1),

		checkedOut(t, s.O1, "ada@example.com", day1.Add(-time.Minute), a, b),
		confirmed(t, s.O1, "ada@example.com", day1, a, b),
		captured(t, p1, s.O1, 2000, day1.Add(time.Minute)),
		orderPaid(t, s.O1, 2000, day1.Add(time.Minute)),
		reservationConfirmed(t, s.O1, day1.Add(time.Minute), a, b),
		orderReserved(t, s.O1, day1.Add(2*time.Minute)),
		shipmentCreated(t, sh1, s.O1, day1.Add(10*time.Minute), a, b),
		shipmentDispatched(t, sh1, s.O1, day1.Add(time.Hour), a, b),
		orderShipped(t, s.O1, day1.Add(time.Hour)),

		confirmed(t, s.O2, "bob@example.com", day1.Add(time.Hour), c),
		reservationConfirmed(t, s.O2, day1.Add(61*time.Minute), c),
		declined(t, p2, s.O2, 3000, "card_declined", day1.Add(62*time.Minute)),
		orderCancelled(t, s.O2, ordersevents.ReasonPaymentDeclined, ordersevents.StatusConfirmed, 3000, day1.Add(63*time.Minute)),
		reservationReleased(t, s.O2, day1.Add(64*time.Minute), c),

		confirmed(t, s.O3, "ada@example.com", day2, a1),
		reservationFailed(t, s.O3, "A", 1, 0, day2.Add(time.Minute)),
		captured(t, p3, s.O3, 500, day2.Add(time.Minute)),
		orderCancelled(t, s.O3, ordersevents.ReasonOutOfStock, ordersevents.StatusConfirmed, 500, day2.Add(2*time.Minute)),
		refunded(t, newID(t), p3, s.O3, 500, day2.Add(3*time.Minute)),

		confirmed(t, s.O4, "cy@example.com", day2.Add(time.Hour), b3),
		captured(t, p4, s.O4, 3000, day2.Add(61*time.Minute)),
		orderPaid(t, s.O4, 3000, day2.Add(61*time.Minute)),
		shipmentCreated(t, sh4, s.O4, day2.Add(3*time.Hour), b3),
		shipmentDispatched(t, sh4, s.O4, day2.Add(4*time.Hour), b3),
		orderShipped(t, s.O4, day2.Add(4*time.Hour)),

		poPlaced(t, po1, "A", 50, day2.Add(5*time.Minute)),
		stockChanged(t, "A", 50, 50, inventoryevents.StockPurchaseOrderReceived, po1, day2.Add(6*time.Hour)),
		poFlagged(t, po2, "B", day2.Add(5*time.Minute)),
		stockChanged(t, "C", 5, 105, inventoryevents.StockAdjustment, "", day2.Add(7*time.Hour)),
	}
	return s
}

type funnelData struct {
	CheckedOut int64 `json:"checked_out"`
	Stages     []struct {
		Stage  string  `json:"stage"`
		Orders int64   `json:"orders"`
		Share  float64 `json:"share_of_placed"`
	} `json:"stages"`
	Cancellations []reporting.ReasonCount `json:"cancellations"`
}

func (f funnelData) stages() map[string]int64 {
	m := map[string]int64{}
	for _, s := range f.Stages {
		m[s.Stage] = s.Orders
	}
	return m
}

type rows[T any] struct {
	Rows []T `json:"rows"`
}

// TestReportsFromKnownInputs checks every report's figures against the
// scenario's, loaded with the events of all producers racing each other.
func TestReportsFromKnownInputs(t *testing.T) {
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		w := start(t, d)
		sc := newScenario(t)
		w.load(t, sc.events...)
		checkScenario(t, w)
	})
}

func checkScenario(t *testing.T, w *warehouse) {
	t.Helper()
	var byDay rows[reporting.SalesRow]
	w.report(t, "sales-by-day", "", &byDay)
	want := []reporting.SalesRow{
		{Day: "2026-03-02", Currency: "EUR", Orders: 2, Units: 4, GrossCents: 5000, CancelledCents: 3000, NetCents: 2000},
		{Day: "2026-03-03", Currency: "EUR", Orders: 2, Units: 4, GrossCents: 3500, CancelledCents: 500, NetCents: 3000},
	}
	if !reflect.DeepEqual(byDay.Rows, want) {
		t.Errorf("sales by day:\n got %+v\nwant %+v", byDay.Rows, want)
	}
	w.report(t, "sales-by-day", "from=2026-03-03&to=2026-03-03", &byDay)
	if !reflect.DeepEqual(byDay.Rows, want[1:]) {
		t.Errorf("sales by day on 2026-03-03:\n got %+v\nwant %+v", byDay.Rows, want[1:])
	}

	var byProduct rows[reporting.SalesRow]
	w.report(t, "sales-by-product", "", &byProduct)
	want = []reporting.SalesRow{
		{SKU: "B", Name: "Kettle", Category: "kitchen", Currency: "EUR", Orders: 2, Units: 4, GrossCents: 4000, NetCents: 4000},
		{SKU: "A", Name: "Mug", Category: "kitchen", Currency: "EUR", Orders: 2, Units: 3, GrossCents: 1500, CancelledCents: 500, NetCents: 1000},
		{SKU: "C", Name: "Towel", Category: "textiles", Currency: "EUR", Orders: 1, Units: 1, GrossCents: 3000, CancelledCents: 3000},
	}
	if !reflect.DeepEqual(byProduct.Rows, want) {
		t.Errorf("sales by product:\n got %+v\nwant %+v", byProduct.Rows, want)
	}
	w.report(t, "sales-by-product", "limit=1", &byProduct)
	if len(byProduct.Rows) != 1 || byProduct.Rows[0].SKU != "B" {
		t.Errorf("sales by product, limit 1: %+v", byProduct.Rows)
	}

	var byCategory rows[reporting.SalesRow]
	w.report(t, "sales-by-category", "", &byCategory)
	want = []reporting.SalesRow{
		{Category: "kitchen", Name: "Kitchen", Currency: "EUR", Orders: 3, Units: 7, GrossCents: 5500, CancelledCents: 500, NetCents: 5000},
		{Category: "textiles", Name: "Textiles", Currency: "EUR", Orders: 1, Units: 1, GrossCents: 3000, CancelledCents: 3000},
	}
	if !reflect.DeepEqual(byCategory.Rows, want) {
		t.Errorf("sales by category:\n got %+v\nwant %+v", byCategory.Rows, want)
	}

	var f funnelData
	w.report(t, "funnel", "", &f)
	wantStages := map[string]int64{"placed": 4, "confirmed": 4, "paid": 2, "reserved": 1, "shipped": 2, "cancelled": 2}
	if f.CheckedOut != 1 || !reflect.DeepEqual(f.stages(), wantStages) {
		t.Errorf("funnel: checked out %d, stages %v; want 1, %v", f.CheckedOut, f.stages(), wantStages)
	}
	wantReasons := []reporting.ReasonCount{{Reason: "out_of_stock", Count: 1}, {Reason: "payment_declined", Count: 1}}
	if !reflect.DeepEqual(f.Cancellations, wantReasons) {
		t.Errorf("cancellations: %+v, want %+v", f.Cancellations, wantReasons)
	}
	w.report(t, "funnel", "from=2026-03-02&to=2026-03-02", &f)
	if got := f.stages(); got["placed"] != 2 || got["shipped"] != 1 || got["cancelled"] != 1 {
		t.Errorf("funnel on day 1: %v", got)
	}

	var p reporting.Payments
	w.report(t, "payments", "", &p)
	if p.Captured != 3 || p.Declined != 1 || p.Voided != 0 || p.DeclineRate != 0.25 ||
		p.Refunds != 1 || p.RefundedPayments != 1 || p.RefundRate != 0.3333 {
		t.Errorf("payments: %+v", p)
	}
	wantAmounts := []reporting.PaymentAmounts{{Currency: "EUR", CapturedCents: 5500, DeclinedCents: 3000, RefundedCents: 500}}
	if !reflect.DeepEqual(p.Amounts, wantAmounts) || !reflect.DeepEqual(p.DeclinesByReason, []reporting.ReasonCount{{Reason: "card_declined", Count: 1}}) {
		t.Errorf("payments: amounts %+v, declines %+v", p.Amounts, p.DeclinesByReason)
	}

	var lt struct {
		Measures []reporting.LeadTime `json:"measures"`
	}
	w.report(t, "lead-time", "", &lt)
	wantLT := []reporting.LeadTime{
		{Measure: "confirmed_to_dispatched", From: "orders.order_confirmed", To: "fulfillment.shipment_dispatched",
			Shipments: 2, P50Seconds: 3600, P95Seconds: 3 * 3600, MaxSeconds: 3 * 3600},
		{Measure: "created_to_dispatched", From: "fulfillment.shipment_created", To: "fulfillment.shipment_dispatched",
			Shipments: 2, P50Seconds: 50 * 60, P95Seconds: 3600, MaxSeconds: 3600},
	}
	if !reflect.DeepEqual(lt.Measures, wantLT) {
		t.Errorf("lead time:\n got %+v\nwant %+v", lt.Measures, wantLT)
	}

	var so reporting.Stockouts
	w.report(t, "stockouts", "", &so)
	if so.ReservationsConfirmed != 2 || so.ReservationsFailed != 1 || so.StockoutRate != 0.3333 || len(so.Rows) != 1 {
		t.Fatalf("stock-outs: %+v", so)
	}
	if r := so.Rows[0]; r.SKU != "A" || r.Name != "Mug" || r.Reason != "out_of_stock" || r.Orders != 1 ||
		r.UnitsRequested != 1 || r.UnitsShort != 1 || !r.LastAt.Equal(day2.Add(time.Minute)) {
		t.Errorf("stock-out row: %+v", r)
	}

	var po reporting.PurchaseOrders
	w.report(t, "purchase-orders", "", &po)
	wantPO := reporting.PurchaseOrders{Placed: 1, Flagged: 1, Received: 1, UnitsOrdered: 50, UnitsReceived: 50, Rows: []reporting.PurchaseOrderRow{
		{SKU: "A", Name: "Mug", Placed: 1, Received: 1, UnitsOrdered: 50, UnitsReceived: 50},
		{SKU: "B", Name: "Kettle", Flagged: 1},
	}}
	if !reflect.DeepEqual(po, wantPO) {
		t.Errorf("purchase orders:\n got %+v\nwant %+v", po, wantPO)
	}
	w.report(t, "purchase-orders", "to=2026-03-02", &po)
	if po.Placed+po.Flagged+po.Received != 0 || len(po.Rows) != 0 {
		t.Errorf("purchase orders before they were placed: %+v", po)
	}
}

// TestOrderOfArrivalDoesNotMatter loads the same events into two
// warehouses, one in the producers' order and one in reverse, one event at
// a time: every report and the order history come out the same (the
// property `bounded reporting rebuild` relies on).
func TestOrderOfArrivalDoesNotMatter(t *testing.T) {
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		sc := newScenario(t)
		forward, backward := start(t, d), start(t, d)
		forward.loadInOrder(t, sc.events...)
		reversed := slices.Clone(sc.events)
		slices.Reverse(reversed)
		backward.loadInOrder(t, reversed...)
		checkScenario(t, backward)
		for _, name := range reporting.Reports {
			var a, b any
			forward.report(t, name, "", &a)
			backward.report(t, name, "", &b)
			if !reflect.DeepEqual(a, b) {
				ja, _ := json.Marshal(a)
				jb, _ := json.Marshal(b)
				t.Errorf("%s differs:\n in order: %s\n reversed: %s", name, ja, jb)
			}
		}
		for _, email := range []string{"ada@example.com", "bob@example.com", "cy@example.com"} {
			a, b := stripFreshness(forward.history(t, email)), stripFreshness(backward.history(t, email))
			if !reflect.DeepEqual(a, b) {
				t.Errorf("order history of %s differs:\n in order: %+v\n reversed: %+v", email, a, b)
			}
		}
	})
}

// stripFreshness drops what depends on when events were applied.
func stripFreshness(os []reporting.HistoryOrder) []reporting.HistoryOrder {
	for i := range os {
		os[i].Freshness = reporting.Freshness{}
		for j := range os[i].Timeline {
			os[i].Timeline[j].AppliedAt, os[i].Timeline[j].EventAt = time.Time{}, time.Time{}
		}
	}
	return os
}
