package events_test

import (
	"strings"
	"testing"

	"github.com/bounded-dev/bounded/platform/contract"
	"github.com/bounded-dev/bounded/platform/testenv"
	"github.com/bounded-dev/bounded/services/cart/events"
	catalogevents "github.com/bounded-dev/bounded/services/catalog/events"
	fulfillmentevents "github.com/bounded-dev/bounded/services/fulfillment/events"
	inventoryevents "github.com/bounded-dev/bounded/services/inventory/events"
	ordersevents "github.com/bounded-dev/bounded/services/orders/events"
	paymentsevents "github.com/bounded-dev/bounded/services/payments/events"
	reportingevents "github.com/bounded-dev/bounded/services/reporting/events"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// consumers are the Reliances of every other service's events package
// (Orders and Reporting read cart.checked_out today).
var consumers = map[string][]contract.Reliance{
	"catalog":     catalogevents.Reliances(),
	"orders":      ordersevents.Reliances(),
	"payments":    paymentsevents.Reliances(),
	"inventory":   inventoryevents.Reliances(),
	"fulfillment": fulfillmentevents.Reliances(),
	"reporting":   reportingevents.Reliances(),
}

// onCart keeps the reliances on Cart's events: the others are checked by
// their own producers.
func onCart(rs []contract.Reliance) []contract.Reliance {
	var out []contract.Reliance
	for _, r := range rs {
		if strings.HasPrefix(r.Event, "cart.") {
			out = append(out, r)
		}
	}
	return out
}

// TestConsumersReliances fails Cart's build when a change to its events
// would break a consumer.
func TestConsumersReliances(t *testing.T) {
	checked := map[string]int{}
	for name, rs := range consumers {
		rs = onCart(rs)
		checked[name] = len(rs)
		if err := contract.CheckReliances(events.Examples(), rs); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Orders and Reporting read cart.checked_out: their reliances must be
	// part of the check.
	if checked["orders"] == 0 || checked["reporting"] == 0 {
		t.Fatalf("reliances checked per consumer: %v; Orders and Reporting read cart.checked_out, so theirs are missing", checked)
	}
	// The check bites: a reliance on a field the example lacks fails.
	if err := contract.CheckReliances(events.Examples(), []contract.Reliance{contract.Relies("x", events.CheckedOut, "total_cents")}); err == nil {
		t.Fatal("a reliance on a field the example does not have passed")
	}
}

// TestCatalogPublishesWhatCartReads is the consumer's side of Catalog's
// contract test: every product_updated version Catalog may publish carries
// the fields Cart reads. (Catalog's own test should check Cart's Reliances
// too; this one warns in Cart's build as well.)
func TestCatalogPublishesWhatCartReads(t *testing.T) {
	if err := contract.CheckReliances(catalogevents.Examples(), events.Reliances()); err != nil {
		t.Fatal(err)
	}
}

// TestExamples: one valid example per published type and version, each
// decoding through the registry into its type.
func TestExamples(t *testing.T) {
	ex := events.Examples()
	types := map[string]bool{}
	for _, e := range ex {
		if err := e.Validate(); err != nil {
			t.Fatal(err)
		}
		if e.Source != events.Source {
			t.Errorf("%s: source %q", e.Type, e.Source)
		}
		types[e.Type] = true
		v, err := contract.DecodeAs[events.CheckedOutV1](events.Registry(), e)
		if err != nil {
			t.Fatal(err)
		}
		if e.Subject != v.CartID || len(v.Items) == 0 || v.OrderID == "" {
			t.Errorf("example %s: subject %q, data %+v", e.Type, e.Subject, v)
		}
	}
	for _, typ := range events.Registry().Types() {
		if !types[typ] {
			t.Errorf("no example of %s", typ)
		}
	}
	if len(ex) != len(events.Registry().Types()) {
		t.Errorf("%d examples for %d types", len(ex), len(events.Registry().Types()))
	}
}

// TestReliances: Cart's reliances are well formed and hold for the v2
// product event (a catalog example with every field).
func TestReliances(t *testing.T) {
	for _, r := range events.Reliances() {
		if r.Consumer != "cart" || !strings.HasPrefix(r.Event, "catalog.") || len(r.Fields) == 0 {
			t.Errorf("reliance %+v", r)
		}
	}
	e, err := contract.New("/catalog", "catalog.product_updated.v2", "KETTLE-17", map[string]any{
		"sku": "KETTLE-17", "name": "Kettle", "price_cents": 3999, "currency": "EUR", "active": false, "version": 3})
	if err != nil {
		t.Fatal(err)
	}
	if err := contract.CheckReliances([]contract.Event{e}, events.Reliances()); err != nil {
		t.Fatal(err)
	}
}
