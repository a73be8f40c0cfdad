// Package orders is the Orders service: it owns orders (Order, OrderItem,
// the price at the time of ordering) and their state, confirmed → paid →
// reserved → shipped, or cancelled with a reason.
//
// It creates an order from Cart's checked_out event, prices it with the
// newest product data (its own copy of Catalog's products, or the cart's),
// and moves it through its states on Payments', Inventory's and
// Fulfillment's events, which may arrive in any order relative to each
// other; every transition is published (events package) and kept in the
// order's history. Its HTTP API shows orders and composes an order page
// from Payments' and Fulfillment's APIs.
package orders

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bounded-dev/bounded/platform/httpapi"
	"github.com/bounded-dev/bounded/platform/service"
	cartevents "github.com/bounded-dev/bounded/services/cart/events"
	catalogevents "github.com/bounded-dev/bounded/services/catalog/events"
	fulfillmentevents "github.com/bounded-dev/bounded/services/fulfillment/events"
	inventoryevents "github.com/bounded-dev/bounded/services/inventory/events"
	"github.com/bounded-dev/bounded/services/orders/events"
	paymentsevents "github.com/bounded-dev/bounded/services/payments/events"
)

// Name is the service's name: its database, stream and HTTP prefix.
const Name = "orders"

// Config configures the Orders service. The zero value is valid: every
// field has a default.
type Config struct {
	// PeerTimeout bounds each call the order page makes to another
	// service; a peer that does not answer in time is shown as
	// unavailable. Default 2 s.
	PeerTimeout time.Duration
}

func (c Config) withDefaults() Config {
	if c.PeerTimeout == 0 {
		c.PeerTimeout = 2 * time.Second
	}
	return c
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if c.PeerTimeout < 0 {
		return fmt.Errorf("orders: PeerTimeout %s is negative", c.PeerTimeout)
	}
	return nil
}

//go:embed migrations
var migrations embed.FS

//go:embed openapi.json
var openAPI []byte

// orderService is the running service; Spec names its methods, Start gives
// it its Env.
type orderService struct {
	cfg         Config
	env         service.Env
	store       *store
	transitions *prometheus.CounterVec
}

// Spec describes the Orders service. It touches nothing: the service
// starts in Start, on the Env the host gives it.
func Spec(cfg Config) service.Spec {
	s := &orderService{cfg: cfg.withDefaults()}
	mig, err := fs.Sub(migrations, "migrations")
	if err != nil {
		panic(err) // the embedded directory is there, or this does not compile
	}
	catalog, cart, payments, inventory, fulfillment := catalogevents.Registry(), cartevents.Registry(),
		paymentsevents.Registry(), inventoryevents.Registry(), fulfillmentevents.Registry()
	return service.Spec{
		Name:       Name,
		Aggregates: []string{"Order", "OrderItem"},
		Events:     events.Registry(),
		Consumes: []service.Consumption{
			service.On(catalog, catalogevents.ProductUpdated, service.EventCarriedState,
				"keeps its own copy of each product's name, price, currency and active flag: the newest data prices an order and decides whether its products are available", s.onProductUpdated),
			service.On(cart, cartevents.CheckedOut, service.Projection,
				"creates the order the cart asks for (order_confirmed, or order_cancelled when a product is unavailable)", s.onCheckedOut),
			service.On(payments, paymentsevents.PaymentCaptured, service.Projection,
				"the order is paid (and reserved when its stock is)", s.onPaymentCaptured),
			service.On(payments, paymentsevents.PaymentDeclined, service.Projection,
				"cancels the order (payment_declined)", s.onPaymentDeclined),
			service.On(inventory, inventoryevents.ReservationConfirmed, service.Projection,
				"the order's stock is reserved (the order is reserved once paid too)", s.onReservationConfirmed),
			service.On(inventory, inventoryevents.ReservationFailed, service.Projection,
				"cancels the order (out_of_stock)", s.onReservationFailed),
			service.On(fulfillment, fulfillmentevents.ShipmentDispatched, service.Projection,
				"the order is shipped", s.onShipmentDispatched),
		},
		Calls: []service.Call{
			{Service: "payments", Why: "the order page shows the order's payments and refunds"},
			{Service: "fulfillment", Why: "the order page shows the order's shipments"},
		},
		// Its consumers of several streams batch events of the same
		// orders: lock the batch's orders first, in one order.
		PrepareBatch: service.LockKeys(batchLockSpace, service.JSONField("order_id")),
		Migrations:   mig,
		OpenAPI:      openAPI,
		Start:        s.start,
	}
}

func (s *orderService) start(ctx context.Context, env service.Env) (*service.Running, error) {
	if err := s.cfg.Validate(); err != nil {
		return nil, err
	}
	if env.DB == nil || env.Outbox == nil {
		return nil, errors.New("orders: Env needs DB and Outbox")
	}
	s.env = env
	s.store = &store{db: env.DB}
	s.transitions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bounded_orders_orders_total",
		Help: "Orders that entered each status (one per transition, counted after commit; status confirmed or cancelled for new orders).",
	}, []string{"status"})
	for _, st := range statuses { // every series from the start, at zero
		s.transitions.WithLabelValues(string(st))
	}
	if env.Metrics != nil {
		if err := env.Metrics.Register(s.transitions); err != nil {
			return nil, fmt.Errorf("orders: metrics: %w", err)
		}
	}
	mux := httpapi.NewMux(httpapi.MuxConfig{Logger: env.Logger, AdminToken: env.AdminToken})
	s.routes(mux)
	return &service.Running{API: mux}, nil
}

// now is the time a change happens: UTC, to the millisecond, which both
// dialects store exactly.
func (s *orderService) now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

// batchLockSpace is the namespace of the advisory locks a batch of consumed
// events takes on its orders (see service.LockKeys).
const batchLockSpace = 0x6f72
