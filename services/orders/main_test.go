package orders_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/bounded-dev/bounded/platform/contract"
	"github.com/bounded-dev/bounded/platform/servicetest"
	"github.com/bounded-dev/bounded/platform/sqldb"
	"github.com/bounded-dev/bounded/platform/testenv"
	cartevents "github.com/bounded-dev/bounded/services/cart/events"
	catalogevents "github.com/bounded-dev/bounded/services/catalog/events"
	fulfillmentevents "github.com/bounded-dev/bounded/services/fulfillment/events"
	inventoryevents "github.com/bounded-dev/bounded/services/inventory/events"
	"github.com/bounded-dev/bounded/services/orders"
	paymentsevents "github.com/bounded-dev/bounded/services/payments/events"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// shop is the Orders service running on one dialect, shared by the
// subtests of one test (each uses its own orders and SKUs).
type shop struct {
	h      *servicetest.Harness
	parent testing.TB
}

func startShop(t *testing.T, d sqldb.Dialect) *shop {
	t.Helper()
	return &shop{h: servicetest.Start(t, d, orders.Spec(orders.Config{})), parent: t}
}

// parentCleanup is a subtest's TB whose cleanups run when the shop's test
// ends: Harness.Inject deletes the producer's stream in a cleanup, which at
// the end of a subtest would delete the durable consumers the next subtests
// need.
type parentCleanup struct {
	testing.TB
	parent testing.TB
}

func (p parentCleanup) Cleanup(f func()) { p.parent.Cleanup(f) }

func newID(t testing.TB) string {
	t.Helper()
	id, err := uuid.NewV7()
	if err != nil {
		t.Fatal(err)
	}
	return id.String()
}

var skuSeq atomic.Int64

// newSKU is a SKU no other subtest uses (product copies are shared).
func newSKU(prefix string) string { return fmt.Sprintf("%s-%d", prefix, skuSeq.Add(1)) }

// processed is how many events Orders' consumers have finished with:
// applied, found to be duplicates, or dead-lettered.
func (s *shop) processed(t testing.TB) float64 {
	t.Helper()
	var n float64
	for _, m := range []string{"bounded_inbox_handled_total", "bounded_inbox_duplicates_total", "bounded_inbox_dead_letters_total"} {
		n += s.h.Metric(t, m, "service", "orders")
	}
	return n
}

// deliver publishes an event as its producer would and waits until Orders
// has finished with it (applied or dead-lettered), so that subtests run
// events in a known order. It returns the event.
func (s *shop) deliver(t testing.TB, source, typ, subject string, payload any) contract.Event {
	t.Helper()
	before := s.processed(t)
	e := servicetest.Event(t, source, typ, subject, payload)
	s.h.Inject(parentCleanup{t, s.parent}, e)
	servicetest.Eventually(t, 15*time.Second, "orders to handle "+typ, func() bool { return s.processed(t) >= before+1 })
	return e
}

func (s *shop) product(t testing.TB, sku, name string, price int64, currency string, active bool, version int64) {
	t.Helper()
	s.deliver(t, catalogevents.Source, "catalog.product_updated.v2", sku, catalogevents.ProductUpdatedV2{SKU: sku, Name: name,
		ShortDescription: "short", LongDescription: "long", Description: "long", PriceCents: price, Currency: currency,
		Category: "kitchen", Active: active, Version: version})
}

func line(sku string, qty int, price, version int64) cartevents.Item {
	return cartevents.Item{SKU: sku, Name: "cart name of " + sku, Quantity: qty, UnitPriceCents: price, ProductVersion: version}
}

func checkoutOf(t testing.TB, orderID, email string, items ...cartevents.Item) cartevents.CheckedOutV1 {
	return cartevents.CheckedOutV1{CartID: newID(t), OrderID: orderID, CustomerEmail: email,
		ShippingAddress: cartevents.Address{Name: "Ada Lovelace", Line1: "12 St James's Square", City: "London", PostalCode: "SW1Y 4JH", Country: "GB"},
		PaymentToken:    "tok_visa_4242", Currency: "EUR", Items: items, CheckedOutAt: time.Now().UTC()}
}

func (s *shop) checkout(t testing.TB, c cartevents.CheckedOutV1) contract.Event {
	t.Helper()
	return s.deliver(t, cartevents.Source, "cart.checked_out.v1", c.CartID, c)
}

// placeOrder checks out a new order of one line of a fresh, known product
// and waits for its order_confirmed.
func (s *shop) placeOrder(t testing.TB, email string) string {
	t.Helper()
	sku := newSKU("ITEM")
	s.product(t, sku, "Item", 1000, "EUR", true, 1)
	id := newID(t)
	s.checkout(t, checkoutOf(t, id, email, line(sku, 2, 1000, 1)))
	s.waitEvents(t, id, "orders.order_confirmed")
	return id
}

func (s *shop) captured(t testing.TB, orderID, paymentID string) contract.Event {
	t.Helper()
	return s.deliver(t, paymentsevents.Source, "payments.payment_captured.v1", orderID, paymentsevents.PaymentCapturedV1{
		PaymentID: paymentID, OrderID: orderID, AmountCents: 2000, Currency: "EUR", Attempts: 1, CapturedAt: time.Now().UTC()})
}

func (s *shop) declined(t testing.TB, orderID, reason string) contract.Event {
	t.Helper()
	return s.declinedPayment(t, orderID, newID(t), reason)
}

func (s *shop) declinedPayment(t testing.TB, orderID, paymentID, reason string) contract.Event {
	t.Helper()
	return s.deliver(t, paymentsevents.Source, "payments.payment_declined.v1", orderID, paymentsevents.PaymentDeclinedV1{
		PaymentID: paymentID, OrderID: orderID, AmountCents: 2000, Currency: "EUR", Reason: reason, Attempts: 1, DeclinedAt: time.Now().UTC()})
}

func (s *shop) reserved(t testing.TB, orderID, reservationID string) contract.Event {
	t.Helper()
	return s.deliver(t, inventoryevents.Source, "inventory.reservation_confirmed.v1", orderID, inventoryevents.ReservationConfirmedV1{
		ReservationID: reservationID, OrderID: orderID, Items: []inventoryevents.Line{{SKU: "X-1", Quantity: 1}}, ConfirmedAt: time.Now().UTC()})
}

func (s *shop) reservationFailed(t testing.TB, orderID string, shortages ...inventoryevents.Shortage) contract.Event {
	t.Helper()
	return s.deliver(t, inventoryevents.Source, "inventory.reservation_failed.v1", orderID, inventoryevents.ReservationFailedV1{
		OrderID: orderID, Reason: "out_of_stock", Shortages: shortages, FailedAt: time.Now().UTC()})
}

func (s *shop) dispatched(t testing.TB, orderID, shipmentID string) contract.Event {
	t.Helper()
	return s.deliver(t, fulfillmentevents.Source, "fulfillment.shipment_dispatched.v1", orderID, fulfillmentevents.ShipmentDispatchedV1{
		ShipmentID: shipmentID, OrderID: orderID, Package: "small-box", Items: []fulfillmentevents.Line{{SKU: "X-1", Quantity: 1}},
		DispatchedAt: time.Now().UTC()})
}

// published returns the events Orders published about order id, in the
// order they arrived.
func (s *shop) published(id string) []contract.Event {
	var out []contract.Event
	for _, e := range s.h.Published("") {
		if e.Subject == id {
			out = append(out, e)
		}
	}
	return out
}

func names(es []contract.Event) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i], _, _ = contract.ParseType(e.Type)
	}
	return out
}

// waitEvents waits until Orders has published at least len(want) events
// about order id and checks that they are exactly want, in order. Since
// Orders' events about one order are published in the order they were
// recorded, an unwanted event recorded before the last wanted one is
// caught here.
func (s *shop) waitEvents(t testing.TB, id string, want ...string) []contract.Event {
	t.Helper()
	servicetest.Eventually(t, 15*time.Second, fmt.Sprintf("%d events about order %s", len(want), id), func() bool {
		return len(s.published(id)) >= len(want)
	})
	got := s.published(id)
	if !slices.Equal(names(got), want) {
		t.Fatalf("order %s: published %v, want %v", id, names(got), want)
	}
	return got
}

// quiet checks that nothing more than n events about order id is
// published for a while (for changes that must publish nothing).
func (s *shop) quiet(t testing.TB, id string, n int) {
	t.Helper()
	time.Sleep(300 * time.Millisecond)
	if got := s.published(id); len(got) != n {
		t.Fatalf("order %s: published %v, want only %d events", id, names(got), n)
	}
}

func decode[T any](t testing.TB, e contract.Event) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(e.Data, &v); err != nil {
		t.Fatalf("%s: %v", e.Type, err)
	}
	return v
}

// orderView is an order as GET /orders/{id} shows it (the test's own type).
type orderView struct {
	ID              string `json:"id"`
	Status          string `json:"status"`
	CancelReason    string `json:"cancel_reason"`
	CancelDetail    string `json:"cancel_detail"`
	CustomerEmail   string `json:"customer_email"`
	ShippingAddress struct {
		Name       string `json:"name"`
		Line1      string `json:"line1"`
		City       string `json:"city"`
		PostalCode string `json:"postal_code"`
		Country    string `json:"country"`
	} `json:"shipping_address"`
	Currency string `json:"currency"`
	Items    []struct {
		SKU            string `json:"sku"`
		Name           string `json:"name"`
		Quantity       int    `json:"quantity"`
		UnitPriceCents int64  `json:"unit_price_cents"`
		LineTotalCents int64  `json:"line_total_cents"`
	} `json:"items"`
	TotalCents    int64  `json:"total_cents"`
	Paid          bool   `json:"paid"`
	Reserved      bool   `json:"reserved"`
	PaymentID     string `json:"payment_id"`
	ReservationID string `json:"reservation_id"`
	ShipmentID    string `json:"shipment_id"`
	History       []struct {
		Status string    `json:"status"`
		At     time.Time `json:"at"`
		Reason string    `json:"reason"`
	} `json:"history"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func (o orderView) statuses() []string {
	out := make([]string, len(o.History))
	for i, h := range o.History {
		out[i] = h.Status
	}
	return out
}

func (s *shop) order(t testing.TB, id string) orderView {
	t.Helper()
	var o orderView
	s.h.MustJSON(t, "GET", "/orders/orders/"+id, nil, false, http.StatusOK, &o)
	return o
}

// deadLetter returns Orders' dead letter of event id (failing the test
// when there is none).
type deadLetter struct {
	EventID  string `json:"event_id"`
	Error    string `json:"error"`
	Attempts int    `json:"attempts"`
}

func (s *shop) deadLetter(t testing.TB, eventID string) deadLetter {
	t.Helper()
	var out struct {
		DeadLetters []deadLetter `json:"dead_letters"`
	}
	s.h.MustJSON(t, "GET", "/ops/dead-letters?service=orders", nil, true, http.StatusOK, &out)
	for _, dl := range out.DeadLetters {
		if dl.EventID == eventID {
			return dl
		}
	}
	t.Fatalf("no dead letter of event %s among %+v", eventID, out.DeadLetters)
	return deadLetter{}
}

func contains(t testing.TB, what, s, sub string) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Fatalf("%s = %q, want it to contain %q", what, s, sub)
	}
}
