// Package reporting is the Reporting service: a warehouse and a read model
// fed only by the shop's events. It is a consumer, never a co-owner: it
// reads no other service's database and calls no other service's API.
//
// It consumes every event every other service publishes and loads them
// into a star schema in its own database (facts: checkouts, orders and
// their lines, payments, refunds, reservations, stock-outs, shipments,
// stock movements, purchase orders; dimensions: products, categories,
// dates), answers reports over it, and keeps a CQRS read model, the order
// history of each customer, with the lag of every row.
//
// Loading is a pure function of the events: every row is keyed by a
// natural key the events carry and filled from the events' payloads, so
// that an event applied twice (the inbox prevents it), the same fact under
// a second event id (each insert is idempotent on its natural key) and
// events that arrive in another order across streams all end in the same
// warehouse. A fact that names a product or category not known yet makes
// an inferred dimension row that the real event later completes.
package reporting

import (
	"context"
	"crypto/rand"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bounded-dev/bounded/platform/service"
	cartevents "github.com/bounded-dev/bounded/services/cart/events"
	catalogevents "github.com/bounded-dev/bounded/services/catalog/events"
	fulfillmentevents "github.com/bounded-dev/bounded/services/fulfillment/events"
	inventoryevents "github.com/bounded-dev/bounded/services/inventory/events"
	ordersevents "github.com/bounded-dev/bounded/services/orders/events"
	paymentsevents "github.com/bounded-dev/bounded/services/payments/events"
	"github.com/bounded-dev/bounded/services/reporting/events"
)

// Name is the service's name: its database, stream and HTTP prefix.
const Name = "reporting"

// Config configures the service. The zero value is the default.
type Config struct {
	// MaxLimit is the largest number of rows a report or the order history
	// answers with (its limit parameter). Default 1000.
	MaxLimit int
}

func (c Config) withDefaults() Config {
	if c.MaxLimit == 0 {
		c.MaxLimit = 1000
	}
	return c
}

// Validate reports a configuration the service cannot run with.
func (c Config) Validate() error {
	if c.MaxLimit < 1 || c.MaxLimit > 100000 {
		return fmt.Errorf("reporting: MaxLimit %d: want 1 to 100000", c.MaxLimit)
	}
	return nil
}

//go:embed migrations
var migrations embed.FS

//go:embed openapi.json
var openAPI []byte

// Spec describes the service; it touches nothing until the host calls
// Start.
func Spec(cfg Config) service.Spec {
	s := &reporting{cfg: cfg.withDefaults()}
	mig, err := fs.Sub(migrations, "migrations")
	if err != nil {
		panic(err) // the embedded directory exists: a build error
	}
	const (
		proj  = service.Projection
		state = service.EventCarriedState
	)
	cat, cart, ord, pay, inv, ful := catalogevents.Registry(), cartevents.Registry(), ordersevents.Registry(),
		paymentsevents.Registry(), inventoryevents.Registry(), fulfillmentevents.Registry()
	spec := service.Spec{
		Name:       Name,
		Aggregates: []string{"Fact", "Dimension", "OrderHistory (read model)"},
		Events:     events.Registry(),
		Consumes: []service.Consumption{
			service.On(cat, catalogevents.ProductUpdated, state, "the product dimension (a late product completes its inferred row)", s.onProductUpdated),
			service.On(cat, catalogevents.CategoryUpdated, state, "the category dimension", s.onCategoryUpdated),
			service.On(cart, cartevents.CheckedOut, proj, "checkout facts: the top of the order funnel", s.onCheckedOut),
			service.On(ord, ordersevents.OrderConfirmed, proj, "order and order-line facts (sales); the order-history read model", s.onOrderConfirmed),
			service.On(ord, ordersevents.OrderPaid, proj, "the order funnel's paid step; order history", s.onOrderPaid),
			service.On(ord, ordersevents.OrderReserved, proj, "the order funnel's reserved step; order history", s.onOrderReserved),
			service.On(ord, ordersevents.OrderShipped, proj, "the order funnel's shipped step; order history", s.onOrderShipped),
			service.On(ord, ordersevents.OrderCancelled, proj, "cancellations by reason; order history", s.onOrderCancelled),
			service.On(pay, paymentsevents.PaymentCaptured, proj, "payment facts (decline rate); order history", s.onPaymentCaptured),
			service.On(pay, paymentsevents.PaymentDeclined, proj, "payment facts (decline rate by reason); order history", s.onPaymentDeclined),
			service.On(pay, paymentsevents.PaymentVoided, proj, "payment facts; order history", s.onPaymentVoided),
			service.On(pay, paymentsevents.RefundIssued, proj, "refund facts (refund rate); order history", s.onRefundIssued),
			service.On(inv, inventoryevents.ReservationConfirmed, proj, "reservation facts", s.onReservationConfirmed),
			service.On(inv, inventoryevents.ReservationFailed, proj, "reservation and stock-out facts", s.onReservationFailed),
			service.On(inv, inventoryevents.ReservationReleased, proj, "reservation facts", s.onReservationReleased),
			service.On(inv, inventoryevents.StockChanged, proj, "stock-movement facts; purchase orders received", s.onStockChanged),
			service.On(inv, inventoryevents.PurchaseOrderPlaced, proj, "purchase-order facts", s.onPurchaseOrderPlaced),
			service.On(inv, inventoryevents.PurchaseOrderFlagged, proj, "purchase-order facts", s.onPurchaseOrderFlagged),
			service.On(ful, fulfillmentevents.ShipmentCreated, proj, "shipment facts (fulfillment lead time); order history", s.onShipmentCreated),
			service.On(ful, fulfillmentevents.ShipmentDispatched, proj, "shipment facts (fulfillment lead time); order history", s.onShipmentDispatched),
		},
		PrepareBatch: s.prepareBatch,
		Migrations:   mig,
		OpenAPI:      openAPI,
		Start:        s.start,
	}
	// The rebuild's replay applies each event with the same handler the
	// live consumers do.
	s.handlers = map[string]service.Consumption{}
	for _, c := range spec.Consumes {
		s.handlers[c.Event] = c
	}
	return spec
}

// reporting is the running service. Its handlers are method values named
// in the Spec before Start gives it its Env.
type reporting struct {
	cfg   Config
	env   service.Env
	log   *slog.Logger
	m     *metrics
	dates sync.Map // date keys known to be in dim_date (added after commit)

	handlers map[string]service.Consumption // by event name
	owner    string                         // this instance, in rebuild_state.owner
	rebuilds chan string                    // rebuild ids for rebuildJob to run
	// followPaused: the consumers are paused for a rebuild (this one's or
	// another replica's). Only rebuildJob's goroutine touches it.
	followPaused bool
}

func (s *reporting) start(ctx context.Context, env service.Env) (*service.Running, error) {
	if err := s.cfg.Validate(); err != nil {
		return nil, err
	}
	if s.env.DB != nil {
		return nil, errors.New("reporting: started twice (build a new Spec per host)")
	}
	m, err := newMetrics(env.Metrics)
	if err != nil {
		return nil, err
	}
	s.env, s.log, s.m = env, env.Logger, m
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.owner, s.rebuilds = rand.Text(), make(chan string, 1)
	return &service.Running{API: s.routes(), Jobs: []func(context.Context) error{s.rebuildJob}}, nil
}

type metrics struct {
	readModelLag prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		readModelLag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "bounded_reporting_read_model_lag_seconds",
			Help: "Time from an event's creation (its time attribute, set in the producer's transaction) to the commit " +
				"that applied it to the order-history read model.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 3600},
		}),
	}
	if reg == nil {
		return m, nil
	}
	if err := reg.Register(m.readModelLag); err != nil {
		return nil, fmt.Errorf("reporting: metrics: %w", err)
	}
	return m, nil
}
