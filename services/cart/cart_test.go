package cart_test

import (
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/bounded-dev/bounded/platform/contract"
	"github.com/bounded-dev/bounded/platform/httpapi"
	"github.com/bounded-dev/bounded/platform/servicetest"
	"github.com/bounded-dev/bounded/platform/sqldb"
	"github.com/bounded-dev/bounded/platform/toolkittest"
	"github.com/bounded-dev/bounded/services/cart"
	"github.com/bounded-dev/bounded/services/cart/events"
	catalogevents "github.com/bounded-dev/bounded/services/catalog/events"
)

// The whole cart API, from an empty cart to its checkout, and the event the
// checkout publishes.
func TestCartHappyPath(t *testing.T) {
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		s := start(t, d, cart.Config{})
		s.publish(product("KETTLE-17", "Kettle 1.7 l", 3999, "EUR", 4), true)
		s.publish(product("MUG-350", "Mug 350 ml", 850, "EUR", 1), true)
		s.publish(product("TEA-100", "Green tea, 100 g", 600, "EUR", 2), true)

		// Open a cart, with and without a body.
		r := s.Do(t, "POST", "/cart/carts", nil, false)
		if r.Status != http.StatusCreated {
			t.Fatalf("POST /carts without a body: %d %s", r.Status, r.Body)
		}
		c := s.newCart(map[string]string{"customer_email": "ada@example.com"})
		if c.Status != "open" || c.CustomerEmail != "ada@example.com" || len(c.Items) != 0 || c.TotalCents != 0 || c.OrderID != "" {
			t.Fatalf("new cart = %+v", c)
		}
		if v, err := uuid.Parse(c.ID); err != nil || v.Version() != 7 {
			t.Fatalf("cart id %q is not a UUIDv7 (%v)", c.ID, err)
		}
		if c.CreatedAt.IsZero() || c.CreatedAt.Location() != time.UTC {
			t.Fatalf("created_at = %v", c.CreatedAt)
		}

		// Set lines; change one; remove one.
		c = s.put(c.ID, "KETTLE-17", 2)
		if got := line(t, c, "KETTLE-17"); got != (item{SKU: "KETTLE-17", Name: "Kettle 1.7 l", Quantity: 2, UnitPriceCents: 3999,
			PriceWhenAddedCents: 3999, LineTotalCents: 7998, Available: true}) {
			t.Fatalf("line = %+v", got)
		}
		s.put(c.ID, "MUG-350", 3)
		s.put(c.ID, "TEA-100", 1)
		c = s.put(c.ID, "KETTLE-17", 1) // sets, not adds
		if c.TotalCents != 3999+3*850+600 || c.Currency != "EUR" || len(c.Items) != 3 {
			t.Fatalf("cart = %+v", c)
		}
		var removed cartJSON
		s.MustJSON(t, "DELETE", "/cart/carts/"+c.ID+"/items/TEA-100", nil, false, http.StatusOK, &removed)
		if len(removed.Items) != 2 || removed.TotalCents != 3999+3*850 {
			t.Fatalf("after DELETE: %+v", removed)
		}
		c = s.get(c.ID)
		if skus := []string{c.Items[0].SKU, c.Items[1].SKU}; !slices.Equal(skus, []string{"KETTLE-17", "MUG-350"}) {
			t.Fatalf("lines in order %v, want the order they were added", skus)
		}
		if c.TotalCents != removed.TotalCents || !c.UpdatedAt.After(c.CreatedAt) && !c.UpdatedAt.Equal(c.CreatedAt) {
			t.Fatalf("GET = %+v", c)
		}

		// Check out (the email comes from the cart).
		body := checkoutBody("")
		body["shipping_address"].(map[string]string)["line2"] = "Flat 3"
		out := s.checkout(c.ID, body, http.StatusAccepted)
		if out.CartID != c.ID || out.Status != "checked_out" || out.OrderURL != "/orders/orders/"+out.OrderID {
			t.Fatalf("checkout = %+v", out)
		}
		if v, err := uuid.Parse(out.OrderID); err != nil || v.Version() != 7 {
			t.Fatalf("order id %q is not a UUIDv7 (%v)", out.OrderID, err)
		}

		// The event.
		e := s.WaitPublished(t, events.CheckedOut, nil)
		if e.Type != "cart.checked_out.v1" || e.Source != events.Source || e.Subject != c.ID {
			t.Fatalf("event %s from %s about %s", e.Type, e.Source, e.Subject)
		}
		got, err := contract.DecodeAs[events.CheckedOutV1](events.Registry(), e)
		if err != nil {
			t.Fatal(err)
		}
		want := events.CheckedOutV1{
			CartID: c.ID, OrderID: out.OrderID, CustomerEmail: "ada@example.com",
			ShippingAddress: events.Address{Name: "Ada Lovelace", Line1: "12 St James's Square", Line2: "Flat 3", City: "London",
				PostalCode: "SW1Y 4JH", Country: "GB"},
			PaymentToken: "tok_visa", Currency: "EUR",
			Items: []events.Item{
				{SKU: "KETTLE-17", Name: "Kettle 1.7 l", Quantity: 1, UnitPriceCents: 3999, ProductVersion: 4},
				{SKU: "MUG-350", Name: "Mug 350 ml", Quantity: 3, UnitPriceCents: 850, ProductVersion: 1},
			},
			CheckedOutAt: got.CheckedOutAt,
		}
		if !equalCheckedOut(got, want) {
			t.Fatalf("event data\n got %+v\nwant %+v", got, want)
		}
		if got.CheckedOutAt.IsZero() || time.Since(got.CheckedOutAt) > time.Minute {
			t.Fatalf("checked_out_at = %v", got.CheckedOutAt)
		}
		if n := s.Metric(t, "bounded_cart_checkouts_total", "service", "cart"); n != 1 {
			t.Fatalf("checkouts metric = %v", n)
		}

		// The checked-out cart.
		c = s.get(c.ID)
		if c.Status != "checked_out" || c.OrderID != out.OrderID || c.OrderURL != out.OrderURL || c.CheckedOutAt == nil ||
			!c.CheckedOutAt.Equal(got.CheckedOutAt) || c.TotalCents != 3999+3*850 || len(c.Items) != 2 {
			t.Fatalf("checked-out cart = %+v", c)
		}

		// The retry answers 200 with the same order and makes none.
		again := s.checkout(c.ID, checkoutBody("someone.else@example.com"), http.StatusOK)
		if again != out {
			t.Fatalf("retried checkout = %+v, want %+v", again, out)
		}
		if n := s.Metric(t, "bounded_cart_checkouts_total"); n != 1 {
			t.Fatalf("checkouts metric after a retry = %v", n)
		}
		time.Sleep(300 * time.Millisecond) // the relay publishes within ~ms; give a second event a chance to show
		if n := len(s.Published(events.CheckedOut)); n != 1 {
			t.Fatalf("%d cart.checked_out events, want 1", n)
		}
		if c2 := s.get(c.ID); c2.CustomerEmail != "ada@example.com" || c2.OrderID != out.OrderID {
			t.Fatalf("cart after the retry = %+v", c2)
		}

		// A checked-out cart no longer changes.
		s.problem("PUT", "/cart/carts/"+c.ID+"/items/MUG-350", map[string]int{"quantity": 1}, http.StatusConflict, "checked out", out.OrderID)
		s.problem("PUT", "/cart/carts/"+c.ID+"/items/NOT-IN-CATALOG", map[string]int{"quantity": 1}, http.StatusConflict, "checked out")
		s.problem("DELETE", "/cart/carts/"+c.ID+"/items/MUG-350", nil, http.StatusConflict, "checked out")
		s.problem("DELETE", "/cart/carts/"+c.ID+"/items/TEA-100", nil, http.StatusConflict, "checked out")

		// The email given at checkout wins over the cart's.
		c = s.newCart(map[string]string{"customer_email": "ada@example.com"})
		s.put(c.ID, "TEA-100", 2)
		out = s.checkout(c.ID, checkoutBody("grace@example.com"), http.StatusAccepted)
		e = s.WaitPublished(t, events.CheckedOut, func(e contract.Event) bool { return e.Subject == c.ID })
		if got, _ := contract.DecodeAs[events.CheckedOutV1](events.Registry(), e); got.CustomerEmail != "grace@example.com" || got.OrderID != out.OrderID {
			t.Fatalf("second checkout's event = %+v", got)
		}
		if c = s.get(c.ID); c.CustomerEmail != "grace@example.com" {
			t.Fatalf("checked-out cart's email = %q", c.CustomerEmail)
		}

		// The OpenAPI document is served and matches the routes.
		var doc map[string]any
		s.MustJSON(t, "GET", "/cart/openapi.json", nil, false, http.StatusOK, &doc)
		if err := httpapi.CheckOpenAPI(cart.Spec(cart.Config{}).OpenAPI, s.Host.Routes("cart")); err != nil {
			t.Fatal(err)
		}
	})
}

func equalCheckedOut(a, b events.CheckedOutV1) bool {
	return a.CartID == b.CartID && a.OrderID == b.OrderID && a.CustomerEmail == b.CustomerEmail &&
		a.ShippingAddress == b.ShippingAddress && a.PaymentToken == b.PaymentToken && a.Currency == b.Currency &&
		slices.Equal(a.Items, b.Items) && a.CheckedOutAt.Equal(b.CheckedOutAt)
}

// The customer pays the price the cart shows at checkout, not the one when
// they added the item; the cart says the price changed; once checked out,
// the cart keeps the price paid.
func TestPriceChangeBetweenAddAndCheckout(t *testing.T) {
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		s := start(t, d, cart.Config{})
		s.publish(product("KETTLE-17", "Kettle", 3999, "EUR", 1), true)
		s.publish(product("MUG-350", "Mug", 850, "EUR", 1), true)
		c := s.newCart(nil)
		s.put(c.ID, "KETTLE-17", 2)
		s.put(c.ID, "MUG-350", 1)

		s.publish(product("KETTLE-17", "Kettle, steel", 3499, "EUR", 2), true)
		c = s.get(c.ID)
		if got := line(t, c, "KETTLE-17"); got != (item{SKU: "KETTLE-17", Name: "Kettle, steel", Quantity: 2, UnitPriceCents: 3499,
			PriceWhenAddedCents: 3999, PriceChanged: true, LineTotalCents: 6998, Available: true}) {
			t.Fatalf("changed line = %+v", got)
		}
		if got := line(t, c, "MUG-350"); got.PriceChanged {
			t.Fatalf("unchanged line = %+v", got)
		}
		if c.TotalCents != 6998+850 {
			t.Fatalf("total = %d", c.TotalCents)
		}

		out := s.checkout(c.ID, checkoutBody("ada@example.com"), http.StatusAccepted)
		e := s.WaitPublished(t, events.CheckedOut, nil)
		got, err := contract.DecodeAs[events.CheckedOutV1](events.Registry(), e)
		if err != nil {
			t.Fatal(err)
		}
		if got.OrderID != out.OrderID || len(got.Items) != 2 ||
			got.Items[0] != (events.Item{SKU: "KETTLE-17", Name: "Kettle, steel", Quantity: 2, UnitPriceCents: 3499, ProductVersion: 2}) {
			t.Fatalf("event = %+v", got)
		}

		// A later price change does not touch the checked-out cart.
		s.publish(product("KETTLE-17", "Kettle, steel", 4999, "EUR", 3), true)
		s.publish(func() catalogevents.ProductUpdatedV2 {
			p := product("MUG-350", "Mug", 850, "EUR", 2)
			p.Active = false
			return p
		}(), true)
		c = s.get(c.ID)
		if got := line(t, c, "KETTLE-17"); got.UnitPriceCents != 3499 || got.LineTotalCents != 6998 || !got.PriceChanged {
			t.Fatalf("checked-out line after a later change = %+v", got)
		}
		if got := line(t, c, "MUG-350"); !got.Available {
			t.Fatalf("checked-out line of a product deactivated later = %+v", got)
		}
		if c.TotalCents != 6998+850 {
			t.Fatalf("checked-out total after a later change = %d", c.TotalCents)
		}

		// Setting a line again takes the current price as the one seen.
		c = s.newCart(nil)
		s.put(c.ID, "KETTLE-17", 1)
		s.publish(product("KETTLE-17", "Kettle, steel", 4499, "EUR", 4), true)
		if got := line(t, s.get(c.ID), "KETTLE-17"); !got.PriceChanged {
			t.Fatalf("line = %+v", got)
		}
		if got := line(t, s.put(c.ID, "KETTLE-17", 1), "KETTLE-17"); got.PriceChanged || got.PriceWhenAddedCents != 4499 {
			t.Fatalf("line set again = %+v", got)
		}
	})
}

// Cart's product copy: v1 and v2 payloads, a stale version and duplicates
// ignored, availability, and events it can never apply dead-lettered.
func TestProductCopy(t *testing.T) {
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		s := start(t, d, cart.Config{})
		c := s.newCart(nil)
		s.problem("PUT", "/cart/carts/"+c.ID+"/items/KETTLE-17", map[string]int{"quantity": 1}, http.StatusUnprocessableEntity,
			"KETTLE-17", "not in the catalog (yet)")

		// A v1 payload (before the description split) is upcast.
		s.publishV1(catalogevents.ProductUpdatedV1{SKU: "KETTLE-17", Name: "Kettle", Description: "1.7 l", PriceCents: 3000,
			Currency: "EUR", Category: "kitchen", Active: true, Version: 1}, true)
		if got := line(t, s.put(c.ID, "KETTLE-17", 1), "KETTLE-17"); got.Name != "Kettle" || got.UnitPriceCents != 3000 {
			t.Fatalf("line from a v1 product = %+v", got)
		}

		// A newer v2 payload replaces the copy.
		v3 := s.publish(product("KETTLE-17", "Kettle, steel", 3500, "EUR", 3), true)
		if got := line(t, s.get(c.ID), "KETTLE-17"); got.Name != "Kettle, steel" || got.UnitPriceCents != 3500 {
			t.Fatalf("line after v3 = %+v", got)
		}

		// Older versions (a replay) and the same version under another event
		// id (a duplicate) are no-ops.
		s.publish(product("KETTLE-17", "Kettle (old)", 1, "EUR", 2), false)
		s.publishV1(catalogevents.ProductUpdatedV1{SKU: "KETTLE-17", Name: "Kettle (v1 replay)", PriceCents: 2, Currency: "EUR", Active: true, Version: 1}, false)
		s.publish(product("KETTLE-17", "Kettle (dup)", 9999, "EUR", 3), false)
		// The very same event again (a redelivery the inbox drops): published
		// without the deduplicating message id, so that it reaches Cart.
		msg := &nats.Msg{Subject: s.Host.SubjectOf(v3.Type), Header: nats.Header(v3.Header()), Data: v3.Data}
		if _, err := s.JS.PublishMsg(toolkittest.Context(t), msg); err != nil {
			t.Fatal(err)
		}
		servicetest.Eventually(t, 15*time.Second, "the redelivery dropped", func() bool {
			return s.Metric(t, "bounded_inbox_duplicates_total", "service", "cart") == 1
		})
		s.waitProductUpdates()
		if got := line(t, s.get(c.ID), "KETTLE-17"); got.Name != "Kettle, steel" || got.UnitPriceCents != 3500 || got.PriceWhenAddedCents != 3000 {
			t.Fatalf("line after stale and duplicate events = %+v", got)
		}

		// Inactive: shown as unavailable, refused at checkout and for new lines.
		off := product("KETTLE-17", "Kettle, steel", 3500, "EUR", 4)
		off.Active = false
		s.publish(off, true)
		if got := line(t, s.get(c.ID), "KETTLE-17"); got.Available {
			t.Fatalf("line of an inactive product = %+v", got)
		}
		s.problem("POST", "/cart/carts/"+c.ID+"/checkout", checkoutBody("ada@example.com"), http.StatusUnprocessableEntity,
			"KETTLE-17", "no longer available")
		c2 := s.newCart(nil)
		s.problem("PUT", "/cart/carts/"+c2.ID+"/items/KETTLE-17", map[string]int{"quantity": 1}, http.StatusUnprocessableEntity,
			"KETTLE-17", "inactive")
		// An inactive product may come without a name.
		nameless := product("GONE-1", "", 100, "EUR", 1)
		nameless.Active = false
		s.publish(nameless, true)
		s.problem("PUT", "/cart/carts/"+c2.ID+"/items/GONE-1", map[string]int{"quantity": 1}, http.StatusUnprocessableEntity, "GONE-1", "inactive")
		// Active again: the same cart checks out.
		on := product("KETTLE-17", "Kettle, steel", 3500, "EUR", 5)
		s.publish(on, true)
		s.checkout(c.ID, checkoutBody("ada@example.com"), http.StatusAccepted)

		// Events Cart can never apply are dead-lettered, not swallowed.
		for _, bad := range []catalogevents.ProductUpdatedV2{
			product("lower-case", "x", 1, "EUR", 1),
			product("MUG-350", "Mug", -1, "EUR", 1),
			product("MUG-350", "Mug", 1, "euro", 1),
			product("MUG-350", "Mug", 1, "EUR", 0),
			product("MUG-350", " ", 1, "EUR", 1),
			product("MUG-350", repeat("M", 201), 1, "EUR", 1),
			product("MUG-350", "Mug\nred", 1, "EUR", 1),
		} {
			s.Inject(t, servicetest.Event(t, catalogevents.Source, "catalog.product_updated.v2", bad.SKU, bad))
		}
		s.Inject(t, servicetest.Event(t, catalogevents.Source, "catalog.product_updated.v2", "OTHER-SKU", product("MUG-350", "Mug", 1, "EUR", 1)))
		s.Inject(t, servicetest.Event(t, catalogevents.Source, "catalog.product_updated.v2", "MUG-350", map[string]any{"sku": "MUG-350", "price_cents": "ten"}))
		servicetest.Eventually(t, 15*time.Second, "9 dead letters", func() bool {
			return s.Metric(t, "bounded_inbox_dead_letters_total", "service", "cart") == 9
		})
		s.waitProductUpdates()
		s.problem("PUT", "/cart/carts/"+c2.ID+"/items/MUG-350", map[string]int{"quantity": 1}, http.StatusUnprocessableEntity, "not in the catalog (yet)")
	})
}

// Every bad request is a problem with a 4xx status and a detail that says
// what is wrong.
func TestBadRequests(t *testing.T) {
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		s := start(t, d, cart.Config{MaxLines: 2})
		s.publish(product("KETTLE-17", "Kettle", 3999, "EUR", 1), true)
		s.publish(product("MUG-350", "Mug", 850, "EUR", 1), true)
		s.publish(product("TEA-100", "Tea", 600, "EUR", 1), true)
		s.publish(product("MUG-US", "Mug (US)", 999, "USD", 1), true)
		off := product("OLD-1", "Old", 100, "EUR", 1)
		off.Active = false
		s.publish(off, true)

		c := s.newCart(nil)
		unknown := "01972f3a-0000-7000-8000-000000000000"
		items := "/cart/carts/" + c.ID + "/items/"
		q := func(n any) map[string]any { return map[string]any{"quantity": n} }

		// Opening a cart.
		s.problem("POST", "/cart/carts", "{", http.StatusBadRequest, "truncated JSON")
		s.problem("POST", "/cart/carts", "{x", http.StatusBadRequest, "malformed JSON")
		s.problem("POST", "/cart/carts", `{"email":"ada@example.com"}`, http.StatusBadRequest, "unknown field")
		s.problem("POST", "/cart/carts", `{"customer_email":7}`, http.StatusBadRequest, "customer_email", "a string")
		s.problem("POST", "/cart/carts", `{} {}`, http.StatusBadRequest, "unexpected data")
		for _, bad := range []struct{ email, says string }{
			{"ada", "exactly one '@'"},
			{"ada@@example.com", "exactly one '@'"},
			{"a@b@example.com", "exactly one '@'"},
			{"@example.com", "nothing before"},
			{"ada@localhost", "no dot"},
			{"ada@.example.com", "empty label"},
			{"ada@example..com", "empty label"},
			{"ada@example.com.", "empty label"},
			{"ada lovelace@example.com", "space"},
			{"ada@" + repeat("x", 250) + ".com", "longer than 254"},
		} {
			s.problem("POST", "/cart/carts", map[string]string{"customer_email": bad.email}, http.StatusBadRequest, "customer_email", bad.says)
		}
		req, err := http.NewRequestWithContext(toolkittest.Context(t), "POST", s.URL+"/cart/carts", stringsReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "text/plain")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnsupportedMediaType || resp.Header.Get("Content-Type") != httpapi.ProblemContentType {
			t.Fatalf("text/plain body: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}

		// Unknown carts and routes.
		s.problem("GET", "/cart/carts/"+unknown, nil, http.StatusNotFound, "no cart", unknown)
		s.problem("GET", "/cart/carts/not-a-uuid", nil, http.StatusNotFound, "no cart")
		// Bytes PostgreSQL refuses in text (invalid UTF-8, NUL) are no cart
		// id either: 404, not a 500 from the database.
		for _, bad := range []string{"%FF", "%00", "01972f3a-0000-7000-8000-00000000000%FF"} {
			s.problem("GET", "/cart/carts/"+bad, nil, http.StatusNotFound, "no cart")
			s.problem("PUT", "/cart/carts/"+bad+"/items/KETTLE-17", q(1), http.StatusNotFound, "no cart")
			s.problem("DELETE", "/cart/carts/"+bad+"/items/KETTLE-17", nil, http.StatusNotFound, "no cart")
			s.problem("POST", "/cart/carts/"+bad+"/checkout", checkoutBody("ada@example.com"), http.StatusNotFound, "no cart")
		}
		s.problem("PUT", "/cart/carts/"+unknown+"/items/KETTLE-17", q(1), http.StatusNotFound, "no cart")
		s.problem("DELETE", "/cart/carts/"+unknown+"/items/KETTLE-17", nil, http.StatusNotFound, "no cart")
		s.problem("POST", "/cart/carts/"+unknown+"/checkout", checkoutBody("ada@example.com"), http.StatusNotFound, "no cart")
		s.problem("GET", "/cart/nothing", nil, http.StatusNotFound, "no endpoint")
		s.problem("PATCH", "/cart/carts/"+c.ID, nil, http.StatusMethodNotAllowed, "not allowed")

		// Setting a line.
		s.problem("PUT", items+"KETTLE-17", q(0), http.StatusBadRequest, "quantity 0", "1 to 99")
		s.problem("PUT", items+"KETTLE-17", q(100), http.StatusBadRequest, "quantity 100", "1 to 99")
		s.problem("PUT", items+"KETTLE-17", q(-3), http.StatusBadRequest, "quantity -3")
		s.problem("PUT", items+"KETTLE-17", q(1.5), http.StatusBadRequest, "quantity", "an integer")
		s.problem("PUT", items+"KETTLE-17", q("2"), http.StatusBadRequest, "quantity", "an integer")
		s.problem("PUT", items+"KETTLE-17", map[string]any{}, http.StatusBadRequest, "quantity: required")
		s.problem("PUT", items+"KETTLE-17", nil, http.StatusBadRequest, "empty")
		s.problem("PUT", items+"kettle-17", q(1), http.StatusBadRequest, "sku", "upper-case")
		s.problem("PUT", items+"-KETTLE", q(1), http.StatusBadRequest, "sku")
		s.problem("PUT", items+"K", q(1), http.StatusBadRequest, "sku")
		s.problem("PUT", items+repeat("A", 33), q(1), http.StatusBadRequest, "sku")
		s.problem("PUT", items+"NOT-IN-CATALOG", q(1), http.StatusUnprocessableEntity, "NOT-IN-CATALOG", "not in the catalog (yet)")
		s.problem("PUT", items+"OLD-1", q(1), http.StatusUnprocessableEntity, "OLD-1", "inactive")
		s.put(c.ID, "KETTLE-17", 1)
		s.problem("PUT", items+"MUG-US", q(1), http.StatusUnprocessableEntity, "MUG-US", "USD", "EUR", "one currency")
		s.put(c.ID, "MUG-350", 1)
		s.problem("PUT", items+"TEA-100", q(1), http.StatusUnprocessableEntity, "2 lines", "remove one")
		s.put(c.ID, "MUG-350", 5) // changing a line of a full cart is fine

		// Removing a line.
		s.problem("DELETE", items+"TEA-100", nil, http.StatusNotFound, "no line TEA-100")
		s.problem("DELETE", items+"bad sku", nil, http.StatusBadRequest, "sku")

		// Checking out.
		checkout := "/cart/carts/" + c.ID + "/checkout"
		with := func(change func(b map[string]any)) map[string]any {
			b := checkoutBody("ada@example.com")
			b["shipping_address"] = address()
			change(b)
			return b
		}
		addr := func(field, value string) map[string]any {
			return with(func(b map[string]any) { b["shipping_address"].(map[string]string)[field] = value })
		}
		s.problem("POST", checkout, nil, http.StatusBadRequest, "empty")
		s.problem("POST", checkout, "[]", http.StatusBadRequest, "an object")
		s.problem("POST", checkout, with(func(b map[string]any) { b["coupon"] = "FREE" }), http.StatusBadRequest, "unknown field", "coupon")
		s.problem("POST", checkout, with(func(b map[string]any) { delete(b, "shipping_address") }), http.StatusBadRequest, "shipping_address: required")
		s.problem("POST", checkout, with(func(b map[string]any) { delete(b, "payment_token") }), http.StatusBadRequest, "payment_token: required")
		s.problem("POST", checkout, with(func(b map[string]any) { b["payment_token"] = repeat("t", 65) }), http.StatusBadRequest, "payment_token", "at most 64")
		s.problem("POST", checkout, with(func(b map[string]any) { b["payment_token"] = "tok visa" }), http.StatusBadRequest, "payment_token", "space")
		s.problem("POST", checkout, with(func(b map[string]any) { b["customer_email"] = "ada@" }), http.StatusBadRequest, "customer_email")
		s.problem("POST", checkout, checkoutBody(""), http.StatusBadRequest, "customer_email: required")
		s.problem("POST", checkout, addr("name", ""), http.StatusBadRequest, "shipping_address.name", "required")
		s.problem("POST", checkout, addr("line1", "   "), http.StatusBadRequest, "shipping_address.line1", "required")
		s.problem("POST", checkout, addr("line2", " "), http.StatusBadRequest, "shipping_address.line2", "blank")
		s.problem("POST", checkout, addr("city", repeat("c", 101)), http.StatusBadRequest, "shipping_address.city", "at most 100")
		s.problem("POST", checkout, addr("city", repeat("€", 70)), http.StatusBadRequest, "shipping_address.city", "210 bytes", "at most 100 characters and 200 bytes")

		s.problem("POST", checkout, addr("postal_code", ""), http.StatusBadRequest, "shipping_address.postal_code", "required")
		s.problem("POST", checkout, addr("postal_code", repeat("1", 17)), http.StatusBadRequest, "shipping_address.postal_code", "at most 16")
		s.problem("POST", checkout, addr("name", "Ada\x00"), http.StatusBadRequest, "shipping_address.name", "control character")
		for _, country := range []string{"", "gb", "GBR", "G1"} {
			s.problem("POST", checkout, addr("country", country), http.StatusBadRequest, "shipping_address.country", "two upper-case letters")
		}
		s.problem("POST", checkout, with(func(b map[string]any) { b["shipping_address"].(map[string]string)["zip"] = "1" }), http.StatusBadRequest, "unknown field")

		// Business rules at checkout.
		empty := s.newCart(map[string]string{"customer_email": "ada@example.com"})
		s.problem("POST", "/cart/carts/"+empty.ID+"/checkout", checkoutBody(""), http.StatusUnprocessableEntity, "empty")
		// The catalog moves a product to another currency after it was added.
		s.publish(product("MUG-350", "Mug", 950, "USD", 2), true)
		s.problem("POST", checkout, checkoutBody("ada@example.com"), http.StatusUnprocessableEntity, "MUG-350", "USD", "EUR")
		s.MustJSON(t, "DELETE", items+"MUG-350", nil, false, http.StatusOK, nil)
		// None of the refusals checked the cart out.
		if got := s.get(c.ID); got.Status != "open" || got.OrderID != "" {
			t.Fatalf("cart after refused checkouts = %+v", got)
		}
		if n := s.Metric(t, "bounded_cart_checkouts_total"); n != 0 {
			t.Fatalf("checkouts metric = %v", n)
		}
		s.checkout(c.ID, checkoutBody("ada@example.com"), http.StatusAccepted)
	})
}

// Concurrent checkouts of one cart make one order: one 202, the others 200
// with the same order id, one event.
func TestConcurrentCheckouts(t *testing.T) {
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		s := start(t, d, cart.Config{})
		s.publish(product("KETTLE-17", "Kettle", 3999, "EUR", 1), true)
		c := s.newCart(nil)
		s.put(c.ID, "KETTLE-17", 1)

		const n = 8
		var (
			wg        sync.WaitGroup
			mu        sync.Mutex
			accepted  int
			orderIDs  = map[string]bool{}
			responses []servicetest.Response
		)
		for range n {
			wg.Go(func() {
				r := servicetest.Do(t, s.URL, "POST", "/cart/carts/"+c.ID+"/checkout", checkoutBody("ada@example.com"), false)
				mu.Lock()
				defer mu.Unlock()
				responses = append(responses, r)
			})
		}
		wg.Wait()
		for _, r := range responses {
			var out checkedOutJSON
			r.Decode(t, &out)
			switch r.Status {
			case http.StatusAccepted:
				accepted++
			case http.StatusOK:
			default:
				t.Fatalf("checkout: %d %s", r.Status, r.Body)
			}
			orderIDs[out.OrderID] = true
		}
		if accepted != 1 || len(orderIDs) != 1 {
			t.Fatalf("%d accepted, order ids %v; want 1 and 1", accepted, orderIDs)
		}
		s.WaitPublished(t, events.CheckedOut, nil)
		time.Sleep(300 * time.Millisecond)
		if got := len(s.Published(events.CheckedOut)); got != 1 {
			t.Fatalf("%d events, want 1", got)
		}
	})
}

func TestConfigValidate(t *testing.T) {
	if err := (cart.Config{}).Validate(); err != nil {
		t.Fatal(err)
	}
	if err := (cart.Config{MaxLines: 500}).Validate(); err != nil {
		t.Fatal(err)
	}
	// Orders and Inventory dead-letter an order of more than 500 lines.
	for _, bad := range []cart.Config{{MaxLines: -1}, {MaxLines: 501}, {MaxLines: 1001}} {
		if err := bad.Validate(); err == nil {
			t.Errorf("%+v passed", bad)
		}
	}
	if err := cart.Spec(cart.Config{}).Validate(); err != nil {
		t.Fatal(err)
	}
}
