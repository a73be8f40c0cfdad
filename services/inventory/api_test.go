package inventory_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/bounded-dev/bounded/platform/httpapi"
	"github.com/bounded-dev/bounded/platform/servicetest"
	"github.com/bounded-dev/bounded/platform/sqldb"
	"github.com/bounded-dev/bounded/services/inventory"
	"github.com/bounded-dev/bounded/services/inventory/events"
)

func TestStockAPI(t *testing.T) {
	t.Parallel()
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		s := start(t, d)
		body := map[string]int{"on_hand": 5, "reorder_point": 1, "reorder_quantity": 10}

		// Create (201), then set (200); each publishes an adjustment.
		var created stock
		s.MustJSON(t, "PUT", "/inventory/stock/MUG-350", body, true, http.StatusCreated, &created)
		if created.SKU != "MUG-350" || created.OnHand != 5 || created.Available != 5 || created.ReorderQuantity != 10 ||
			created.Name != nil || created.Description != nil {
			t.Fatalf("created = %+v", created)
		}
		body["on_hand"] = 8
		var set stock
		s.MustJSON(t, "PUT", "/inventory/stock/MUG-350", body, true, http.StatusOK, &set)
		if set.OnHand != 8 {
			t.Fatalf("set = %+v", set)
		}
		e := s.WaitPublished(t, events.StockChanged, func(e contractEvent) bool {
			v := decode[events.StockChangedV1](t, e)
			return v.Reason == events.StockAdjustment && v.OnHand == 8
		})
		if v := decode[events.StockChangedV1](t, e); v.DeltaOnHand != 3 || v.DeltaReserved != 0 || v.ReorderPoint != 1 || e.Subject != "MUG-350" {
			t.Fatalf("adjustment = %+v", v)
		}

		// Unknown and malformed SKUs.
		if d := s.MustProblem(t, "GET", "/inventory/stock/NOPE-1", nil, false, http.StatusNotFound); !strings.Contains(d, "NOPE-1") {
			t.Fatalf("404 detail %q", d)
		}
		s.MustProblem(t, "GET", "/inventory/stock/bad_sku", nil, false, http.StatusBadRequest)
		s.MustProblem(t, "PUT", "/inventory/stock/bad_sku", body, true, http.StatusBadRequest)

		// Admin only.
		s.MustProblem(t, "PUT", "/inventory/stock/MUG-350", body, false, http.StatusUnauthorized)

		// Bad bodies: each answer says what is wrong.
		for _, c := range []struct {
			body any
			want string
		}{
			{map[string]int{"on_hand": -1, "reorder_point": 0, "reorder_quantity": 1}, "on_hand -1"},
			{map[string]int{"on_hand": 1, "reorder_point": -2, "reorder_quantity": 1}, "reorder_point -2"},
			{map[string]int{"on_hand": 1, "reorder_point": 0, "reorder_quantity": 0}, "reorder_quantity 0"},
			{map[string]int{"on_hand": 2000000000, "reorder_point": 0, "reorder_quantity": 1}, "on_hand 2000000000"},
			{map[string]int{"on_hand": 1, "reorder_point": 0}, "reorder_quantity"},
			{map[string]any{"on_hand": 1, "reorder_point": 0, "reorder_quantity": 1, "colour": "red"}, "unknown field"},
			{map[string]any{"on_hand": "1", "reorder_point": 0, "reorder_quantity": 1}, "on_hand"},
			{`{"on_hand": 1.5, "reorder_point": 0, "reorder_quantity": 1}`, "on_hand"},
			{`{"on_hand": 1`, "JSON"},
			{`{} {}`, "after the JSON value"},
			{`[]`, "object"},
			{``, "empty"},
		} {
			var d string
			if c.body == "" {
				r := s.Do(t, "PUT", "/inventory/stock/MUG-350", nil, true)
				if r.Status != http.StatusBadRequest {
					t.Fatalf("empty body: %d %s", r.Status, r.Body)
				}
				var p httpapi.Problem
				r.Decode(t, &p)
				d = p.Detail
			} else {
				d = s.MustProblem(t, "PUT", "/inventory/stock/MUG-350", c.body, true, http.StatusBadRequest)
			}
			if !strings.Contains(d, c.want) {
				t.Errorf("body %v: detail %q, want it to mention %q", c.body, d, c.want)
			}
		}
		if s.stock(t, "MUG-350").OnHand != 8 {
			t.Fatal("a refused request changed the stock")
		}

		// on_hand may not go below what is reserved.
		order := newID()
		s.confirm(t, order, line("MUG-350", 6))
		s.settle(t)
		body["on_hand"] = 5
		if d := s.MustProblem(t, "PUT", "/inventory/stock/MUG-350", body, true, http.StatusConflict); !strings.Contains(d, "reserved") {
			t.Fatalf("409 detail %q", d)
		}
		body["on_hand"] = 6
		s.MustJSON(t, "PUT", "/inventory/stock/MUG-350", body, true, http.StatusOK, &set)
		if set.Available != 0 || set.Reserved != 6 {
			t.Fatalf("set to the reserved units = %+v", set)
		}

		// Paging by SKU.
		for _, sku := range []string{"A-1", "B-2", "C-3", "D-4"} {
			s.putStock(t, sku, 100, 0, 1)
		}
		var all []string
		after := ""
		for range 10 {
			var page struct {
				Items     []stock `json:"items"`
				NextAfter *string `json:"next_after"`
			}
			s.MustJSON(t, "GET", "/inventory/stock?limit=2&after="+after, nil, false, http.StatusOK, &page)
			for _, it := range page.Items {
				all = append(all, it.SKU)
			}
			if page.NextAfter == nil {
				break
			}
			after = *page.NextAfter
		}
		if strings.Join(all, ",") != "A-1,B-2,C-3,D-4,MUG-350" {
			t.Fatalf("paged SKUs = %v", all)
		}
		s.MustProblem(t, "GET", "/inventory/stock?limit=0", nil, false, http.StatusBadRequest)
		s.MustProblem(t, "GET", "/inventory/stock?limit=x", nil, false, http.StatusBadRequest)
		s.MustProblem(t, "GET", "/inventory/stock?after=%20", nil, false, http.StatusBadRequest)

		// Reservations and purchase orders: input checks and 404s.
		s.MustProblem(t, "GET", "/inventory/reservations", nil, false, http.StatusBadRequest)
		s.MustProblem(t, "GET", "/inventory/reservations?order_id="+strings.Repeat("x", 101), nil, false, http.StatusBadRequest)
		// Text PostgreSQL refuses is a bad query, not a 500 from the database.
		s.MustProblem(t, "GET", "/inventory/reservations?order_id=%FF", nil, false, http.StatusBadRequest)
		s.MustProblem(t, "GET", "/inventory/reservations?order_id=a%00b", nil, false, http.StatusBadRequest)
		if d := s.MustProblem(t, "GET", "/inventory/purchase-orders?status=lost", nil, false, http.StatusBadRequest); !strings.Contains(d, "flagged") {
			t.Fatalf("status detail %q should list the statuses", d)
		}
		s.MustProblem(t, "GET", "/inventory/purchase-orders?sku=bad_sku", nil, false, http.StatusBadRequest)
		s.MustProblem(t, "GET", "/inventory/purchase-orders?after=nope", nil, false, http.StatusBadRequest)
		s.MustProblem(t, "GET", "/inventory/purchase-orders?limit=501", nil, false, http.StatusBadRequest)
		s.MustProblem(t, "GET", "/inventory/purchase-orders/"+newID(), nil, false, http.StatusNotFound)
		s.MustProblem(t, "GET", "/inventory/purchase-orders/42", nil, false, http.StatusBadRequest)
		s.MustProblem(t, "DELETE", "/inventory/stock/MUG-350", nil, true, http.StatusMethodNotAllowed)
		s.MustProblem(t, "GET", "/inventory/nothing", nil, false, http.StatusNotFound)
	})
}

func TestPurchaseOrderPaging(t *testing.T) {
	t.Parallel()
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		s := start(t, d)
		for _, sku := range []string{"P-1", "P-2", "P-3"} {
			s.putStock(t, sku, 0, 0, 1) // no product: flagged
			s.waitPO(t, sku, "flagged")
		}
		var ids []string
		after := ""
		for range 5 {
			var page struct {
				PurchaseOrders []purchaseOrder `json:"purchase_orders"`
				NextAfter      *string         `json:"next_after"`
			}
			s.MustJSON(t, "GET", "/inventory/purchase-orders?status=flagged&limit=2&after="+after, nil, false, http.StatusOK, &page)
			for _, po := range page.PurchaseOrders {
				ids = append(ids, po.SKU)
			}
			if page.NextAfter == nil {
				break
			}
			after = *page.NextAfter
		}
		if strings.Join(ids, ",") != "P-1,P-2,P-3" {
			t.Fatalf("paged purchase orders = %v", ids)
		}
		if n := len(s.purchaseOrders(t, "?status=sent")); n != 0 {
			t.Fatalf("%d sent", n)
		}
	})
}

func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		spec := inventory.Spec(inventory.Config{})
		h := servicetest.Start(t, d, spec)
		if err := httpapi.CheckOpenAPI(spec.OpenAPI, h.Host.Routes("inventory")); err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		h.MustJSON(t, "GET", "/inventory/openapi.json", nil, false, http.StatusOK, &doc)
		if doc["openapi"] != "3.1.0" {
			t.Fatalf("served document = %v", doc["openapi"])
		}
	})
}

func TestConfigValidate(t *testing.T) {
	if err := (inventory.Config{PollInterval: 100e6, SupplierTimeout: 1, BatchSize: 1}).Validate(); err == nil {
		t.Fatal("a poll interval under 1 s passed")
	}
	if err := (inventory.Config{PollInterval: 1e9, SupplierTimeout: 1, BatchSize: 0}).Validate(); err == nil {
		t.Fatal("a zero batch passed")
	}
	if err := (inventory.Config{PollInterval: 1e9, SupplierTimeout: 1, BatchSize: 1}).Validate(); err != nil {
		t.Fatal(err)
	}
	if err := (inventory.Config{PollInterval: 1e9, SupplierTimeout: 2e9, Lease: 2e9, BatchSize: 1}).Validate(); err == nil {
		t.Fatal("a lease no longer than a supplier call passed")
	}
	if err := inventory.Spec(inventory.Config{}).Validate(); err != nil {
		t.Fatal(err)
	}
}
