package reporting_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/bounded-dev/bounded/platform/contract"
	"github.com/bounded-dev/bounded/platform/servicetest"
	"github.com/bounded-dev/bounded/platform/sqldb"
	"github.com/bounded-dev/bounded/platform/testenv"
	"github.com/bounded-dev/bounded/platform/toolkittest"
	cartevents "github.com/bounded-dev/bounded/services/cart/events"
	catalogevents "github.com/bounded-dev/bounded/services/catalog/events"
	fulfillmentevents "github.com/bounded-dev/bounded/services/fulfillment/events"
	inventoryevents "github.com/bounded-dev/bounded/services/inventory/events"
	ordersevents "github.com/bounded-dev/bounded/services/orders/events"
	paymentsevents "github.com/bounded-dev/bounded/services/payments/events"
	"github.com/bounded-dev/bounded/services/reporting"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// warehouse is the Reporting service under test, fed by injected events
// built with each producer's own constructors.
type warehouse struct {
	*servicetest.Harness
	injected int // events injected so far (each handled, duplicate or dead-lettered once)
	// replica, when set, is a second replica sharing the live consumers.
	replica *servicetest.Replica
}

func start(t *testing.T, d sqldb.Dialect) *warehouse {
	t.Helper()
	return &warehouse{Harness: servicetest.Start(t, d, reporting.Spec(reporting.Config{}))}
}

func newID(t testing.TB) string {
	t.Helper()
	id, err := uuid.NewV7()
	if err != nil {
		t.Fatal(err)
	}
	return id.String()
}

// must returns e, panicking on err: the tests' events are built from
// constants, so an error is a mistake in the test.
func must(e contract.Event, err error) contract.Event {
	if err != nil {
		panic(err)
	}
	return e
}

// applied is how many events the consumers have finished with: handled,
// dropped as duplicates, or dead-lettered.
func (w *warehouse) applied(t testing.TB) int {
	t.Helper()
	n := 0.0
	for _, m := range []string{"bounded_inbox_handled_total", "bounded_inbox_duplicates_total", "bounded_inbox_dead_letters_total"} {
		n += w.Metric(t, m, "service", "reporting")
		if w.replica != nil {
			n += w.replica.Metric(t, m, "service", "reporting")
		}
	}
	return int(n)
}

// load injects events and waits until every one has been applied. Events
// of different producers are applied in any order.
func (w *warehouse) load(t testing.TB, es ...contract.Event) {
	t.Helper()
	for _, e := range es {
		w.Inject(t, e)
		w.injected++
	}
	w.settle(t)
}

// loadInOrder applies events one at a time, in exactly this order.
func (w *warehouse) loadInOrder(t testing.TB, es ...contract.Event) {
	t.Helper()
	for _, e := range es {
		w.load(t, e)
	}
}

func (w *warehouse) settle(t testing.TB) {
	t.Helper()
	servicetest.Eventually(t, 20*time.Second, fmt.Sprintf("%d events applied", w.injected), func() bool {
		return w.applied(t) >= w.injected
	})
}

// redeliver publishes e again as JetStream would redeliver it: the same
// event id, past the stream's duplicate window, so that only the inbox
// stands between it and a second effect.
func (w *warehouse) redeliver(t testing.TB, e contract.Event) {
	t.Helper()
	msg := &nats.Msg{Subject: w.Host.SubjectOf(e.Type), Header: nats.Header(e.Header()), Data: e.Data}
	if _, err := w.JS.PublishMsg(toolkittest.Context(t), msg); err != nil {
		t.Fatal(err)
	}
	w.injected++
	w.settle(t)
}

// again is e under a new id: the same fact, sent again by its producer.
func again(t testing.TB, e contract.Event) contract.Event {
	t.Helper()
	e.ID = newID(t)
	return e
}

// report returns the data of report name for the query (e.g. "from=...").
func (w *warehouse) report(t testing.TB, name, query string, out any) {
	t.Helper()
	var r struct {
		Report string          `json:"report"`
		Data   json.RawMessage `json:"data"`
	}
	path := "/reporting/reports/" + name
	if query != "" {
		path += "?" + query
	}
	w.MustJSON(t, "GET", path, nil, false, http.StatusOK, &r)
	if r.Report != name {
		t.Fatalf("GET %s: report %q", path, r.Report)
	}
	if err := json.Unmarshal(r.Data, out); err != nil {
		t.Fatalf("GET %s: %v: %s", path, err, r.Data)
	}
}

func (w *warehouse) history(t testing.TB, email string) []reporting.HistoryOrder {
	t.Helper()
	var out struct {
		Orders []reporting.HistoryOrder `json:"orders"`
	}
	w.MustJSON(t, "GET", "/reporting/order-history?customer_email="+url.QueryEscape(email), nil, false, http.StatusOK, &out)
	return out.Orders
}

func (w *warehouse) watermarks(t testing.TB) map[string]reporting.Watermark {
	t.Helper()
	var out struct {
		Streams []reporting.Watermark `json:"streams"`
	}
	w.MustJSON(t, "GET", "/reporting/watermarks", nil, false, http.StatusOK, &out)
	m := map[string]reporting.Watermark{}
	for _, s := range out.Streams {
		m[s.Stream] = s
	}
	return m
}

// --- events, built with the producers' constructors

type line struct {
	sku   string
	qty   int
	price int64
}

func product(t testing.TB, sku, name, category string, version int64) contract.Event {
	t.Helper()
	return must(catalogevents.NewProductUpdated(2, catalogevents.ProductState{SKU: sku, Name: name, ShortDescription: name + ".",
		LongDescription: name + ", described.", PriceCents: 100, Currency: "EUR", Category: category, Active: true, Version: version}))
}

func category(t testing.TB, slug, name string) contract.Event {
	t.Helper()
	return must(catalogevents.NewCategoryUpdated(catalogevents.CategoryUpdatedV1{Slug: slug, Name: name, Version: 1}))
}

func checkedOut(t testing.TB, order, email string, at time.Time, lines ...line) contract.Event {
	t.Helper()
	v := cartevents.CheckedOutV1{CartID: newID(t), OrderID: order, CustomerEmail: email, PaymentToken: "tok_approve", Currency: "EUR",
		ShippingAddress: cartevents.Address{Name: "Ada", Line1: "1 St", City: "London", PostalCode: "N1", Country: "GB"}, CheckedOutAt: at}
	for _, l := range lines {
		v.Items = append(v.Items, cartevents.Item{SKU: l.sku, Name: "Item " + l.sku, Quantity: l.qty, UnitPriceCents: l.price, ProductVersion: 1})
	}
	return must(cartevents.NewCheckedOut(v))
}

func confirmed(t testing.TB, order, email string, at time.Time, lines ...line) contract.Event {
	t.Helper()
	v := ordersevents.OrderConfirmedV1{OrderID: order, CartID: newID(t), CustomerEmail: email, PaymentToken: "tok_approve", Currency: "EUR",
		ShippingAddress: ordersevents.Address{Name: "Ada", Line1: "1 St", City: "London", PostalCode: "N1", Country: "GB"}, ConfirmedAt: at}
	for _, l := range lines {
		v.Items = append(v.Items, ordersevents.Item{SKU: l.sku, Name: "Item " + l.sku, Quantity: l.qty, UnitPriceCents: l.price})
		v.TotalCents += int64(l.qty) * l.price
	}
	return must(ordersevents.NewOrderConfirmed(v))
}

func orderPaid(t testing.TB, order string, total int64, at time.Time) contract.Event {
	t.Helper()
	return must(ordersevents.NewOrderPaid(ordersevents.OrderPaidV1{OrderID: order, PaymentID: newID(t), TotalCents: total, Currency: "EUR", PaidAt: at}))
}

func orderReserved(t testing.TB, order string, at time.Time) contract.Event {
	t.Helper()
	return must(ordersevents.NewOrderReserved(ordersevents.OrderReservedV1{OrderID: order, ReservationID: newID(t), ReservedAt: at}))
}

func orderShipped(t testing.TB, order string, at time.Time) contract.Event {
	t.Helper()
	return must(ordersevents.NewOrderShipped(ordersevents.OrderShippedV1{OrderID: order, ShipmentID: newID(t), ShippedAt: at}))
}

func orderCancelled(t testing.TB, order, reason, previous string, total int64, at time.Time) contract.Event {
	t.Helper()
	return must(ordersevents.NewOrderCancelled(ordersevents.OrderCancelledV1{OrderID: order, Reason: reason, PreviousStatus: previous,
		TotalCents: total, Currency: "EUR", CancelledAt: at}))
}

func captured(t testing.TB, payment, order string, amount int64, at time.Time) contract.Event {
	t.Helper()
	return must(paymentsevents.NewPaymentCaptured(paymentsevents.PaymentCapturedV1{PaymentID: payment, OrderID: order,
		AmountCents: amount, Currency: "EUR", Attempts: 1, CapturedAt: at}))
}

func declined(t testing.TB, payment, order string, amount int64, reason string, at time.Time) contract.Event {
	t.Helper()
	return must(paymentsevents.NewPaymentDeclined(paymentsevents.PaymentDeclinedV1{PaymentID: payment, OrderID: order,
		AmountCents: amount, Currency: "EUR", Reason: reason, Attempts: 1, DeclinedAt: at}))
}

func refunded(t testing.TB, refund, payment, order string, amount int64, at time.Time) contract.Event {
	t.Helper()
	return must(paymentsevents.NewRefundIssued(paymentsevents.RefundIssuedV1{RefundID: refund, PaymentID: payment, OrderID: order,
		AmountCents: amount, Currency: "EUR", Reason: ordersevents.ReasonOutOfStock, RefundedAt: at}))
}

func reservationConfirmed(t testing.TB, order string, at time.Time, lines ...line) contract.Event {
	t.Helper()
	v := inventoryevents.ReservationConfirmedV1{ReservationID: newID(t), OrderID: order, ConfirmedAt: at}
	for _, l := range lines {
		v.Items = append(v.Items, inventoryevents.Line{SKU: l.sku, Quantity: l.qty})
	}
	return must(inventoryevents.NewReservationConfirmed(v))
}

func reservationReleased(t testing.TB, order string, at time.Time, lines ...line) contract.Event {
	t.Helper()
	v := inventoryevents.ReservationReleasedV1{ReservationID: newID(t), OrderID: order, Reason: ordersevents.ReasonPaymentDeclined, ReleasedAt: at}
	for _, l := range lines {
		v.Items = append(v.Items, inventoryevents.Line{SKU: l.sku, Quantity: l.qty})
	}
	return must(inventoryevents.NewReservationReleased(v))
}

func reservationFailed(t testing.TB, order, sku string, requested, available int, at time.Time) contract.Event {
	t.Helper()
	return must(inventoryevents.NewReservationFailed(inventoryevents.ReservationFailedV1{OrderID: order, Reason: inventoryevents.FailureOutOfStock,
		Shortages: []inventoryevents.Shortage{{SKU: sku, Requested: requested, Available: available}}, FailedAt: at}))
}

func stockChanged(t testing.TB, sku string, dOnHand, onHand int, reason, ref string, at time.Time) contract.Event {
	t.Helper()
	return must(inventoryevents.NewStockChanged(inventoryevents.StockChangedV1{SKU: sku, DeltaOnHand: dOnHand, OnHand: onHand,
		ReorderPoint: 10, Reason: reason, Ref: ref, ChangedAt: at}))
}

func poPlaced(t testing.TB, po, sku string, qty int, at time.Time) contract.Event {
	t.Helper()
	return must(inventoryevents.NewPurchaseOrderPlaced(inventoryevents.PurchaseOrderPlacedV1{PurchaseOrderID: po, SKU: sku,
		Name: "Item " + sku, Description: "Described.", Quantity: qty, PlacedAt: at}))
}

func poFlagged(t testing.TB, po, sku string, at time.Time) contract.Event {
	t.Helper()
	return must(inventoryevents.NewPurchaseOrderFlagged(inventoryevents.PurchaseOrderFlaggedV1{PurchaseOrderID: po, SKU: sku,
		Missing: []string{inventoryevents.MissingDescription}, FlaggedAt: at}))
}

func shipmentCreated(t testing.TB, shipment, order string, at time.Time, lines ...line) contract.Event {
	t.Helper()
	v := fulfillmentevents.ShipmentCreatedV1{ShipmentID: shipment, OrderID: order, Package: "small_box", CreatedAt: at}
	for _, l := range lines {
		v.Items = append(v.Items, fulfillmentevents.Line{SKU: l.sku, Quantity: l.qty})
	}
	return must(fulfillmentevents.NewShipmentCreated(v))
}

func shipmentDispatched(t testing.TB, shipment, order string, at time.Time, lines ...line) contract.Event {
	t.Helper()
	v := fulfillmentevents.ShipmentDispatchedV1{ShipmentID: shipment, OrderID: order, Package: "small_box", DispatchedAt: at}
	for _, l := range lines {
		v.Items = append(v.Items, fulfillmentevents.Line{SKU: l.sku, Quantity: l.qty})
	}
	return must(fulfillmentevents.NewShipmentDispatched(v))
}
