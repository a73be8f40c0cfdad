package main

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The end-to-end tests run the real binary's Main (`bounded up`) on free
// ports and a fresh data directory, and drive the shop only through HTTP;
// each runs in both modes (see eachMode).

func TestEndToEnd(t *testing.T) { eachMode(t, endToEnd) }

func endToEnd(t *testing.T, startShop startFunc) {
	s := startShop(t, "")
	// The flows run in parallel; reconcile compares the warehouse with the
	// owners once they have all ended (shipped, declined, out of stock,
	// refunded or voided, retried), on the same shop.
	t.Run("flows", func(t *testing.T) { endToEndFlows(t, s) })
	t.Run("reconcile", func(t *testing.T) { reconcileShop(t, s) })
	// The rebuild repairs what reconcile found broken.
	t.Run("rebuild", func(t *testing.T) { rebuildShop(t, s) })
}

func endToEndFlows(t *testing.T, s *shop) {
	t.Run("seeded demo catalog", func(t *testing.T) {
		var ps struct{ Products []productJSON }
		s.get(t, "/catalog/products", &ps)
		if len(ps.Products) < 10 {
			t.Fatalf("%d products seeded, want the demo catalog", len(ps.Products))
		}
		if st := s.stock(t, ps.Products[0].SKU); st.OnHand != demoOnHand {
			t.Fatalf("stock of %s = %+v, want %d on hand", ps.Products[0].SKU, st, demoOnHand)
		}
	})

	t.Run("happy path to shipped", func(t *testing.T) {
		t.Parallel()
		s.product(t, "E2E-HAPPY", 1250, 10)
		id := s.checkout(t, s.cart(t, "E2E-HAPPY", 3), "tok_approve")
		o := s.settled(t, id)
		if o.Status != "shipped" || o.TotalCents != 3750 {
			t.Fatalf("order %+v, want shipped for 3750", o)
		}
		if got, want := statuses(o), []string{"confirmed", "paid", "reserved", "shipped"}; !slices.Equal(got, want) {
			t.Fatalf("history %v, want %v", got, want)
		}
		ps := s.payments(t, id)
		if ps[0].AmountCents != 3750 || len(ps[0].Attempts) != 1 {
			t.Fatalf("payment %+v", ps[0])
		}
		sh := s.shipments(t, id)[0]
		if sh.Package != "small_box" || len(sh.Items) != 1 || sh.Items[0].Quantity != 3 {
			t.Fatalf("shipment %+v", sh)
		}
		if st := s.stock(t, "E2E-HAPPY"); st.OnHand != 7 || st.Reserved != 0 {
			t.Fatalf("stock %+v, want 7 on hand, none reserved", st)
		}
		// The order page composes Orders, Payments and Fulfillment.
		var page struct {
			Order       orderJSON
			Payments    []paymentJSON
			Shipments   []shipmentJSON
			Unavailable []string
		}
		s.get(t, "/orders/orders/"+id+"/page", &page)
		if page.Order.Status != "shipped" || len(page.Payments) != 1 || len(page.Shipments) != 1 || len(page.Unavailable) != 0 {
			t.Fatalf("order page %+v", page)
		}
	})

	t.Run("declined card", func(t *testing.T) {
		t.Parallel()
		s.product(t, "E2E-DECLINE", 900, 10)
		id := s.checkout(t, s.cart(t, "E2E-DECLINE", 2), "tok_decline")
		o := s.settled(t, id)
		if o.Status != "cancelled" || o.CancelReason != "payment_declined" {
			t.Fatalf("order %+v, want cancelled: payment_declined", o)
		}
		if ps := s.payments(t, id); len(ps) != 1 || ps[0].Status != "declined" || ps[0].ChargeID != nil {
			t.Fatalf("payments %+v, want one declined, never charged", ps)
		}
		// Any reservation is released: all stock is available again.
		eventually(t, "the reservation released", func() bool {
			st := s.stock(t, "E2E-DECLINE")
			return st.OnHand == 10 && st.Reserved == 0
		})
		for _, sh := range s.shipments(t, id) {
			if sh.Status == "dispatched" {
				t.Fatalf("a declined order shipped: %+v", sh)
			}
		}
	})

	t.Run("temporary gateway failure", func(t *testing.T) {
		t.Parallel()
		s.product(t, "E2E-FLAKY", 500, 10)
		id := s.checkout(t, s.cart(t, "E2E-FLAKY", 1), "tok_flaky")
		if o := s.settled(t, id); o.Status != "shipped" {
			t.Fatalf("order %+v, want shipped after the retries", o)
		}
		p := s.payments(t, id)[0]
		if len(p.Attempts) != 3 || p.Attempts[2].Outcome != "approved" && p.Attempts[2].Outcome != "captured" {
			t.Fatalf("payment attempts %+v, want two temporary failures then the capture", p.Attempts)
		}
	})

	t.Run("out of stock", func(t *testing.T) {
		t.Parallel()
		s.product(t, "E2E-SCARCE", 700, 1)
		id := s.checkout(t, s.cart(t, "E2E-SCARCE", 2), "tok_approve")
		o := s.settled(t, id)
		if o.Status != "cancelled" || o.CancelReason != "out_of_stock" {
			t.Fatalf("order %+v, want cancelled: out_of_stock", o)
		}
		for _, p := range s.payments(t, id) {
			refunded := 0
			for _, r := range p.Refunds {
				refunded += int(r.AmountCents)
			}
			switch {
			case p.Status == "refunded" && int64(refunded) == p.AmountCents:
			case p.Status == "voided" && p.ChargeID == nil:
			default:
				t.Fatalf("payment of an out-of-stock order: %+v, want refunded in full or never charged", p)
			}
		}
		if st := s.stock(t, "E2E-SCARCE"); st.OnHand != 1 || st.Reserved != 0 {
			t.Fatalf("stock %+v, want untouched", st)
		}
	})

	t.Run("price change between add-to-cart and checkout", func(t *testing.T) {
		t.Parallel()
		s.product(t, "E2E-PRICE", 1000, 10)
		cartID := s.cart(t, "E2E-PRICE", 2)
		var p productJSON
		s.get(t, "/catalog/products/E2E-PRICE", &p)
		s.must(t, "PUT", "/catalog/products/E2E-PRICE", map[string]any{"name": p.Name, "short_description": p.ShortDescription,
			"long_description": p.LongDescription, "price_cents": 1200, "currency": p.Currency, "category": p.Category, "active": true},
			true, http.StatusOK, nil)
		var c cartJSON
		eventually(t, "the cart to show the new price", func() bool {
			s.get(t, "/cart/carts/"+cartID, &c)
			return c.Items[0].UnitPriceCents == 1200
		})
		if !c.Items[0].PriceChanged || c.Items[0].PriceWhenAddedCents != 1000 || c.TotalCents != 2400 {
			t.Fatalf("cart %+v, want the change shown", c)
		}
		id := s.checkout(t, cartID, "tok_approve")
		o := s.settled(t, id)
		if o.Status != "shipped" || o.TotalCents != 2400 || o.Items[0].UnitPriceCents != 1200 {
			t.Fatalf("order %+v, want shipped at the new price", o)
		}
		if ps := s.payments(t, id); ps[0].AmountCents != 2400 {
			t.Fatalf("charged %d, want 2400", ps[0].AmountCents)
		}
	})

	t.Run("bad input", func(t *testing.T) {
		t.Parallel()
		for _, c := range []struct {
			method, path string
			body         any
			admin        bool
			status       int
		}{
			{"GET", "/orders/orders/0190c7e2-0000-7000-8000-000000000000", nil, false, 404},
			{"GET", "/cart/carts/nope", nil, false, 404},
			{"POST", "/cart/carts/x/checkout", "{", false, 400},
			{"PUT", "/catalog/products/NEW-1", map[string]any{"name": "x"}, false, 401},
			{"PUT", "/catalog/products/bad sku", map[string]any{"name": "x"}, true, 400},
			{"PUT", "/inventory/stock/E2E-HAPPY", map[string]int{"on_hand": -1, "reorder_point": 0, "reorder_quantity": 1}, true, 400},
			{"GET", "/payments/payments", nil, false, 400},
			{"GET", "/ops/dead-letters", nil, false, 401},
			{"GET", "/nowhere", nil, false, 404},
		} {
			r := s.do(t, c.method, c.path, c.body, c.admin)
			if r.Status != c.status || r.Header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("%s %s: %d %s %s, want %d problem+json", c.method, c.path, r.Status, r.Header.Get("Content-Type"), r.Body, c.status)
			}
		}
	})
}

// TestRestartInTheMiddleOfAnOrder stops the shop right after a checkout and
// starts it again on the same data directory: the order completes.
func TestRestartInTheMiddleOfAnOrder(t *testing.T) { eachMode(t, restartInTheMiddleOfAnOrder) }

func restartInTheMiddleOfAnOrder(t *testing.T, startShop startFunc) {
	data := t.TempDir()
	s := startShop(t, data)
	s.product(t, "E2E-RESTART", 800, 5)
	var ids []string
	for range 5 {
		ids = append(ids, s.checkout(t, s.cart(t, "E2E-RESTART", 1), "tok_flaky"))
	}
	s.stop(t)

	s = startShop(t, data)
	// A charge the stop cut short is released at once; if the stop had to
	// be forced (a loaded machine: SIGKILL after 20 s), the payment's
	// claim is taken up again when its lease (1 min) runs out.
	s.settleWithin = 90 * time.Second
	if strings.Contains(s.stdout.String(), "seeded") {
		t.Fatalf("a restart seeded again:\n%s", s.stdout.String())
	}
	for _, id := range ids {
		if o := s.settled(t, id); o.Status != "shipped" {
			t.Fatalf("order %s after the restart: %+v", id, o)
		}
	}
	if st := s.stock(t, "E2E-RESTART"); st.OnHand != 0 || st.Reserved != 0 {
		t.Fatalf("stock %+v, want all 5 shipped", st)
	}
	var dls struct{ Count int }
	s.must(t, "GET", "/ops/dead-letters", nil, true, http.StatusOK, &dls)
	if dls.Count != 0 {
		t.Fatalf("%d dead letters after the restart", dls.Count)
	}
}

// TestCheckoutRace: 200 concurrent checkouts of a product with 20 units.
func TestCheckoutRace(t *testing.T) { eachMode(t, checkoutRace) }

func checkoutRace(t *testing.T, startShop startFunc) {
	const buyers, units, price = 200, 20, 1500
	s := startShop(t, "")
	s.product(t, "E2E-RACE", price, units)
	carts := make([]string, buyers)
	for i := range carts {
		carts[i] = s.cart(t, "E2E-RACE", 1)
	}

	// Watch the stock while the race runs: it must never go negative.
	stop := make(chan struct{})
	var watch sync.WaitGroup
	var badStock []stockJSON
	watch.Add(1)
	go func() {
		defer watch.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			st := s.stock(t, "E2E-RACE")
			if st.OnHand < 0 || st.Reserved < 0 || st.Available < 0 || st.Reserved > st.OnHand {
				badStock = append(badStock, st)
			}
		}
	}()

	ids := make([]string, buyers)
	var wg sync.WaitGroup
	for i := range carts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids[i] = s.checkout(t, carts[i], "tok_approve")
		}()
	}
	wg.Wait()

	shipped, cancelled := 0, 0
	var shippedCents, capturedCents, refundedCents int64
	for _, id := range ids {
		o := s.settled(t, id)
		switch o.Status {
		case "shipped":
			shipped++
			shippedCents += o.TotalCents
		case "cancelled":
			cancelled++
			if o.CancelReason != "out_of_stock" {
				t.Errorf("order %s cancelled for %q", id, o.CancelReason)
			}
		}
		for _, p := range s.payments(t, id) {
			if p.ChargeID != nil {
				capturedCents += p.AmountCents
			}
			for _, r := range p.Refunds {
				refundedCents += r.AmountCents
			}
			if o.Status == "cancelled" && !(p.Status == "refunded" || p.Status == "voided" && p.ChargeID == nil) {
				t.Errorf("cancelled order %s: payment %+v, want refunded or never charged", id, p)
			}
		}
		dispatched := 0
		for _, sh := range s.shipments(t, id) {
			if sh.Status == "dispatched" {
				dispatched++
			}
		}
		if want := map[string]int{"shipped": 1, "cancelled": 0}[o.Status]; dispatched != want {
			t.Errorf("order %s (%s) has %d dispatched shipments, want %d", id, o.Status, dispatched, want)
		}
	}
	close(stop)
	watch.Wait()

	if shipped != units || cancelled != buyers-units {
		t.Fatalf("%d shipped and %d cancelled, want %d and %d", shipped, cancelled, units, buyers-units)
	}
	if len(badStock) > 0 {
		t.Fatalf("stock went wrong during the race: %+v", badStock)
	}
	// The sums agree across services.
	if net := capturedCents - refundedCents; net != shippedCents || shippedCents != units*price {
		t.Fatalf("captured %d − refunded %d = %d, shipped orders total %d, want %d", capturedCents, refundedCents, net, shippedCents, units*price)
	}
	if st := s.stock(t, "E2E-RACE"); st.OnHand != 0 || st.Reserved != 0 {
		t.Fatalf("stock after the race %+v, want 0 on hand and 0 reserved", st)
	}
	t.Logf("%d checkouts: %d shipped, %d cancelled; captured %d, refunded %d (cents)", buyers, shipped, cancelled, capturedCents, refundedCents)
}
