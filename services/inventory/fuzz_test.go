package inventory

// The fuzz tests sit inside the package (the other tests are black-box):
// they drive the unexported request type and event validation the handlers
// use, without a database.

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bounded-dev/bounded/platform/contract"
	"github.com/bounded-dev/bounded/platform/httpapi"
	catalogevents "github.com/bounded-dev/bounded/services/catalog/events"
	fulfillmentevents "github.com/bounded-dev/bounded/services/fulfillment/events"
	ordersevents "github.com/bounded-dev/bounded/services/orders/events"
)

// FuzzStockRequest: decoding and validating PUT /stock/{sku}'s body never
// panics, refuses with ErrInvalid or ErrTooLarge, and accepts only settings
// within bounds, which round-trip.
func FuzzStockRequest(f *testing.F) {
	for _, s := range []string{
		`{"on_hand": 5, "reorder_point": 1, "reorder_quantity": 10}`,
		`{"on_hand": 0, "reorder_point": 0, "reorder_quantity": 1}`,
		`{"on_hand": -1, "reorder_point": 0, "reorder_quantity": 1}`,
		`{"on_hand": 1, "reorder_point": 0}`,
		`{"on_hand": 1e3, "reorder_point": 0, "reorder_quantity": 1}`,
		`{"on_hand": 9223372036854775807, "reorder_point": 0, "reorder_quantity": 1}`,
		`{"on_hand": null, "reorder_point": 0, "reorder_quantity": 1}`,
		`{"on_hand": 1, "reorder_point": 0, "reorder_quantity": 1, "x": 1}`,
		`{} {}`, `[]`, `"x"`, ``, `{`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req stockRequest
		if err := httpapi.DecodeJSON(bytes.NewReader(body), &req); err != nil {
			if !errors.Is(err, httpapi.ErrInvalid) && !errors.Is(err, httpapi.ErrTooLarge) {
				t.Fatalf("decode error of no client kind: %v", err)
			}
			return
		}
		s, err := req.settings()
		if err != nil {
			if !errors.Is(err, httpapi.ErrInvalid) || err.Error() == "" {
				t.Fatalf("validation error %v: want ErrInvalid with a message", err)
			}
			if req.OnHand != nil && req.ReorderPoint != nil && req.ReorderQuantity != nil {
				if _, err2 := NewStockSettings(*req.OnHand, *req.ReorderPoint, *req.ReorderQuantity); err2 == nil {
					t.Fatalf("settings() refused what NewStockSettings accepts: %v", err)
				}
			}
			return
		}
		if s.OnHand < 0 || s.OnHand > maxStock || s.ReorderPoint < 0 || s.ReorderPoint > maxStock ||
			s.ReorderQuantity < 1 || s.ReorderQuantity > maxStock {
			t.Fatalf("accepted out-of-bounds settings %+v", s)
		}
		again, _ := json.Marshal(map[string]int64{"on_hand": s.OnHand, "reorder_point": s.ReorderPoint, "reorder_quantity": s.ReorderQuantity})
		var req2 stockRequest
		if err := httpapi.DecodeJSON(bytes.NewReader(again), &req2); err != nil {
			t.Fatal(err)
		}
		if s2, err := req2.settings(); err != nil || s2 != s {
			t.Fatalf("round trip: %+v, %v; want %+v", s2, err, s)
		}
	})
}

// FuzzConsumedEvents: decoding any payload of a consumed event type (and
// version), and Inventory's validation of it, never panics; what passes
// validation holds Inventory's invariants.
func FuzzConsumedEvents(f *testing.F) {
	seed := func(typ string, v any) {
		b, err := json.Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(typ, b)
	}
	seed("catalog.product_updated.v1", catalogevents.ProductUpdatedV1{SKU: "MUG-350", Name: "Mug", Description: "A mug.", Active: true, Version: 1})
	seed("catalog.product_updated.v2", catalogevents.ProductUpdatedV2{SKU: "MUG-350", Name: "Mug", ShortDescription: "Mug",
		LongDescription: "A mug.", Description: "A mug.", Active: true, Version: 2})
	seed("orders.order_confirmed.v1", ordersevents.OrderConfirmedV1{OrderID: "o-1", Items: []ordersevents.Item{
		{SKU: "MUG-350", Quantity: 2}, {SKU: "TEE-M", Quantity: 1}, {SKU: "MUG-350", Quantity: 3}}})
	seed("orders.order_confirmed.v1", ordersevents.OrderConfirmedV1{OrderID: "o-2", Items: []ordersevents.Item{{SKU: "x", Quantity: -1}}})
	seed("orders.order_cancelled.v1", ordersevents.OrderCancelledV1{OrderID: "o-1", Reason: "payment_declined"})
	seed("fulfillment.shipment_dispatched.v1", fulfillmentevents.ShipmentDispatchedV1{ShipmentID: "s-1", OrderID: "o-1"})
	f.Add("catalog.product_updated.v3", []byte(`{}`))
	f.Add("orders.order_confirmed.v1", []byte(`{"order_id": "o", "items": [{"sku": "AB", "quantity": 9007199254740993}]}`))
	f.Add("orders.order_confirmed.v1", []byte(`null`))
	f.Add("catalog.product_updated.v1", []byte(`{"sku": 1}`))

	catalog, orders, fulfillment := catalogevents.Registry(), ordersevents.Registry(), fulfillmentevents.Registry()
	f.Fuzz(func(t *testing.T, typ string, data []byte) {
		e := contract.Event{ID: "fuzz", Source: "/fuzz", Type: typ, Time: time.Unix(0, 0), Data: data}
		name, _, err := contract.ParseType(typ)
		if err != nil {
			return
		}
		switch name {
		case catalogevents.ProductUpdated:
			v, err := contract.DecodeAs[catalogevents.ProductUpdatedV2](catalog, e)
			if err != nil {
				return
			}
			p, err := productFromEvent(v)
			if err != nil {
				return
			}
			if checkSKU(p.SKU) != nil || p.Version < 1 || p.Description != v.Description || p.Name != v.Name {
				t.Fatalf("accepted product %+v from %+v", p, v)
			}
		case ordersevents.OrderConfirmed:
			v, err := contract.DecodeAs[ordersevents.OrderConfirmedV1](orders, e)
			if err != nil {
				return
			}
			lines, err := linesFromOrder(v)
			if err != nil {
				return
			}
			want := map[string]int64{}
			for _, it := range v.Items {
				want[it.SKU] += int64(it.Quantity)
			}
			if len(lines) != len(want) || !slices.IsSortedFunc(lines, func(a, b Line) int { return strings.Compare(a.SKU, b.SKU) }) {
				t.Fatalf("lines %+v from items %+v: want one per SKU, sorted", lines, v.Items)
			}
			for i, l := range lines {
				if checkSKU(l.SKU) != nil || l.Quantity < 1 || l.Quantity > maxLineQty || want[l.SKU] != l.Quantity ||
					(i > 0 && lines[i-1].SKU == l.SKU) {
					t.Fatalf("accepted line %+v from items %+v", l, v.Items)
				}
			}
		case ordersevents.OrderCancelled:
			_, _ = contract.DecodeAs[ordersevents.OrderCancelledV1](orders, e)
		case fulfillmentevents.ShipmentDispatched:
			_, _ = contract.DecodeAs[fulfillmentevents.ShipmentDispatchedV1](fulfillment, e)
		}
	})
}
