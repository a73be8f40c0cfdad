package events_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/bounded-dev/bounded/platform/contract"
	"github.com/bounded-dev/bounded/platform/testenv"
	cartevents "github.com/bounded-dev/bounded/services/cart/events"
	catalogevents "github.com/bounded-dev/bounded/services/catalog/events"
	"github.com/bounded-dev/bounded/services/fulfillment/events"
	inventoryevents "github.com/bounded-dev/bounded/services/inventory/events"
	ordersevents "github.com/bounded-dev/bounded/services/orders/events"
	paymentsevents "github.com/bounded-dev/bounded/services/payments/events"
	reportingevents "github.com/bounded-dev/bounded/services/reporting/events"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// consumersReliances are the reliances on Fulfillment's events of every
// other service that publishes its reliances (each lists its reliances on
// every producer; only those on Fulfillment's events concern it). Add a
// service's here when its events package gains Reliances.
func consumersReliances() []contract.Reliance {
	var out []contract.Reliance
	for _, r := range slices.Concat(
		catalogevents.Reliances(),
		cartevents.Reliances(),
		ordersevents.Reliances(),
		paymentsevents.Reliances(),
		inventoryevents.Reliances(),
		reportingevents.Reliances(),
	) {
		if strings.HasPrefix(r.Event, "fulfillment.") {
			out = append(out, r)
		}
	}
	return out
}

// TestExamplesKeepConsumersReliances is the contract test: a change to
// Fulfillment's events that drops a field a consumer reads fails here.
func TestExamplesKeepConsumersReliances(t *testing.T) {
	for _, c := range []string{"orders", "reporting"} {
		if !slices.ContainsFunc(consumersReliances(), func(r contract.Reliance) bool { return r.Consumer == c }) {
			t.Fatalf("no reliance of %s on Fulfillment's events: it reads them, so its reliances are missing from the check", c)
		}
	}
	if err := contract.CheckReliances(events.Examples(), consumersReliances()); err != nil {
		t.Fatal(err)
	}
}

// TestExamplesCoverEveryType: one example per registered type, each valid,
// about its order, and decodable by the registry.
func TestExamplesCoverEveryType(t *testing.T) {
	reg := events.Registry()
	var have []string
	for _, e := range events.Examples() {
		if err := e.Validate(); err != nil {
			t.Errorf("example %s: %v", e.Type, err)
		}
		if e.Source != events.Source {
			t.Errorf("example %s: source %q", e.Type, e.Source)
		}
		v, err := reg.Decode(e)
		if err != nil {
			t.Fatalf("example %s: %v", e.Type, err)
		}
		var order string
		switch d := v.(type) {
		case events.ShipmentCreatedV1:
			order = d.OrderID
		case events.ShipmentDispatchedV1:
			order = d.OrderID
		default:
			t.Fatalf("example %s decodes to %T", e.Type, v)
		}
		if e.Subject != order || order == "" {
			t.Errorf("example %s: subject %q, order %q: the subject is the order id", e.Type, e.Subject, order)
		}
		have = append(have, e.Type)
	}
	slices.Sort(have)
	if want := reg.Types(); !slices.Equal(have, want) {
		t.Fatalf("examples of %v, registered %v", have, want)
	}
}

// TestProducersKeepFulfillmentReliances holds Fulfillment's own reliances
// against the producers' examples: the producers' contract tests do the
// same, and this one fails first when a path here has a typo.
func TestProducersKeepFulfillmentReliances(t *testing.T) {
	examples := slices.Concat(ordersevents.Examples(), inventoryevents.Examples(), paymentsevents.Examples())
	if err := contract.CheckReliances(examples, events.Reliances()); err != nil {
		t.Fatal(err)
	}
}
