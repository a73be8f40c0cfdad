package events_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/bounded-dev/bounded/platform/contract"
	"github.com/bounded-dev/bounded/platform/testenv"
	cartevents "github.com/bounded-dev/bounded/services/cart/events"
	catalogevents "github.com/bounded-dev/bounded/services/catalog/events"
	fulfillmentevents "github.com/bounded-dev/bounded/services/fulfillment/events"
	inventoryevents "github.com/bounded-dev/bounded/services/inventory/events"
	ordersevents "github.com/bounded-dev/bounded/services/orders/events"
	"github.com/bounded-dev/bounded/services/payments/events"
	reportingevents "github.com/bounded-dev/bounded/services/reporting/events"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// consumers are the Reliances of every other service's events package that
// declares them. A consumer's reliances on other producers are not Payments'
// business: only those on payments.* events are checked here.
func consumers() []contract.Reliance {
	var all []contract.Reliance
	for _, rs := range [][]contract.Reliance{cartevents.Reliances(), catalogevents.Reliances(),
		fulfillmentevents.Reliances(), inventoryevents.Reliances(), ordersevents.Reliances(), reportingevents.Reliances()} {
		all = append(all, rs...)
	}
	var ours []contract.Reliance
	for _, r := range all {
		if strings.HasPrefix(r.Event, "payments.") {
			ours = append(ours, r)
		}
	}
	return ours
}

// TestExamplesKeepConsumersWorking is the contract test: a change to a
// Payments event that drops a field a consumer reads fails here.
func TestExamplesKeepConsumersWorking(t *testing.T) {
	rs := consumers()
	for _, c := range []string{"orders", "reporting"} {
		if !slices.ContainsFunc(rs, func(r contract.Reliance) bool { return r.Consumer == c }) {
			t.Fatalf("no reliance of %s on Payments' events among %v: it reads them, so its reliances are missing from the check", c, rs)
		}
	}
	if err := contract.CheckReliances(events.Examples(), rs); err != nil {
		t.Fatal(err)
	}
	// And it would fail: an example without payment_id breaks Orders.
	broken := events.Examples()
	for i, e := range broken {
		if e.Type == "payments.payment_captured.v1" {
			broken[i].Data = []byte(`{"order_id":"o-1"}`)
		}
	}
	if err := contract.CheckReliances(broken, rs); err == nil {
		t.Fatal("CheckReliances passed an example that drops relied-upon fields")
	}
}

// TestExamplesCoverEveryType: one valid example per registered type, each
// decoding through the registry, with the order id as subject.
func TestExamplesCoverEveryType(t *testing.T) {
	reg := events.Registry()
	var types []string
	for _, e := range events.Examples() {
		if err := e.Validate(); err != nil {
			t.Errorf("%s: %v", e.Type, err)
		}
		if e.Source != events.Source {
			t.Errorf("%s: source %q", e.Type, e.Source)
		}
		v, err := reg.Decode(e)
		if err != nil {
			t.Errorf("%s: %v", e.Type, err)
			continue
		}
		var orderID string
		switch p := v.(type) {
		case events.PaymentCapturedV1:
			orderID = p.OrderID
		case events.PaymentDeclinedV1:
			orderID = p.OrderID
		case events.PaymentVoidedV1:
			orderID = p.OrderID
		case events.RefundIssuedV1:
			orderID = p.OrderID
		default:
			t.Errorf("%s decodes to %T", e.Type, v)
		}
		if orderID == "" || e.Subject != orderID {
			t.Errorf("%s: subject %q, order id %q", e.Type, e.Subject, orderID)
		}
		types = append(types, e.Type)
	}
	slices.Sort(types)
	if want := reg.Types(); !slices.Equal(types, want) {
		t.Fatalf("examples cover %v, registry has %v", types, want)
	}
}

// TestReliancesNameRealFields checks Payments' own reliances against the
// Orders contract's Go types: every field must be a JSON key of the payload
// type Orders registers. (Orders' own contract test checks them against its
// example events.)
func TestReliancesNameRealFields(t *testing.T) {
	reg := ordersevents.Registry()
	for _, r := range events.Reliances() {
		if r.Consumer != "payments" {
			t.Errorf("reliance on %s by %q", r.Event, r.Consumer)
		}
		if _, ok := reg.Latest(r.Event); !ok {
			t.Errorf("relies on %s, which Orders does not publish", r.Event)
		}
	}
	// A payload built from the Go types carries every relied-upon field.
	confirmed, err := contract.New(ordersevents.Source, contract.TypeName(ordersevents.OrderConfirmed, 1), "o-1",
		ordersevents.OrderConfirmedV1{OrderID: "o-1", PaymentToken: "tok_approve", Currency: "EUR", TotalCents: 1,
			Items: []ordersevents.Item{{SKU: "A-1", Quantity: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	cancelled, err := contract.New(ordersevents.Source, contract.TypeName(ordersevents.OrderCancelled, 1), "o-1",
		ordersevents.OrderCancelledV1{OrderID: "o-1", Reason: ordersevents.ReasonOutOfStock})
	if err != nil {
		t.Fatal(err)
	}
	if err := contract.CheckReliances([]contract.Event{confirmed, cancelled}, events.Reliances()); err != nil {
		t.Fatal(err)
	}
	// And against Orders' published examples.
	if err := contract.CheckReliances(ordersevents.Examples(), events.Reliances()); err != nil {
		t.Fatal(err)
	}
}
