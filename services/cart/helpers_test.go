package cart_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bounded-dev/bounded/platform/contract"
	"github.com/bounded-dev/bounded/platform/servicetest"
	"github.com/bounded-dev/bounded/platform/sqldb"
	"github.com/bounded-dev/bounded/platform/testenv"
	"github.com/bounded-dev/bounded/services/cart"
	catalogevents "github.com/bounded-dev/bounded/services/catalog/events"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// The API's JSON, as a client reads it.
type item struct {
	SKU                 string `json:"sku"`
	Name                string `json:"name"`
	Quantity            int    `json:"quantity"`
	UnitPriceCents      int64  `json:"unit_price_cents"`
	PriceWhenAddedCents int64  `json:"price_when_added_cents"`
	PriceChanged        bool   `json:"price_changed"`
	LineTotalCents      int64  `json:"line_total_cents"`
	Available           bool   `json:"available"`
}

type cartJSON struct {
	ID            string     `json:"id"`
	Status        string     `json:"status"`
	CustomerEmail string     `json:"customer_email"`
	Items         []item     `json:"items"`
	TotalCents    int64      `json:"total_cents"`
	Currency      string     `json:"currency"`
	OrderID       string     `json:"order_id"`
	OrderURL      string     `json:"order_url"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
	CheckedOutAt  *time.Time `json:"checked_out_at"`
}

type checkedOutJSON struct {
	OrderID  string `json:"order_id"`
	CartID   string `json:"cart_id"`
	Status   string `json:"status"`
	OrderURL string `json:"order_url"`
}

// shop is the Cart service under test, with helpers to drive it.
type shop struct {
	*servicetest.Harness
	t       *testing.T
	applied float64 // product events applied so far
	stale   float64 // product events ignored as stale so far
}

func start(t *testing.T, d sqldb.Dialect, cfg cart.Config) *shop {
	return &shop{Harness: servicetest.Start(t, d, cart.Spec(cfg)), t: t}
}

func product(sku, name string, price int64, currency string, version int64) catalogevents.ProductUpdatedV2 {
	return catalogevents.ProductUpdatedV2{SKU: sku, Name: name, ShortDescription: name, LongDescription: name + ", described",
		Description: name + ", described", PriceCents: price, Currency: currency, Category: "kitchen", Active: true, Version: version}
}

// publish injects catalog.product_updated.v2 about p and waits until Cart
// has applied it (applied) or ignored it as stale (!applied).
func (s *shop) publish(p catalogevents.ProductUpdatedV2, applied bool) contract.Event {
	s.t.Helper()
	e := servicetest.Event(s.t, catalogevents.Source, contract.TypeName(catalogevents.ProductUpdated, 2), p.SKU, p)
	s.inject(e, applied)
	return e
}

// publishV1 is publish with a v1 payload.
func (s *shop) publishV1(p catalogevents.ProductUpdatedV1, applied bool) {
	s.t.Helper()
	s.inject(servicetest.Event(s.t, catalogevents.Source, contract.TypeName(catalogevents.ProductUpdated, 1), p.SKU, p), applied)
}

func (s *shop) inject(e contract.Event, applied bool) {
	s.t.Helper()
	s.Inject(s.t, e)
	if applied {
		s.applied++
	} else {
		s.stale++
	}
	s.waitProductUpdates()
}

// waitProductUpdates waits until the product events counted so far are
// handled, and fails if more were.
func (s *shop) waitProductUpdates() {
	s.t.Helper()
	servicetest.Eventually(s.t, 15*time.Second, "product events handled", func() bool {
		return s.Metric(s.t, "bounded_cart_product_updates_total", "result", "applied") >= s.applied &&
			s.Metric(s.t, "bounded_cart_product_updates_total", "result", "stale") >= s.stale
	})
	if a, st := s.Metric(s.t, "bounded_cart_product_updates_total", "result", "applied"), s.Metric(s.t, "bounded_cart_product_updates_total", "result", "stale"); a != s.applied || st != s.stale {
		s.t.Fatalf("product events: %v applied, %v stale; want %v and %v", a, st, s.applied, s.stale)
	}
}

func (s *shop) newCart(body any) cartJSON {
	s.t.Helper()
	var c cartJSON
	s.MustJSON(s.t, "POST", "/cart/carts", body, false, http.StatusCreated, &c)
	return c
}

func (s *shop) get(id string) cartJSON {
	s.t.Helper()
	var c cartJSON
	s.MustJSON(s.t, "GET", "/cart/carts/"+id, nil, false, http.StatusOK, &c)
	return c
}

func (s *shop) put(id, sku string, quantity int) cartJSON {
	s.t.Helper()
	var c cartJSON
	s.MustJSON(s.t, "PUT", "/cart/carts/"+id+"/items/"+sku, map[string]int{"quantity": quantity}, false, http.StatusOK, &c)
	return c
}

func (s *shop) checkout(id string, body any, want int) checkedOutJSON {
	s.t.Helper()
	var out checkedOutJSON
	s.MustJSON(s.t, "POST", "/cart/carts/"+id+"/checkout", body, false, want, &out)
	return out
}

// problem expects a problem with status want whose detail contains every
// one of phrases.
func (s *shop) problem(method, path string, body any, want int, phrases ...string) {
	s.t.Helper()
	detail := s.MustProblem(s.t, method, path, body, false, want)
	for _, p := range phrases {
		if !strings.Contains(detail, p) {
			s.t.Errorf("%s %s: detail %q does not say %q", method, path, detail, p)
		}
	}
}

func address() map[string]string {
	return map[string]string{"name": "Ada Lovelace", "line1": "12 St James's Square", "city": "London",
		"postal_code": "SW1Y 4JH", "country": "GB"}
}

func checkoutBody(email string) map[string]any {
	b := map[string]any{"shipping_address": address(), "payment_token": "tok_visa"}
	if email != "" {
		b["customer_email"] = email
	}
	return b
}

func line(t *testing.T, c cartJSON, sku string) item {
	t.Helper()
	for _, it := range c.Items {
		if it.SKU == sku {
			return it
		}
	}
	t.Fatalf("cart %s has no line %s: %+v", c.ID, sku, c.Items)
	return item{}
}

func repeat(s string, n int) string { return strings.Repeat(s, n) }

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }
