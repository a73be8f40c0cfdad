// Package inventory is the Inventory service of the bounded shop. It owns
// the stock of every SKU, the reservations orders hold on it, and the
// purchase orders that refill it.
//
// It reserves an order's stock all lines or none when Orders confirms it,
// releases it when the order is cancelled, and turns it into a stock
// movement when Fulfillment dispatches the shipment. When a SKU's available
// stock falls to its reorder point, a job creates a purchase order carrying
// the product's name and description from Inventory's own copy of the
// product (fed by Catalog's product_updated events, never by Catalog's
// database) and sends it to the supplier — only when it is complete. An
// incomplete one is flagged, counted, published and shown, and sent once a
// later product event completes it.
package inventory

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bounded-dev/bounded/platform/service"
	"github.com/bounded-dev/bounded/platform/sqldb"
	catalogevents "github.com/bounded-dev/bounded/services/catalog/events"
	fulfillmentevents "github.com/bounded-dev/bounded/services/fulfillment/events"
	"github.com/bounded-dev/bounded/services/inventory/events"
	ordersevents "github.com/bounded-dev/bounded/services/orders/events"
)

// Name is the service's name.
const Name = "inventory"

//go:embed migrations
var migrationFiles embed.FS

//go:embed openapi.json
var openAPI []byte

// Config configures the Inventory service. The zero value is usable.
type Config struct {
	// Supplier receives complete purchase orders. Default: a new
	// SupplierSimulator (the shop has no real supplier).
	Supplier Supplier
	// PollInterval is how often the purchase-order job looks for work when
	// nothing woke it (it wakes on every commit that leaves stock at or
	// below a reorder point, and on every product change). Default 1 s;
	// at least 1 s.
	PollInterval time.Duration
	// RetryBackoff is the wait before sending a purchase order again after
	// n failed attempts (n >= 1). Default: 1 s doubling, at most 1 min.
	RetryBackoff func(n int) time.Duration
	// SupplierTimeout bounds one call to the supplier. Default 10 s.
	SupplierTimeout time.Duration
	// Lease is how long a purchase order being sent stays claimed by the
	// job (of this replica) sending it; if that replica dies during the
	// call, another sends it again after this. It must exceed
	// SupplierTimeout. Default 1 min, or twice SupplierTimeout if that is
	// more.
	Lease time.Duration
	// BatchSize bounds the purchase orders the job sends per round.
	// Default 100.
	BatchSize int
}

func (c *Config) setDefaults() {
	if c.Supplier == nil {
		c.Supplier = NewSupplierSimulator()
	}
	if c.PollInterval == 0 {
		c.PollInterval = time.Second
	}
	if c.RetryBackoff == nil {
		c.RetryBackoff = func(n int) time.Duration { return min(time.Second<<min(n-1, 6), time.Minute) }
	}
	if c.SupplierTimeout == 0 {
		c.SupplierTimeout = 10 * time.Second
	}
	if c.BatchSize == 0 {
		c.BatchSize = 100
	}
	if c.Lease == 0 {
		c.Lease = max(time.Minute, 2*c.SupplierTimeout)
	}
}

// Validate reports a configuration that cannot work (after defaults).
func (c Config) Validate() error {
	switch {
	case c.PollInterval < time.Second:
		return fmt.Errorf("inventory: PollInterval %s: want at least 1s (the job wakes on commit; polling is only a backstop)", c.PollInterval)
	case c.SupplierTimeout < 0:
		return errors.New("inventory: SupplierTimeout is negative")
	case c.BatchSize < 1:
		return fmt.Errorf("inventory: BatchSize %d: want at least 1", c.BatchSize)
	case c.Lease != 0 && c.Lease <= c.SupplierTimeout:
		return fmt.Errorf("inventory: Lease %s must exceed SupplierTimeout %s", c.Lease, c.SupplierTimeout)
	}
	return nil
}

// Spec describes the Inventory service. It touches nothing; the host calls
// its Start once.
func Spec(cfg Config) service.Spec {
	cfg.setDefaults()
	s := &svc{cfg: cfg, wake: make(chan struct{}, 1)}
	mig, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		panic(err) // the directory is embedded above
	}
	return service.Spec{
		Name:       Name,
		Aggregates: []string{"StockItem", "Reservation", "PurchaseOrder"},
		Events:     events.Registry(),
		Consumes: []service.Consumption{
			service.On(catalogevents.Registry(), catalogevents.ProductUpdated, service.EventCarriedState,
				"keeps its own copy of each product's name and description, which purchase orders carry", s.onProductUpdated),
			service.On(ordersevents.Registry(), ordersevents.OrderConfirmed, service.Projection,
				"reserves the order's stock, every line or none", s.onOrderConfirmed),
			service.On(ordersevents.Registry(), ordersevents.OrderCancelled, service.Projection,
				"releases the cancelled order's reservation", s.onOrderCancelled),
			service.On(fulfillmentevents.Registry(), fulfillmentevents.ShipmentDispatched, service.Projection,
				"turns the order's reservation into a stock movement", s.onShipmentDispatched),
		},
		PrepareBatch: s.lockBatch,
		Migrations:   mig,
		OpenAPI:      openAPI,
		Start:        s.start,
	}
}

// svc is the running service. Its handlers are method values in the Spec;
// they run only after start has set env.
type svc struct {
	cfg  Config
	env  service.Env
	st   store
	m    *metrics
	wake chan struct{} // wakes the purchase-order job; one value stands for many commits
}

func (s *svc) start(ctx context.Context, env service.Env) (*service.Running, error) {
	if err := s.cfg.Validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(env.Metrics)
	if err != nil {
		return nil, err
	}
	s.env, s.st, s.m = env, store{d: env.DB.Dialect()}, m
	job := &purchasing{svc: s}
	return &service.Running{API: s.routes(), Jobs: []func(context.Context) error{job.Run}}, nil
}

// wakeJob wakes the purchase-order job without blocking.
func (s *svc) wakeJob() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// wakeIfLow wakes the job after tx commits when one of the items is at or
// below its reorder point.
func (s *svc) wakeIfLow(tx *sqldb.Tx, items ...StockItem) {
	for _, it := range items {
		if it.Low() {
			tx.AfterCommit(s.wakeJob)
			return
		}
	}
}

// now is the service's clock, to the millisecond (what SQLite keeps).
func now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

// metrics are Inventory's own counters.
type metrics struct {
	poFlagged, poPlaced, poRejected, poSendErrors, poReceived prometheus.Counter
	reservationsConfirmed                                     prometheus.Counter
	reservationsFailed                                        *prometheus.CounterVec
	reservationsReleased, reservationsConsumed                prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: "bounded_inventory_" + name, Help: help})
	}
	m := &metrics{
		poFlagged:             c("purchase_orders_flagged_total", "Purchase orders flagged incomplete (missing name or description) and not sent."),
		poPlaced:              c("purchase_orders_placed_total", "Purchase orders the supplier accepted."),
		poRejected:            c("purchase_orders_rejected_total", "Purchase orders the supplier refused (status rejected)."),
		poSendErrors:          c("purchase_order_send_errors_total", "Failed attempts to reach the supplier (the purchase order is retried)."),
		poReceived:            c("purchase_orders_received_total", "Purchase orders received into stock."),
		reservationsConfirmed: c("reservations_confirmed_total", "Orders whose every line was reserved."),
		reservationsFailed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bounded_inventory_reservations_failed_total",
			Help: "Orders that could not be reserved, by reason (out_of_stock, unknown_product)."}, []string{"reason"}),
		reservationsReleased: c("reservations_released_total", "Reservations released because their order was cancelled."),
		reservationsConsumed: c("reservations_consumed_total", "Reservations turned into shipments."),
	}
	for _, r := range []string{events.FailureOutOfStock, events.FailureUnknownProduct} {
		m.reservationsFailed.WithLabelValues(r) // show both series from the start
	}
	if reg == nil {
		return m, nil
	}
	for _, col := range []prometheus.Collector{m.poFlagged, m.poPlaced, m.poRejected, m.poSendErrors, m.poReceived,
		m.reservationsConfirmed, m.reservationsFailed, m.reservationsReleased, m.reservationsConsumed} {
		if err := reg.Register(col); err != nil {
			return nil, fmt.Errorf("inventory: metrics: %w", err)
		}
	}
	return m, nil
}
