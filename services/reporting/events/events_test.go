package events_test

import (
	"testing"

	"github.com/bounded-dev/bounded/platform/contract"
	"github.com/bounded-dev/bounded/platform/testenv"
	cartevents "github.com/bounded-dev/bounded/services/cart/events"
	catalogevents "github.com/bounded-dev/bounded/services/catalog/events"
	fulfillmentevents "github.com/bounded-dev/bounded/services/fulfillment/events"
	inventoryevents "github.com/bounded-dev/bounded/services/inventory/events"
	ordersevents "github.com/bounded-dev/bounded/services/orders/events"
	paymentsevents "github.com/bounded-dev/bounded/services/payments/events"
	"github.com/bounded-dev/bounded/services/reporting/events"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestProducersPublishWhatReportingReads is the consumer's side of every
// producer's contract test: each field the warehouse loads is in every
// version its producer may publish.
func TestProducersPublishWhatReportingReads(t *testing.T) {
	var examples []contract.Event
	for _, ex := range [][]contract.Event{catalogevents.Examples(), cartevents.Examples(), ordersevents.Examples(),
		paymentsevents.Examples(), inventoryevents.Examples(), fulfillmentevents.Examples()} {
		examples = append(examples, ex...)
	}
	if err := contract.CheckReliances(examples, events.Reliances()); err != nil {
		t.Fatal(err)
	}
}

// TestReportingPublishesNothing: a pure consumer.
func TestReportingPublishesNothing(t *testing.T) {
	if n := len(events.Registry().Types()); n != 0 || len(events.Examples()) != 0 {
		t.Fatalf("reporting publishes %d event types", n)
	}
}
