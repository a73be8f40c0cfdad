// Package fulfillment is the Fulfillment service: it owns shipments and the
// packaging rules they are packed by.
//
// It collects, per order, what has arrived from three producers whose events
// arrive in any order relative to each other (orders.order_confirmed with the
// items and address, inventory.reservation_confirmed, payments.payment_captured,
// and orders.order_cancelled) in a preparation record. Once an order is
// confirmed and reserved its shipment is created and packed
// (fulfillment.shipment_created); once it is also paid, a dispatch job
// dispatches it (fulfillment.shipment_dispatched). A cancellation cancels a
// shipment not yet dispatched.
package fulfillment

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bounded-dev/bounded/platform/service"
	"github.com/bounded-dev/bounded/services/fulfillment/events"
	inventoryevents "github.com/bounded-dev/bounded/services/inventory/events"
	ordersevents "github.com/bounded-dev/bounded/services/orders/events"
	paymentsevents "github.com/bounded-dev/bounded/services/payments/events"
)

// Config configures the service. The zero value is the default.
type Config struct {
	// DispatchDelay is how long after its payment a shipment is dispatched
	// (a more realistic demo). Default 0: at once.
	DispatchDelay time.Duration
	// DispatchBatch is how many shipments the dispatch job dispatches per
	// transaction. Default 256.
	DispatchBatch int
	// PollInterval is how often the dispatch job looks for due shipments
	// when nothing wakes it: a backstop, since a commit that makes a
	// shipment due wakes it at once. Default 1 s; at least 1 s.
	PollInterval time.Duration
}

func (c Config) withDefaults() Config {
	if c.DispatchBatch == 0 {
		c.DispatchBatch = 256
	}
	if c.PollInterval == 0 {
		c.PollInterval = time.Second
	}
	return c
}

// Validate reports a configuration the service cannot run with.
func (c Config) Validate() error {
	switch {
	case c.DispatchDelay < 0:
		return fmt.Errorf("fulfillment: DispatchDelay %s is negative", c.DispatchDelay)
	case c.DispatchBatch < 1 || c.DispatchBatch > 10000:
		return fmt.Errorf("fulfillment: DispatchBatch %d: want 1 to 10000", c.DispatchBatch)
	case c.PollInterval < time.Second:
		return fmt.Errorf("fulfillment: PollInterval %s: want at least 1s (it is only a backstop)", c.PollInterval)
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
	cfg = cfg.withDefaults()
	s := &fulfillment{cfg: cfg, wake: make(chan struct{}, 1)}
	mig, err := fs.Sub(migrations, "migrations")
	if err != nil {
		panic(err) // the embedded directory exists: a build error
	}
	return service.Spec{
		Name:       "fulfillment",
		Aggregates: []string{"Shipment", "PackagingRule"},
		Events:     events.Registry(),
		Consumes: []service.Consumption{
			service.On(ordersevents.Registry(), ordersevents.OrderConfirmed, service.EventCarriedState,
				"the order's items and shipping address, kept in the order's preparation record", s.onOrderConfirmed),
			service.On(ordersevents.Registry(), ordersevents.OrderCancelled, service.Projection,
				"cancels the order's shipment unless it was dispatched", s.onOrderCancelled),
			service.On(inventoryevents.Registry(), inventoryevents.ReservationConfirmed, service.Projection,
				"a confirmed and reserved order gets its shipment", s.onReservationConfirmed),
			service.On(paymentsevents.Registry(), paymentsevents.PaymentCaptured, service.Projection,
				"a paid shipment is dispatched", s.onPaymentCaptured),
		},
		// Its consumers of several streams batch events of the same
		// orders: lock the batch's orders first, in one order.
		PrepareBatch: service.LockKeys(batchLockSpace, service.JSONField("order_id")),
		Migrations:   mig,
		OpenAPI:      openAPI,
		Start:        s.start,
	}
}

// fulfillment is the running service. Its handlers are method values named
// in the Spec before Start gives it its Env.
type fulfillment struct {
	cfg  Config
	env  service.Env
	log  *slog.Logger
	m    *metrics
	wake chan struct{} // wakes the dispatch job; buffered 1, never blocks
}

func (s *fulfillment) start(ctx context.Context, env service.Env) (*service.Running, error) {
	if err := s.cfg.Validate(); err != nil {
		return nil, err
	}
	if s.env.DB != nil {
		return nil, errors.New("fulfillment: started twice (build a new Spec per host)")
	}
	m, err := newMetrics(env.Metrics)
	if err != nil {
		return nil, err
	}
	s.env, s.log, s.m = env, env.Logger, m
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return &service.Running{API: s.routes(), Jobs: []func(context.Context) error{s.runDispatcher}}, nil
}

// wakeDispatcher nudges the dispatch job; it never blocks.
func (s *fulfillment) wakeDispatcher() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

type metrics struct {
	created, dispatched, cancelled, unpackable, lateCancels prometheus.Counter
	toDispatch                                              prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	}
	m := &metrics{
		created:    counter("bounded_fulfillment_shipments_created_total", "Shipments created (orders confirmed and reserved)."),
		dispatched: counter("bounded_fulfillment_shipments_dispatched_total", "Shipments dispatched."),
		cancelled:  counter("bounded_fulfillment_shipments_cancelled_total", "Shipments cancelled before dispatch."),
		unpackable: counter("bounded_fulfillment_unpackable_total", "Shipments created that no packaging rule fits; they are never dispatched."),
		lateCancels: counter("bounded_fulfillment_cancelled_after_dispatch_total",
			"Cancellations of orders whose shipment had been dispatched already (conflicts left for an operator)."),
		toDispatch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "bounded_fulfillment_created_to_dispatched_seconds",
			Help:    "Time from a shipment's creation to its dispatch.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600},
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.created, m.dispatched, m.cancelled, m.unpackable, m.lateCancels, m.toDispatch} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("fulfillment: metrics: %w", err)
		}
	}
	return m, nil
}

// batchLockSpace is the namespace of the advisory locks a batch of consumed
// events takes on its orders (see service.LockKeys).
const batchLockSpace = 0x6675
