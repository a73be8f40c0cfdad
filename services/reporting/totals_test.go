package reporting_test

import (
	"net/http"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/bounded-dev/bounded/platform/httpapi"
	"github.com/bounded-dev/bounded/platform/servicetest"
	"github.com/bounded-dev/bounded/platform/sqldb"
	"github.com/bounded-dev/bounded/services/reporting"
)

// TestTotals: GET /totals derives the owners' figures from the facts: an
// order by its latest milestone, a payment by its outcome (captured wins
// over a decline), refunds, shipments and their units, stock as the sum of
// the movements.
func TestTotals(t *testing.T) {
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		w := start(t, d)
		at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
		shipped, cancelled, open, pay1, pay2, pay3 := newID(t), newID(t), newID(t), newID(t), newID(t), newID(t)
		w.load(t,
			confirmed(t, shipped, "a@example.com", at, line{"TOT-A", 2, 500}),
			orderPaid(t, shipped, 1000, at.Add(time.Second)), orderReserved(t, shipped, at.Add(2*time.Second)),
			orderShipped(t, shipped, at.Add(3*time.Second)),
			confirmed(t, cancelled, "b@example.com", at, line{"TOT-A", 1, 500}),
			orderCancelled(t, cancelled, "out_of_stock", "paid", 500, at.Add(time.Second)),
			confirmed(t, open, "c@example.com", at, line{"TOT-B", 3, 100}),
			captured(t, pay1, shipped, 1000, at), captured(t, pay2, cancelled, 500, at),
			refunded(t, newID(t), pay2, cancelled, 500, at.Add(time.Second)),
			declined(t, pay3, open, 300, "card_declined", at),
			shipmentCreated(t, "ship-1", shipped, at, line{"TOT-A", 2, 0}),
			shipmentDispatched(t, "ship-1", shipped, at.Add(time.Second), line{"TOT-A", 2, 0}),
			stockChanged(t, "TOT-A", 10, 10, "adjustment", "", at),
			stockChanged(t, "TOT-A", -2, 8, "shipment", shipped, at.Add(time.Second)),
		)
		w.settle(t)
		var got reporting.Totals
		w.MustJSON(t, "GET", "/reporting/totals", nil, true, http.StatusOK, &got)
		wantOrders := []reporting.OrderTotal{{Status: "cancelled", Currency: "EUR", Orders: 1, ValueCents: 500},
			{Status: "confirmed", Currency: "EUR", Orders: 1, ValueCents: 300}, {Status: "shipped", Currency: "EUR", Orders: 1, ValueCents: 1000}}
		wantPayments := []reporting.PaymentTotal{{Currency: "EUR", Captured: 2, CapturedCents: 1500, Declined: 1, DeclinedCents: 300,
			RefundsIssued: 1, RefundedCents: 500}}
		if !reflect.DeepEqual(got.Orders, wantOrders) || !reflect.DeepEqual(got.Payments, wantPayments) ||
			got.Shipments != (reporting.ShipmentTotal{Shipments: 1, Dispatched: 1, UnitsDispatched: 2}) ||
			!reflect.DeepEqual(got.Stock, []reporting.StockTotal{{SKU: "TOT-A", OnHand: 8}}) || got.OnHand != 8 || len(got.Watermarks) == 0 {
			t.Fatalf("totals %+v", got)
		}
		w.MustProblem(t, "GET", "/reporting/totals", nil, false, http.StatusUnauthorized)
		w.MustProblem(t, "GET", "/reporting/totals?from=2026-12-01", nil, true, http.StatusBadRequest)
		// The route is documented, as an admin route. (The whole document
		// is checked against the routes elsewhere.)
		doc, err := httpapi.OpenAPIRoutes(reporting.Spec(reporting.Config{}).OpenAPI)
		if err != nil || !slices.Contains(doc, httpapi.Route{Method: "GET", Path: "/totals", Admin: true}) {
			t.Fatalf("openapi.json does not document GET /totals as admin: %v", err)
		}
	})
}
