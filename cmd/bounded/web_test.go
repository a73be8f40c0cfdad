package main

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestWebFrontEnd: `bounded up` serves the shop's pages under /shop/, sends
// browsers there from /, still answers other clients the JSON index, and
// its services accept the requests the pages make, as the pages make them.
func TestWebFrontEnd(t *testing.T) { eachMode(t, webFrontEnd) }

func webFrontEnd(t *testing.T, startShop startFunc) {
	s := startShop(t, "")
	client := &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	fetch := func(t *testing.T, path, accept string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest("GET", s.base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, body
	}

	t.Run("a browser at / is sent to /shop/", func(t *testing.T) {
		// What browsers send when following a link or typing the address.
		resp, _ := fetch(t, "/", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/shop/" {
			t.Fatalf("GET / (Accept: text/html): %d Location %q, want 302 /shop/", resp.StatusCode, resp.Header.Get("Location"))
		}
		if !slices.Contains(resp.Header.Values("Vary"), "Accept") {
			t.Errorf("GET /: Vary %q, want Accept", resp.Header.Values("Vary"))
		}
	})

	t.Run("other clients at / get the JSON index", func(t *testing.T) {
		for _, accept := range []string{"", "application/json", "*/*"} {
			resp, body := fetch(t, "/", accept)
			var index struct {
				Name      string
				Endpoints []string
				Services  map[string]string
			}
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("GET / (Accept %q): %d %q", accept, resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			if err := json.Unmarshal(body, &index); err != nil || index.Name != "bounded" || len(index.Services) != len(shopServiceNames()) {
				t.Fatalf("GET / (Accept %q): %v %s", accept, err, body)
			}
			if !slices.Contains(index.Endpoints, "/shop/") {
				t.Errorf("the index's endpoints %v do not list /shop/", index.Endpoints)
			}
		}
	})

	t.Run("pages and assets", func(t *testing.T) {
		for path, ct := range map[string]string{
			"/shop/":                     "text/html; charset=utf-8",
			"/shop/cart":                 "text/html; charset=utf-8",
			"/shop/checkout":             "text/html; charset=utf-8",
			"/shop/orders":               "text/html; charset=utf-8",
			"/shop/orders/some-order-id": "text/html; charset=utf-8",
			"/shop/assets/app.css":       "text/css; charset=utf-8",
			"/shop/assets/js/app.js":     "text/javascript; charset=utf-8",
			"/shop/assets/icon.svg":      "image/svg+xml",
		} {
			if resp, _ := fetch(t, path, ""); resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != ct {
				t.Errorf("GET %s: %d %q, want 200 %q", path, resp.StatusCode, resp.Header.Get("Content-Type"), ct)
			}
		}
		if resp, _ := fetch(t, "/shop", "text/html"); resp.StatusCode/100 != 3 || resp.Header.Get("Location") != "/shop/" {
			t.Errorf("GET /shop: %d Location %q, want a redirect to /shop/", resp.StatusCode, resp.Header.Get("Location"))
		}
		for _, path := range []string{"/shop/assets/nope.js", "/shop/assets/", "/shop/nope"} {
			if resp, _ := fetch(t, path, ""); resp.StatusCode != http.StatusNotFound || resp.Header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("GET %s: %d %q, want a 404 problem", path, resp.StatusCode, resp.Header.Get("Content-Type"))
			}
		}
	})

	// The lists the pages read, with the query strings api.js builds: the
	// OpenAPI documents name the parameters (a test in package web checks
	// that), the services decide which values they take.
	t.Run("the pages' list requests are accepted", func(t *testing.T) {
		for _, path := range []string{
			"/catalog/categories?limit=500",
			"/catalog/products?active=true&limit=500",
			"/inventory/stock?limit=500",
			"/orders/orders?limit=100",
			"/orders/orders?limit=100&status=shipped&customer_email=ada%40example.com",
		} {
			if resp, body := fetch(t, path, "application/json"); resp.StatusCode != http.StatusOK {
				t.Errorf("GET %s: %d %s", path, resp.StatusCode, body)
			}
		}
	})

	// The storefront's flow, call for call: an empty cart, a line, the
	// checkout the form sends, then the order page until it settles.
	t.Run("the storefront's flow", func(t *testing.T) {
		var ps struct{ Products []productJSON }
		s.get(t, "/catalog/products?active=true&limit=500", &ps)
		if len(ps.Products) == 0 {
			t.Fatal("no products")
		}
		var c cartJSON
		s.must(t, "POST", "/cart/carts", map[string]any{}, false, http.StatusCreated, &c)
		s.must(t, "GET", "/cart/carts/"+c.ID, nil, false, http.StatusOK, nil)
		// Cart learns of products from Catalog's events: on a new shop a
		// product may be unknown to it for a moment (422).
		eventually(t, "the cart to take "+ps.Products[0].SKU, func() bool {
			r := s.do(t, "PUT", "/cart/carts/"+c.ID+"/items/"+ps.Products[0].SKU, map[string]int{"quantity": 2}, false)
			if r.Status != http.StatusOK && r.Status != http.StatusUnprocessableEntity {
				t.Fatalf("PUT item: %d %s", r.Status, r.Body)
			}
			return r.Status == http.StatusOK
		})
		var co checkoutJSON
		s.must(t, "POST", "/cart/carts/"+c.ID+"/checkout", map[string]any{"customer_email": "web@example.com",
			"shipping_address": testAddress, "payment_token": "tok_flaky"}, false, http.StatusAccepted, &co)
		var page struct {
			Order struct {
				Status  string
				History []struct{ Status string }
			}
			Payments    []struct{ Attempts []struct{ Outcome string } }
			Shipments   []struct{ Status string }
			Unavailable []string
		}
		eventually(t, "the order page to show the order shipped", func() bool {
			r := s.do(t, "GET", "/orders/orders/"+co.OrderID+"/page", nil, false)
			if r.Status == http.StatusNotFound {
				return false // Orders has not created it yet
			}
			r.Decode(t, &page)
			return page.Order.Status == "shipped" && len(page.Shipments) == 1 && page.Shipments[0].Status == "dispatched"
		})
		if len(page.Payments) != 1 || len(page.Payments[0].Attempts) != 3 || len(page.Unavailable) != 0 {
			t.Errorf("order page: %+v, want one payment of three attempts (tok_flaky)", page)
		}
		var list struct{ Orders []struct{ ID string } }
		s.get(t, "/orders/orders?limit=100&customer_email=web%40example.com", &list)
		if len(list.Orders) != 1 || list.Orders[0].ID != co.OrderID {
			t.Errorf("orders of web@example.com: %+v", list.Orders)
		}
		if r := s.do(t, "GET", "/orders/orders/not-an-id/page", nil, false); r.Status != http.StatusNotFound ||
			!strings.Contains(string(r.Body), `"detail"`) {
			t.Errorf("an unknown order's page: %d %s, want a 404 problem with a detail", r.Status, r.Body)
		}
	})
}
