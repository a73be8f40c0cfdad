package fulfillment_test

import (
	"net/http"
	"testing"

	"github.com/bounded-dev/bounded/platform/contract"
	"github.com/bounded-dev/bounded/platform/servicetest"
	"github.com/bounded-dev/bounded/platform/sqldb"
	"github.com/bounded-dev/bounded/services/fulfillment"
	"github.com/bounded-dev/bounded/services/fulfillment/events"
)

// TestPackagingByQuantity: the package is the seeded rule with the
// smallest max_items that fits the total quantity; a shipment no rule fits
// is created as unpackable, flagged, counted and never dispatched.
func TestPackagingByQuantity(t *testing.T) {
	t.Parallel()
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		s := start(t, d, fulfillment.Config{})
		cases := []struct {
			quantities []int
			want       string
		}{
			{[]int{1}, "envelope"},
			{[]int{2}, "small_box"},
			{[]int{1, 1, 1}, "small_box"},
			{[]int{4}, "medium_box"},
			{[]int{5, 5}, "medium_box"},
			{[]int{11}, "large_box"},
			{[]int{25, 25}, "large_box"},
			{[]int{51}, "pallet"},
			{[]int{9999, 1}, "pallet"},
			{[]int{10000, 1}, fulfillment.Unpackable},
		}
		orders := make([]string, len(cases))
		for i, c := range cases {
			orders[i] = newOrderID(t)
			s.inject(t, confirmed(t, orders[i], c.quantities...), reserved(t, orders[i]), paid(t, orders[i]))
		}
		s.settle(t)
		for i, c := range cases {
			want := "dispatched"
			if c.want == fulfillment.Unpackable {
				want = "created"
			}
			sh := s.waitStatus(t, orders[i], want)
			if sh.Package != c.want || sh.Unpackable != (c.want == fulfillment.Unpackable) {
				t.Errorf("quantities %v: package %q (unpackable %v), want %q", c.quantities, sh.Package, sh.Unpackable, c.want)
			}
			created := decodeCreated(t, s.WaitPublished(t, events.ShipmentCreated, func(e contract.Event) bool { return e.Subject == orders[i] }))
			if created.Package != c.want {
				t.Errorf("quantities %v: shipment_created package %q, want %q", c.quantities, created.Package, c.want)
			}
		}
		quiet()
		unpackable := orders[len(orders)-1]
		if sh := s.shipment(t, unpackable); sh.Status != "created" || len(s.published(t, events.ShipmentDispatched, unpackable)) != 0 {
			t.Fatalf("unpackable shipment = %+v: want created, never dispatched", sh)
		}
		var list struct {
			Shipments []Shipment `json:"shipments"`
		}
		s.MustJSON(t, "GET", "/fulfillment/shipments?status=created&unpackable=true", nil, false, http.StatusOK, &list)
		if len(list.Shipments) != 1 || list.Shipments[0].OrderID != unpackable || !list.Shipments[0].Unpackable {
			t.Fatalf("unpackable shipments listed: %+v", list.Shipments)
		}
		if n := s.metric(t, "bounded_fulfillment_unpackable_total"); n != 1 {
			t.Fatalf("unpackable metric = %v, want 1", n)
		}
		if n := s.metric(t, "bounded_fulfillment_shipments_dispatched_total"); n != float64(len(cases)-1) {
			t.Fatalf("dispatched metric = %v, want %d", n, len(cases)-1)
		}
	})
}

// TestPackagingRulesChange: rules put through the API apply to shipments
// created afterwards; equal max_items are decided by the smaller priority.
func TestPackagingRulesChange(t *testing.T) {
	t.Parallel()
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		s := start(t, d, fulfillment.Config{})
		before := newOrderID(t)
		s.apply(t, confirmed(t, before, 2), reserved(t, before))
		s.waitStatus(t, before, "created")

		s.MustJSON(t, "PUT", "/fulfillment/packaging-rules/pouch_b", map[string]any{"max_items": 2, "priority": 5}, true, http.StatusCreated, nil)
		s.MustJSON(t, "PUT", "/fulfillment/packaging-rules/pouch_a", map[string]any{"max_items": 2, "priority": 7}, true, http.StatusCreated, nil)
		after := newOrderID(t)
		s.apply(t, confirmed(t, after, 1, 1), reserved(t, after))
		if sh := s.waitStatus(t, after, "created"); sh.Package != "pouch_b" {
			t.Fatalf("package %q, want pouch_b (priority 5 before 7)", sh.Package)
		}
		s.MustJSON(t, "PUT", "/fulfillment/packaging-rules/pouch_a", map[string]any{"max_items": 2, "priority": 1}, true, http.StatusOK, nil)
		later := newOrderID(t)
		s.apply(t, confirmed(t, later, 2), reserved(t, later))
		if sh := s.waitStatus(t, later, "created"); sh.Package != "pouch_a" {
			t.Fatalf("package %q, want pouch_a (now priority 1)", sh.Package)
		}
		s.MustJSON(t, "PUT", "/fulfillment/packaging-rules/pallet", map[string]any{"max_items": 20000}, true, http.StatusOK, nil)
		big := newOrderID(t)
		s.apply(t, confirmed(t, big, 15000), reserved(t, big))
		if sh := s.waitStatus(t, big, "created"); sh.Package != "pallet" {
			t.Fatalf("package %q, want pallet (raised to 20000)", sh.Package)
		}
		if sh := s.shipment(t, before); sh.Package != "small_box" {
			t.Fatalf("a shipment created before the change was repacked: %q", sh.Package)
		}
	})
}
