package orders_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/bounded-dev/bounded/platform/httpapi"
	"github.com/bounded-dev/bounded/platform/servicetest"
	"github.com/bounded-dev/bounded/platform/sqldb"
	"github.com/bounded-dev/bounded/services/orders"
)

type orderList struct {
	Orders []struct {
		ID            string `json:"id"`
		Status        string `json:"status"`
		CancelReason  string `json:"cancel_reason"`
		CustomerEmail string `json:"customer_email"`
		TotalCents    int64  `json:"total_cents"`
		Paid          bool   `json:"paid"`
	} `json:"orders"`
	Count int `json:"count"`
}

func (l orderList) ids() []string {
	out := make([]string, len(l.Orders))
	for i, o := range l.Orders {
		out[i] = o.ID
	}
	return out
}

func TestHTTP(t *testing.T) {
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		s := startShop(t, d)
		email := "list-" + newSKU("c") + "@example.com"
		first := s.placeOrder(t, email)
		second := s.placeOrder(t, email)
		third := s.placeOrder(t, email)
		s.declined(t, second, "card_declined")
		s.waitEvents(t, second, confirmed, cancelled)
		other := s.placeOrder(t, "someone-else@example.com")

		t.Run("list, newest first, with filters", func(t *testing.T) {
			var l orderList
			s.h.MustJSON(t, "GET", "/orders/orders?customer_email="+url.QueryEscape(email), nil, false, http.StatusOK, &l)
			if want := []string{third, second, first}; !slices.Equal(l.ids(), want) || l.Count != 3 {
				t.Fatalf("list = %+v, want %v", l, want)
			}
			if l.Orders[1].Status != "cancelled" || l.Orders[1].CancelReason != "payment_declined" || l.Orders[0].TotalCents != 2000 ||
				l.Orders[0].CustomerEmail != email {
				t.Fatalf("list = %+v", l)
			}
			s.h.MustJSON(t, "GET", "/orders/orders?limit=2&customer_email="+url.QueryEscape(email), nil, false, http.StatusOK, &l)
			if want := []string{third, second}; !slices.Equal(l.ids(), want) {
				t.Fatalf("limit 2: %v, want %v", l.ids(), want)
			}
			s.h.MustJSON(t, "GET", "/orders/orders?status=cancelled&customer_email="+url.QueryEscape(email), nil, false, http.StatusOK, &l)
			if want := []string{second}; !slices.Equal(l.ids(), want) {
				t.Fatalf("cancelled: %v, want %v", l.ids(), want)
			}
			s.h.MustJSON(t, "GET", "/orders/orders?status=shipped&customer_email="+url.QueryEscape(email), nil, false, http.StatusOK, &l)
			if l.Orders == nil || len(l.Orders) != 0 {
				t.Fatalf("shipped: %+v, want an empty list", l)
			}
			s.h.MustJSON(t, "GET", "/orders/orders?status=confirmed", nil, false, http.StatusOK, &l)
			if !slices.Contains(l.ids(), other) || slices.Contains(l.ids(), second) {
				t.Fatalf("confirmed: %v", l.ids())
			}
			s.h.MustJSON(t, "GET", "/orders/orders", nil, false, http.StatusOK, &l)
			if l.Count != 4 || l.Orders[0].ID != other {
				t.Fatalf("all: %v", l.ids())
			}
		})

		t.Run("bad query parameters", func(t *testing.T) {
			for q, want := range map[string]string{
				"limit=0":               "limit",
				"limit=501":             "limit",
				"limit=ten":             "limit",
				"limit=1&limit=2":       "once",
				"status=lost":           "status",
				"status=new":            "status",
				"customer_email=nobody": "email",
				"sort=asc":              "unknown query parameter",
				"limit=%zz":             "malformed",
			} {
				contains(t, q, s.h.MustProblem(t, "GET", "/orders/orders?"+q, nil, false, http.StatusBadRequest), want)
			}
		})

		t.Run("unknown and malformed ids", func(t *testing.T) {
			unknown := newID(t)
			contains(t, "detail", s.h.MustProblem(t, "GET", "/orders/orders/"+unknown, nil, false, http.StatusNotFound), unknown)
			contains(t, "detail", s.h.MustProblem(t, "GET", "/orders/orders/"+unknown+"/page", nil, false, http.StatusNotFound), unknown)
			for _, bad := range []string{"42", "not-a-uuid", "0195A8F2-7C1E-7B3A-9D4E-2F6B8C0A1E3", "%00"} {
				contains(t, bad, s.h.MustProblem(t, "GET", "/orders/orders/"+bad, nil, false, http.StatusNotFound), "UUID")
				contains(t, bad, s.h.MustProblem(t, "GET", "/orders/orders/"+bad+"/page", nil, false, http.StatusNotFound), "UUID")
			}
			// Ids are case-insensitive UUIDs.
			var o orderView
			s.h.MustJSON(t, "GET", "/orders/orders/"+upper(first), nil, false, http.StatusOK, &o)
			if o.ID != first {
				t.Fatalf("order %s = %+v", upper(first), o)
			}
			s.h.MustProblem(t, "POST", "/orders/orders/"+first, "{}", false, http.StatusMethodNotAllowed)
			s.h.MustProblem(t, "GET", "/orders/nothing", nil, false, http.StatusNotFound)
		})

		t.Run("order page with the peers unavailable", func(t *testing.T) {
			// Neither Payments nor Fulfillment runs here: the page shows
			// the order, and names both as unavailable.
			r := s.h.Do(t, "GET", "/orders/orders/"+first+"/page", nil, false)
			if r.Status != http.StatusOK {
				t.Fatalf("page: %d %s", r.Status, r.Body)
			}
			var raw map[string]json.RawMessage
			r.Decode(t, &raw)
			if string(raw["payments"]) != "null" || string(raw["shipments"]) != "null" {
				t.Fatalf("page: payments %s, shipments %s, want null", raw["payments"], raw["shipments"])
			}
			var page struct {
				Order       orderView `json:"order"`
				Unavailable []string  `json:"unavailable"`
			}
			r.Decode(t, &page)
			if page.Order.ID != first || page.Order.Status != "confirmed" || len(page.Order.Items) != 1 {
				t.Fatalf("page order = %+v", page.Order)
			}
			if want := []string{"payments", "fulfillment"}; !slices.Equal(page.Unavailable, want) {
				t.Fatalf("unavailable = %v, want %v", page.Unavailable, want)
			}
		})

		t.Run("OpenAPI document", func(t *testing.T) {
			spec := orders.Spec(orders.Config{})
			if err := httpapi.CheckOpenAPI(spec.OpenAPI, s.h.Host.Routes("orders")); err != nil {
				t.Fatal(err)
			}
			var doc struct {
				OpenAPI string         `json:"openapi"`
				Paths   map[string]any `json:"paths"`
			}
			s.h.MustJSON(t, "GET", "/orders/openapi.json", nil, false, http.StatusOK, &doc)
			if doc.OpenAPI != "3.1.0" || len(doc.Paths) != 5 { // /orders, /orders/{id}, its page, /stats, /openapi.json
				t.Fatalf("served document: %+v", doc)
			}
		})
	})
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

func TestConfig(t *testing.T) {
	if err := (orders.Config{}).Validate(); err != nil {
		t.Fatal(err)
	}
	if err := (orders.Config{PeerTimeout: -1}).Validate(); err == nil {
		t.Fatal("a negative PeerTimeout passed")
	}
	spec := orders.Spec(orders.Config{})
	if err := spec.Validate(); err != nil {
		t.Fatal(err)
	}
	if spec.Name != "orders" || len(spec.Consumes) != 7 || len(spec.Calls) != 2 {
		t.Fatalf("spec: %s, %d consumptions, %d calls", spec.Name, len(spec.Consumes), len(spec.Calls))
	}
}
