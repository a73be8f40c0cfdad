package inventory_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bounded-dev/bounded/platform/servicetest"
	"github.com/bounded-dev/bounded/platform/sqldb"
	"github.com/bounded-dev/bounded/services/inventory"
	"github.com/bounded-dev/bounded/services/inventory/events"
)

const (
	flaggedTotal = "bounded_inventory_purchase_orders_flagged_total"
	placedTotal  = "bounded_inventory_purchase_orders_placed_total"
	rejectTotal  = "bounded_inventory_purchase_orders_rejected_total"
	sendErrTotal = "bounded_inventory_purchase_order_send_errors_total"
)

// checkSupplierGotOnlyComplete fails unless every order the supplier
// simulator was sent is complete, and it accepted exactly want of them.
func checkSupplierGotOnlyComplete(t *testing.T, s *shop, want int) []inventory.SupplierOrder {
	t.Helper()
	if r := s.supplier.Refused(); len(r) > 0 {
		t.Fatalf("the supplier was sent incomplete purchase orders: %+v", r)
	}
	got := s.supplier.Received()
	for _, po := range got {
		if strings.TrimSpace(po.Name) == "" || strings.TrimSpace(po.Description) == "" {
			t.Fatalf("the supplier accepted an incomplete purchase order: %+v", po)
		}
	}
	if len(got) != want {
		t.Fatalf("the supplier received %d purchase orders, want %d: %+v", len(got), want, got)
	}
	return got
}

func waitPlaced(t *testing.T, s *shop, poID string) events.PurchaseOrderPlacedV1 {
	t.Helper()
	e := s.WaitPublished(t, events.PurchaseOrderPlaced, func(e contractEvent) bool {
		return decode[events.PurchaseOrderPlacedV1](t, e).PurchaseOrderID == poID
	})
	return decode[events.PurchaseOrderPlacedV1](t, e)
}

func waitFlagged(t *testing.T, s *shop, poID string) events.PurchaseOrderFlaggedV1 {
	t.Helper()
	e := s.WaitPublished(t, events.PurchaseOrderFlagged, func(e contractEvent) bool {
		return decode[events.PurchaseOrderFlaggedV1](t, e).PurchaseOrderID == poID
	})
	return decode[events.PurchaseOrderFlaggedV1](t, e)
}

// The incident, part 1: Catalog splits the description while purchase
// orders are being placed. Product events arrive as v1 (description only),
// later as v2 (short/long split, the deprecated description still
// populated). Stock falls below the reorder point before and after the
// change; every purchase order is complete and sent with the description,
// and the supplier receives nothing incomplete.
func TestIncidentPurchaseOrdersStayCompleteThroughCatalogsChange(t *testing.T) {
	t.Parallel()
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		s := start(t, d)
		const (
			name   = "Stoneware mug"
			descV1 = "A 350 ml stoneware mug, dishwasher safe."
			short  = "350 ml stoneware mug"
			long   = "A 350 ml stoneware mug, glazed by hand; dishwasher and microwave safe."
		)

		// Before the split: Catalog publishes v1.
		s.productV1(t, "MUG-350", name, descV1, 1)
		s.settle(t)
		s.putStock(t, "MUG-350", 10, 3, 24)
		s.confirm(t, newID(), line("MUG-350", 8)) // available 2 <= 3
		po1 := s.waitPO(t, "MUG-350", "sent")
		if po1.Name != name || po1.Description != descV1 || po1.Quantity != 24 {
			t.Fatalf("purchase order before the split = %+v, want %q / %q x 24", po1, name, descV1)
		}
		if p := waitPlaced(t, s, po1.ID); p.Description != descV1 || p.Name != name || p.SKU != "MUG-350" || p.Quantity != 24 {
			t.Fatalf("placed event = %+v", p)
		}
		var received purchaseOrder
		s.MustJSON(t, "POST", "/inventory/purchase-orders/"+po1.ID+"/receive", nil, true, http.StatusOK, &received)
		if st := s.stock(t, "MUG-350"); st.OnHand != 34 || st.Reserved != 8 || st.Available != 26 {
			t.Fatalf("stock after receiving = %+v, want on_hand 34, reserved 8", st)
		}

		// Catalog splits the description: v2 from now on.
		s.productV2(t, "MUG-350", name, short, long, 2, true)
		s.settle(t)
		if st := s.stock(t, "MUG-350"); st.Description == nil || *st.Description != long || *st.ProductVersion != 2 {
			t.Fatalf("product copy after v2 = %+v", st)
		}
		s.confirm(t, newID(), line("MUG-350", 24)) // available 2 again
		po2 := s.waitPO(t, "MUG-350", "sent")
		if po2.ID == po1.ID || po2.Name != name || po2.Description != long {
			t.Fatalf("purchase order after the split = %+v, want a new one with %q", po2, long)
		}
		if p := waitPlaced(t, s, po2.ID); p.Description != long {
			t.Fatalf("placed event after the split = %+v", p)
		}

		// A product Catalog only ever published as v2.
		s.productV2(t, "TEE-M-BLK", "T-shirt, black, M", "Black tee", "A black cotton T-shirt, size M.", 1, true)
		s.settle(t)
		s.putStock(t, "TEE-M-BLK", 0, 5, 50)
		po3 := s.waitPO(t, "TEE-M-BLK", "sent")
		if po3.Description != "A black cotton T-shirt, size M." || po3.Quantity != 50 {
			t.Fatalf("purchase order of a v2-only product = %+v", po3)
		}
		waitPlaced(t, s, po3.ID)

		got := checkSupplierGotOnlyComplete(t, s, 3)
		want := map[string]string{po1.ID: descV1, po2.ID: long, po3.ID: "A black cotton T-shirt, size M."}
		for _, po := range got {
			if want[po.ID] != po.Description {
				t.Fatalf("supplier got %+v, want description %q", po, want[po.ID])
			}
		}
		for _, po := range s.purchaseOrders(t, "") {
			if po.Status == "flagged" || po.Name == "" || po.Description == "" {
				t.Fatalf("incomplete purchase order %+v", po)
			}
		}
		if n := s.Metric(t, flaggedTotal); n != 0 {
			t.Fatalf("%s = %v, want 0", flaggedTotal, n)
		}
		if n := s.Metric(t, placedTotal); n != 3 {
			t.Fatalf("%s = %v, want 3", placedTotal, n)
		}
		if f := s.Published(events.PurchaseOrderFlagged); len(f) != 0 {
			t.Fatalf("flagged events published: %d", len(f))
		}
	})
}

// The incident, part 3: a product whose description is missing — a SKU
// with stock and no product event yet, or a v2 event with an empty
// description — gets a flagged purchase order: counted, visible in the
// API, published, never sent. When the data arrives, the same purchase
// order is completed and sent.
func TestIncidentIncompletePurchaseOrdersAreFlaggedNeverSent(t *testing.T) {
	t.Parallel()
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		s := start(t, d)

		// Stock, but no product event yet.
		s.putStock(t, "LAMP-1", 2, 5, 10)
		lamp := s.waitPO(t, "LAMP-1", "flagged")
		if !slices.Equal(lamp.Missing, []string{"name", "description"}) || lamp.SentAt != nil {
			t.Fatalf("flagged purchase order = %+v, want missing [name description], not sent", lamp)
		}
		if f := waitFlagged(t, s, lamp.ID); !slices.Equal(f.Missing, []string{"name", "description"}) || f.SKU != "LAMP-1" {
			t.Fatalf("flagged event = %+v", f)
		}

		// A v2 event with an empty description.
		s.productV2(t, "VASE-9", "Glass vase", "", "", 1, true)
		s.settle(t)
		s.putStock(t, "VASE-9", 1, 2, 6)
		vase := s.waitPO(t, "VASE-9", "flagged")
		if !slices.Equal(vase.Missing, []string{"description"}) || vase.Name != "Glass vase" {
			t.Fatalf("flagged purchase order = %+v, want missing [description]", vase)
		}
		waitFlagged(t, s, vase.ID)

		// Counted, visible.
		servicetest.Eventually(t, 5*time.Second, "the flagged metric", func() bool { return s.Metric(t, flaggedTotal) == 2 })
		var one purchaseOrder
		s.MustJSON(t, "GET", "/inventory/purchase-orders/"+vase.ID, nil, false, http.StatusOK, &one)
		if one.Status != "flagged" || !slices.Equal(one.Missing, []string{"description"}) {
			t.Fatalf("GET purchase order = %+v", one)
		}
		if n := len(s.purchaseOrders(t, "?status=flagged")); n != 2 {
			t.Fatalf("%d flagged purchase orders listed, want 2", n)
		}

		// A complete purchase order of another SKU goes through the job
		// after the flagged ones exist: a round has passed, and still
		// nothing incomplete was sent.
		s.productV1(t, "BOWL-2", "Salad bowl", "A large oak salad bowl.", 1)
		s.settle(t)
		s.putStock(t, "BOWL-2", 0, 0, 4)
		bowl := s.waitPO(t, "BOWL-2", "sent")
		got := checkSupplierGotOnlyComplete(t, s, 1)
		if got[0].ID != bowl.ID {
			t.Fatalf("supplier got %+v, want only %s", got, bowl.ID)
		}
		time.Sleep(1200 * time.Millisecond) // past a backstop poll
		checkSupplierGotOnlyComplete(t, s, 1)

		// The data arrives: the same purchase orders are completed and sent.
		s.productV1(t, "LAMP-1", "Desk lamp", "A desk lamp with a brass arm.", 1)
		s.productV2(t, "VASE-9", "Glass vase", "Tall vase", "A tall glass vase, mouth-blown.", 2, true)
		lampSent := s.waitPO(t, "LAMP-1", "sent")
		vaseSent := s.waitPO(t, "VASE-9", "sent")
		if lampSent.ID != lamp.ID || lampSent.Description != "A desk lamp with a brass arm." || len(lampSent.Missing) != 0 {
			t.Fatalf("completed purchase order = %+v, want %s completed", lampSent, lamp.ID)
		}
		if vaseSent.ID != vase.ID || vaseSent.Description != "A tall glass vase, mouth-blown." {
			t.Fatalf("completed purchase order = %+v, want %s completed", vaseSent, vase.ID)
		}
		if p := waitPlaced(t, s, lamp.ID); p.Name != "Desk lamp" || p.Description != "A desk lamp with a brass arm." {
			t.Fatalf("placed event = %+v", p)
		}
		waitPlaced(t, s, vase.ID)
		checkSupplierGotOnlyComplete(t, s, 3)
		if n := s.Metric(t, flaggedTotal); n != 2 {
			t.Fatalf("%s = %v, want still 2", flaggedTotal, n)
		}
		if n := len(s.purchaseOrders(t, "?status=flagged")); n != 0 {
			t.Fatalf("%d purchase orders still flagged", n)
		}
	})
}

// A pending purchase order whose product loses its description before it
// is sent is flagged, not sent; an inactive product is not reordered; an
// older product version does not replace a newer copy.
func TestProductCopyDrivesPurchaseOrders(t *testing.T) {
	t.Parallel()
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		s := start(t, d)

		// Versions: the newest wins, whatever the arrival order.
		s.productV2(t, "CUP-7", "Espresso cup", "Cup", "A small espresso cup.", 3, true)
		s.productV1(t, "CUP-7", "Old cup", "An older description.", 2)
		s.productV2(t, "CUP-7", "Espresso cup", "Cup", "A small espresso cup.", 3, true) // same version again
		s.settle(t)
		s.putStock(t, "CUP-7", 50, 5, 10)
		if st := s.stock(t, "CUP-7"); *st.Name != "Espresso cup" || *st.Description != "A small espresso cup." || *st.ProductVersion != 3 {
			t.Fatalf("copy = %+v, want version 3", st)
		}
		// A product event does not create stock.
		s.productV1(t, "NO-STOCK", "Ghost", "Has no stock item.", 1)
		s.settle(t)
		s.MustProblem(t, "GET", "/inventory/stock/NO-STOCK", nil, false, http.StatusNotFound)

		// Inactive: not reordered.
		s.productV2(t, "OLD-1", "Retired item", "Retired", "No longer sold.", 1, false)
		s.settle(t)
		s.putStock(t, "OLD-1", 0, 5, 10)
		s.productV1(t, "NEW-1", "New item", "Sold now.", 1)
		s.settle(t)
		s.putStock(t, "NEW-1", 0, 5, 10)
		s.waitPO(t, "NEW-1", "sent") // a round ran after OLD-1 was low
		if pos := s.purchaseOrders(t, "?sku=OLD-1"); len(pos) != 0 {
			t.Fatalf("an inactive product was reordered: %+v", pos)
		}

		// A purchase order waiting for the supplier whose product loses its
		// description is flagged instead of sent, and sent once it is back.
		s.supplier.FailNext(1 << 30)
		s.productV1(t, "JAR-5", "Jar", "A glass jar.", 1)
		s.settle(t)
		s.putStock(t, "JAR-5", 0, 0, 8)
		waiting := s.waitPO(t, "JAR-5", "retrying")
		s.productV2(t, "JAR-5", "Jar", "", "", 2, true)
		flagged := s.waitPO(t, "JAR-5", "flagged")
		if flagged.ID != waiting.ID || !slices.Equal(flagged.Missing, []string{"description"}) || flagged.Description != "" {
			t.Fatalf("flagged = %+v, want %s missing its description", flagged, waiting.ID)
		}
		waitFlagged(t, s, flagged.ID)
		s.supplier.FailNext(0)
		s.productV2(t, "JAR-5", "Jar", "Jar", "A glass jar with a cork lid.", 3, true)
		if sent := s.waitPO(t, "JAR-5", "sent"); sent.ID != waiting.ID || sent.Description != "A glass jar with a cork lid." {
			t.Fatalf("sent = %+v", sent)
		}
		checkSupplierGotOnlyComplete(t, s, 2) // NEW-1 and JAR-5 (CUP-7 is not low)
	})
}

// A supplier that cannot be reached leaves the purchase order retrying
// (attempts and the error recorded, counted) until it answers; a supplier
// that refuses one leaves it rejected (recorded, counted, never swallowed)
// until the product data changes.
func TestSupplierFailuresAreRecordedNeverSwallowed(t *testing.T) {
	t.Parallel()
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		s := start(t, d)
		s.supplier.FailNext(1 << 30)
		s.productV2(t, "PEN-1", "Fountain pen", "Pen", "A fountain pen with a steel nib.", 1, true)
		s.settle(t)
		s.putStock(t, "PEN-1", 1, 1, 100)
		retrying := s.waitPO(t, "PEN-1", "retrying")
		if retrying.Attempts < 1 || !strings.Contains(retrying.LastError, "unavailable") || retrying.NextAttemptAt == nil {
			t.Fatalf("retrying purchase order = %+v", retrying)
		}
		servicetest.Eventually(t, 5*time.Second, "send errors counted", func() bool { return s.Metric(t, sendErrTotal) >= 1 })
		s.supplier.FailNext(0)
		sent := s.waitPO(t, "PEN-1", "sent")
		if sent.ID != retrying.ID || sent.Attempts < 2 {
			t.Fatalf("sent after retries = %+v", sent)
		}
		waitPlaced(t, s, sent.ID)

		s.supplier.RejectSKU("INK-2", "discontinued by the manufacturer")
		s.productV2(t, "INK-2", "Ink bottle", "Ink", "A 50 ml bottle of blue ink.", 1, true)
		s.settle(t)
		s.putStock(t, "INK-2", 0, 3, 12)
		rejected := s.waitPO(t, "INK-2", "rejected")
		if !strings.Contains(rejected.LastError, "discontinued") || rejected.SentAt != nil {
			t.Fatalf("rejected purchase order = %+v", rejected)
		}
		servicetest.Eventually(t, 5*time.Second, "rejections counted", func() bool { return s.Metric(t, rejectTotal) == 1 })
		checkSupplierGotOnlyComplete(t, s, 1) // PEN-1 only
		// Still open: no second purchase order for the SKU.
		if pos := s.purchaseOrders(t, "?sku=INK-2"); len(pos) != 1 {
			t.Fatalf("purchase orders of INK-2 = %+v, want the rejected one only", pos)
		}
		s.MustProblem(t, "POST", "/inventory/purchase-orders/"+rejected.ID+"/receive", nil, true, http.StatusConflict)

		// New product data: it is sent again, and accepted.
		s.supplier.RejectSKU("INK-2", "")
		s.productV2(t, "INK-2", "Ink bottle", "Ink", "A 50 ml bottle of royal blue ink.", 2, true)
		again := s.waitPO(t, "INK-2", "sent")
		if again.ID != rejected.ID || again.Description != "A 50 ml bottle of royal blue ink." {
			t.Fatalf("re-sent purchase order = %+v", again)
		}
		waitPlaced(t, s, again.ID)
		checkSupplierGotOnlyComplete(t, s, 2)
	})
}

func TestReceivePurchaseOrder(t *testing.T) {
	t.Parallel()
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		s := start(t, d)
		s.productV1(t, "SOAP-3", "Olive soap", "A bar of olive oil soap.", 1)
		s.settle(t)
		s.putStock(t, "SOAP-3", 4, 4, 30)
		po := s.waitPO(t, "SOAP-3", "sent")
		path := "/inventory/purchase-orders/" + po.ID + "/receive"
		s.MustProblem(t, "POST", path, nil, false, http.StatusUnauthorized)
		var got purchaseOrder
		s.MustJSON(t, "POST", path, nil, true, http.StatusOK, &got)
		if got.Status != "received" || got.ReceivedAt == nil {
			t.Fatalf("received = %+v", got)
		}
		if detail := s.MustProblem(t, "POST", path, nil, true, http.StatusConflict); !strings.Contains(detail, "received") {
			t.Fatalf("receiving twice: %q", detail)
		}
		if st := s.stock(t, "SOAP-3"); st.OnHand != 34 {
			t.Fatalf("on_hand = %d, want 34", st.OnHand)
		}
		e := s.WaitPublished(t, events.StockChanged, func(e contractEvent) bool {
			return decode[events.StockChangedV1](t, e).Reason == events.StockPurchaseOrderReceived
		})
		if sc := decode[events.StockChangedV1](t, e); sc.Ref != po.ID || sc.DeltaOnHand != 30 || sc.OnHand != 34 || e.Subject != "SOAP-3" {
			t.Fatalf("stock_changed = %+v (subject %s)", sc, e.Subject)
		}
		s.MustProblem(t, "POST", "/inventory/purchase-orders/"+newID()+"/receive", nil, true, http.StatusNotFound)
		s.MustProblem(t, "POST", "/inventory/purchase-orders/not-a-uuid/receive", nil, true, http.StatusBadRequest)

		// A flagged one cannot be received.
		s.putStock(t, "NAMELESS", 0, 1, 1)
		flagged := s.waitPO(t, "NAMELESS", "flagged")
		s.MustProblem(t, "POST", "/inventory/purchase-orders/"+flagged.ID+"/receive", nil, true, http.StatusConflict)
	})
}
