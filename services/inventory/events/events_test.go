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
	"github.com/bounded-dev/bounded/services/inventory/events"
	ordersevents "github.com/bounded-dev/bounded/services/orders/events"
	paymentsevents "github.com/bounded-dev/bounded/services/payments/events"
	reportingevents "github.com/bounded-dev/bounded/services/reporting/events"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// consumers are the Reliances of every other service's events package
// (all five exist). Orders and Fulfillment read Inventory's events today.
var consumers = map[string][]contract.Reliance{
	"catalog":     catalogevents.Reliances(),
	"cart":        cartevents.Reliances(),
	"orders":      ordersevents.Reliances(),
	"payments":    paymentsevents.Reliances(),
	"fulfillment": fulfillmentevents.Reliances(),
	"reporting":   reportingevents.Reliances(),
}

// onInventory keeps the reliances on Inventory's events.
func onInventory(rs []contract.Reliance) []contract.Reliance {
	var out []contract.Reliance
	for _, r := range rs {
		if strings.HasPrefix(r.Event, "inventory.") {
			out = append(out, r)
		}
	}
	return out
}

// TestConsumersReliances fails Inventory's build when a change to its
// events would break a service that reads them.
func TestConsumersReliances(t *testing.T) {
	checked := map[string]int{}
	for name, rs := range consumers {
		rs = onInventory(rs)
		checked[name] = len(rs)
		if err := contract.CheckReliances(events.Examples(), rs); err != nil {
			t.Errorf("%s relies on what Inventory does not publish:\n%v", name, err)
		}
	}
	// Orders reads reservation_confirmed and _failed; Fulfillment reads
	// reservation_confirmed. Their reliances must be part of the check.
	if checked["orders"] == 0 || checked["fulfillment"] == 0 || checked["reporting"] == 0 {
		t.Fatalf("reliances checked per consumer: %v; Orders and Fulfillment read Inventory's events, so theirs are missing", checked)
	}
	// The check bites: a reliance on a field no example has fails.
	bogus := contract.Relies("someone", events.ReservationFailed, "shortages[].warehouse")
	if err := contract.CheckReliances(events.Examples(), []contract.Reliance{bogus}); err == nil || !strings.Contains(err.Error(), "warehouse") {
		t.Fatalf("a reliance on a missing field: %v", err)
	}
}

// TestProducersPublishWhatInventoryReads is the consumer's side: every
// event version Catalog, Orders and Fulfillment may publish carries the
// fields Inventory reads — above all product_updated's description, which
// Inventory's purchase orders carry.
func TestProducersPublishWhatInventoryReads(t *testing.T) {
	var ex []contract.Event
	ex = append(ex, catalogevents.Examples()...)
	ex = append(ex, ordersevents.Examples()...)
	ex = append(ex, fulfillmentevents.Examples()...)
	if err := contract.CheckReliances(ex, events.Reliances()); err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(events.Reliances(), func(r contract.Reliance) bool {
		return r.Event == catalogevents.ProductUpdated && slices.Contains(r.Fields, "description")
	}) {
		t.Fatal("Inventory no longer declares its reliance on product_updated's description, which its purchase orders read")
	}
}

// TestExamples: exactly one valid example per published type and version,
// with the subject convention (reservation events: the order id; stock and
// purchase-order events: the SKU), each decoding through the registry.
func TestExamples(t *testing.T) {
	reg := events.Registry()
	ex := events.Examples()
	seen := map[string]int{}
	for _, e := range ex {
		if err := e.Validate(); err != nil {
			t.Fatal(err)
		}
		if e.Source != events.Source {
			t.Errorf("%s: source %q", e.Type, e.Source)
		}
		seen[e.Type]++
		v, err := reg.Decode(e)
		if err != nil {
			t.Fatalf("%s: %v", e.Type, err)
		}
		var subject string
		switch d := v.(type) {
		case events.ReservationConfirmedV1:
			subject = d.OrderID
		case events.ReservationFailedV1:
			subject = d.OrderID
		case events.ReservationReleasedV1:
			subject = d.OrderID
		case events.StockChangedV1:
			subject = d.SKU
		case events.PurchaseOrderPlacedV1:
			subject = d.SKU
		case events.PurchaseOrderFlaggedV1:
			subject = d.SKU
		default:
			t.Fatalf("%s decodes to %T", e.Type, v)
		}
		if subject == "" || e.Subject != subject {
			t.Errorf("%s: subject %q, want %q", e.Type, e.Subject, subject)
		}
	}
	for _, typ := range reg.Types() {
		if seen[typ] != 1 {
			t.Errorf("%d examples of %s, want 1", seen[typ], typ)
		}
	}
	if len(ex) != len(reg.Types()) {
		t.Errorf("%d examples for %d types", len(ex), len(reg.Types()))
	}
}
