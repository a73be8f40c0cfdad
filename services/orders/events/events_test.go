package events_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/bounded-dev/bounded/platform/contract"
	"github.com/bounded-dev/bounded/platform/testenv"
	cart "github.com/bounded-dev/bounded/services/cart/events"
	catalog "github.com/bounded-dev/bounded/services/catalog/events"
	fulfillment "github.com/bounded-dev/bounded/services/fulfillment/events"
	inventory "github.com/bounded-dev/bounded/services/inventory/events"
	"github.com/bounded-dev/bounded/services/orders/events"
	payments "github.com/bounded-dev/bounded/services/payments/events"
	reporting "github.com/bounded-dev/bounded/services/reporting/events"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// consumerReliances are the reliances the other services declare on
// Orders' events: every consumer of Orders' events is listed here.
func consumerReliances() []contract.Reliance {
	var out []contract.Reliance
	for _, rs := range [][]contract.Reliance{inventory.Reliances(), payments.Reliances(), fulfillment.Reliances(),
		cart.Reliances(), catalog.Reliances(), reporting.Reliances()} {
		for _, r := range rs {
			if strings.HasPrefix(r.Event, "orders.") {
				out = append(out, r)
			}
		}
	}
	return out
}

// TestConsumersReliancesHold is Orders' contract test: every field another
// service reads from Orders' events is in the examples of every type Orders
// publishes. A change to Orders' events that drops one fails here.
func TestConsumersReliancesHold(t *testing.T) {
	rel := consumerReliances()
	for _, consumer := range []string{"inventory", "payments", "fulfillment", "reporting"} {
		if !slices.ContainsFunc(rel, func(r contract.Reliance) bool { return r.Consumer == consumer }) {
			t.Errorf("no reliance of %s on Orders' events among %v", consumer, rel)
		}
	}
	if err := contract.CheckReliances(events.Examples(), rel); err != nil {
		t.Fatalf("a consumer relies on a field Orders does not publish:\n%v", err)
	}
}

// TestDroppingARelieduponFieldFails: the check bites. Without the items'
// quantities, Inventory and Fulfillment cannot reserve or pack.
func TestDroppingARelieduponFieldFails(t *testing.T) {
	ex := events.Examples()
	for i, e := range ex {
		if e.Type != "orders.order_confirmed.v1" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(e.Data, &m); err != nil {
			t.Fatal(err)
		}
		for _, it := range m["items"].([]any) {
			delete(it.(map[string]any), "quantity")
		}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		ex[i].Data = b
	}
	err := contract.CheckReliances(ex, consumerReliances())
	if err == nil || !strings.Contains(err.Error(), "inventory") || !strings.Contains(err.Error(), "items[].quantity") {
		t.Fatalf("CheckReliances = %v, want an error naming inventory and items[].quantity", err)
	}
}

// TestExamplesCoverEveryPublishedType: one valid example per registered
// type and version, decoding through the registry, about its order.
func TestExamplesCoverEveryPublishedType(t *testing.T) {
	reg := events.Registry()
	var got []string
	for _, e := range events.Examples() {
		got = append(got, e.Type)
		if err := e.Validate(); err != nil {
			t.Errorf("example %s: %v", e.Type, err)
		}
		v, err := reg.Decode(e)
		if err != nil {
			t.Errorf("example %s does not decode: %v", e.Type, err)
			continue
		}
		b, _ := json.Marshal(v)
		var id struct {
			OrderID string `json:"order_id"`
		}
		if err := json.Unmarshal(b, &id); err != nil || id.OrderID == "" || id.OrderID != e.Subject {
			t.Errorf("example %s: subject %q, order_id %q: want the order id as subject", e.Type, e.Subject, id.OrderID)
		}
		if e.Source != events.Source {
			t.Errorf("example %s: source %q", e.Type, e.Source)
		}
	}
	slices.Sort(got)
	if want := reg.Types(); !slices.Equal(got, want) {
		t.Fatalf("example types %v, want one per registered type %v", got, want)
	}
}

// TestOrdersReliancesHold checks Orders' own reliances against its
// producers' examples, so that a mistake in them shows here first (the
// producers' contract tests check them too).
func TestOrdersReliancesHold(t *testing.T) {
	var examples []contract.Event
	for _, ex := range [][]contract.Event{catalog.Examples(), cart.Examples(), payments.Examples(), inventory.Examples(), fulfillment.Examples()} {
		examples = append(examples, ex...)
	}
	rel := events.Reliances()
	for _, r := range rel {
		if r.Consumer != "orders" {
			t.Errorf("reliance on %s by %q, want orders", r.Event, r.Consumer)
		}
	}
	if err := contract.CheckReliances(examples, rel); err != nil {
		t.Fatalf("Orders relies on a field its producers do not publish:\n%v", err)
	}
}

// FuzzDecode: decoding arbitrary data as any of Orders' event types never
// panics.
func FuzzDecode(f *testing.F) {
	for _, e := range events.Examples() {
		f.Add(e.Type, e.Data)
	}
	f.Add("orders.order_paid.v1", []byte(`{"total_cents":"x"}`))
	f.Add("orders.order_paid.v2", []byte(`{}`))
	reg := events.Registry()
	f.Fuzz(func(t *testing.T, typ string, data []byte) {
		_, _ = reg.Decode(contract.Event{ID: "x", Source: events.Source, Type: typ, Data: data})
	})
}
