package fulfillment_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/bounded-dev/bounded/platform/contract"
	"github.com/bounded-dev/bounded/platform/servicetest"
	"github.com/bounded-dev/bounded/platform/sqldb"
	"github.com/bounded-dev/bounded/platform/testenv"
	"github.com/bounded-dev/bounded/platform/toolkittest"
	"github.com/bounded-dev/bounded/services/fulfillment"
	"github.com/bounded-dev/bounded/services/fulfillment/events"
	inventoryevents "github.com/bounded-dev/bounded/services/inventory/events"
	ordersevents "github.com/bounded-dev/bounded/services/orders/events"
	paymentsevents "github.com/bounded-dev/bounded/services/payments/events"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// shop is the Fulfillment service under test, fed by injected events.
type shop struct {
	*servicetest.Harness
	injected int // events injected so far (each handled, duplicate or dead-lettered once)
}

func start(t *testing.T, d sqldb.Dialect, cfg fulfillment.Config) *shop {
	t.Helper()
	return &shop{Harness: servicetest.Start(t, d, fulfillment.Spec(cfg))}
}

func newOrderID(t testing.TB) string {
	t.Helper()
	id, err := uuid.NewV7()
	if err != nil {
		t.Fatal(err)
	}
	return id.String()
}

func address() ordersevents.Address {
	return ordersevents.Address{Name: "Ada Lovelace", Line1: "12 St James's Square", City: "London", PostalCode: "SW1Y 4JH", Country: "GB"}
}

// confirmed is orders.order_confirmed of order with lines of the given
// quantities (SKUs SKU-1, SKU-2, ...).
func confirmed(t testing.TB, order string, quantities ...int) contract.Event {
	t.Helper()
	d := ordersevents.OrderConfirmedV1{OrderID: order, CartID: newOrderID(t), CustomerEmail: "ada@example.com",
		ShippingAddress: address(), PaymentToken: "tok_visa", Currency: "GBP", ConfirmedAt: time.Now().UTC()}
	for i, q := range quantities {
		d.Items = append(d.Items, ordersevents.Item{SKU: fmt.Sprintf("SKU-%d", i+1), Name: "Thing", Quantity: q, UnitPriceCents: 250})
		d.TotalCents += 250 * int64(q)
	}
	return servicetest.Event(t, ordersevents.Source, contract.TypeName(ordersevents.OrderConfirmed, 1), order, d)
}

func reserved(t testing.TB, order string) contract.Event {
	t.Helper()
	return servicetest.Event(t, inventoryevents.Source, contract.TypeName(inventoryevents.ReservationConfirmed, 1), order,
		inventoryevents.ReservationConfirmedV1{ReservationID: newOrderID(t), OrderID: order,
			Items: []inventoryevents.Line{{SKU: "SKU-1", Quantity: 1}}, ConfirmedAt: time.Now().UTC()})
}

func paid(t testing.TB, order string) contract.Event {
	t.Helper()
	return servicetest.Event(t, paymentsevents.Source, contract.TypeName(paymentsevents.PaymentCaptured, 1), order,
		paymentsevents.PaymentCapturedV1{PaymentID: newOrderID(t), OrderID: order, AmountCents: 250, Currency: "GBP", Attempts: 1, CapturedAt: time.Now().UTC()})
}

func cancelled(t testing.TB, order string) contract.Event {
	t.Helper()
	return servicetest.Event(t, ordersevents.Source, contract.TypeName(ordersevents.OrderCancelled, 1), order,
		ordersevents.OrderCancelledV1{OrderID: order, Reason: ordersevents.ReasonPaymentDeclined, PreviousStatus: "confirmed",
			TotalCents: 250, Currency: "GBP", CancelledAt: time.Now().UTC()})
}

// again is e with a new id: the same news, sent again by its producer.
func again(t testing.TB, e contract.Event) contract.Event {
	t.Helper()
	id, err := uuid.NewV7()
	if err != nil {
		t.Fatal(err)
	}
	e.ID = id.String()
	return e
}

// applied is how many events the service's consumers have finished with:
// handled, skipped as duplicates, or dead-lettered.
func (s *shop) applied(t testing.TB) int {
	t.Helper()
	n := 0.0
	for _, m := range []string{"bounded_inbox_handled_total", "bounded_inbox_duplicates_total", "bounded_inbox_dead_letters_total"} {
		n += s.Metric(t, m, "service", "fulfillment")
	}
	return int(n)
}

// inject publishes events and returns without waiting.
func (s *shop) inject(t testing.TB, es ...contract.Event) {
	t.Helper()
	for _, e := range es {
		s.Inject(t, e)
		s.injected++
	}
}

// apply injects events one at a time, each once the previous one has been
// applied, so that they are handled in exactly this order (events of
// different producers otherwise race).
func (s *shop) apply(t testing.TB, es ...contract.Event) {
	t.Helper()
	for _, e := range es {
		s.inject(t, e)
		s.settle(t)
	}
}

// settle waits until every event injected so far has been applied.
func (s *shop) settle(t testing.TB) {
	t.Helper()
	servicetest.Eventually(t, 15*time.Second, fmt.Sprintf("%d events applied", s.injected), func() bool {
		return s.applied(t) >= s.injected
	})
}

// Shipment is a shipment as the API shows it.
type Shipment struct {
	ID              string `json:"id"`
	OrderID         string `json:"order_id"`
	Status          string `json:"status"`
	Package         string `json:"package"`
	Unpackable      bool   `json:"unpackable"`
	Items           []Line `json:"items"`
	ShippingAddress struct {
		Name       string `json:"name"`
		Line1      string `json:"line1"`
		City       string `json:"city"`
		PostalCode string `json:"postal_code"`
		Country    string `json:"country"`
	} `json:"shipping_address"`
	CreatedAt                time.Time  `json:"created_at"`
	DispatchedAt             *time.Time `json:"dispatched_at"`
	CancelledAt              *time.Time `json:"cancelled_at"`
	CancelledAfterDispatchAt *time.Time `json:"cancelled_after_dispatch_at"`
}

type Line struct {
	SKU      string `json:"sku"`
	Quantity int    `json:"quantity"`
}

// shipments returns order's shipments through the API.
func (s *shop) shipments(t testing.TB, order string) []Shipment {
	t.Helper()
	var out struct {
		Shipments []Shipment `json:"shipments"`
	}
	s.MustJSON(t, "GET", "/fulfillment/shipments?order_id="+order, nil, false, http.StatusOK, &out)
	return out.Shipments
}

// shipment returns order's only shipment, failing the test if it has none
// or several.
func (s *shop) shipment(t testing.TB, order string) Shipment {
	t.Helper()
	list := s.shipments(t, order)
	if len(list) != 1 {
		t.Fatalf("order %s has %d shipments, want 1: %+v", order, len(list), list)
	}
	return list[0]
}

// waitStatus waits until order's shipment has the status.
func (s *shop) waitStatus(t testing.TB, order, status string) Shipment {
	t.Helper()
	var sh Shipment
	servicetest.Eventually(t, 15*time.Second, "order "+order+"'s shipment "+status, func() bool {
		list := s.shipments(t, order)
		if len(list) == 1 {
			sh = list[0]
		}
		return sh.Status == status
	})
	return sh
}

// published returns the events of type name about order.
func (s *shop) published(t testing.TB, name, order string) []contract.Event {
	t.Helper()
	var out []contract.Event
	for _, e := range s.Published(name) {
		if e.Subject == order {
			out = append(out, e)
		}
	}
	return out
}

func decodeCreated(t testing.TB, e contract.Event) events.ShipmentCreatedV1 {
	t.Helper()
	v, err := contract.DecodeAs[events.ShipmentCreatedV1](events.Registry(), e)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func decodeDispatched(t testing.TB, e contract.Event) events.ShipmentDispatchedV1 {
	t.Helper()
	v, err := contract.DecodeAs[events.ShipmentDispatchedV1](events.Registry(), e)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// metric is the value of one of Fulfillment's metrics.
func (s *shop) metric(t testing.TB, name string) float64 {
	t.Helper()
	return s.Metric(t, name, "service", "fulfillment")
}

// quiet gives the dispatch job time to do what it should not: more than
// its backstop poll interval (1 s by default).
func quiet() { time.Sleep(1300 * time.Millisecond) }

// redeliver publishes e again as JetStream would redeliver it: the same
// event (same id), past the stream's duplicate detection, so that only the
// service's inbox stands between it and a second effect.
func (s *shop) redeliver(t testing.TB, e contract.Event) {
	t.Helper()
	msg := &nats.Msg{Subject: s.Host.SubjectOf(e.Type), Header: nats.Header(e.Header()), Data: e.Data}
	if _, err := s.JS.PublishMsg(toolkittest.Context(t), msg); err != nil {
		t.Fatal(err)
	}
	s.injected++
}
