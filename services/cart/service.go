// Package cart is the Cart service: customers' carts and their lines, and
// the checkout that turns a cart into an order request (cart.checked_out,
// which Orders turns into an order).
//
// Cart keeps its own read-only copy of the catalog's products, fed by
// catalog.product_updated (event-carried state transfer): a cart shows, and
// a checkout charges, the prices of that copy, and Cart never calls the
// Catalog. The copy takes a product change only if it is newer than the one
// it has (Catalog's version), so duplicates and replays are harmless.
package cart

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bounded-dev/bounded/platform/contract"
	"github.com/bounded-dev/bounded/platform/httpapi"
	"github.com/bounded-dev/bounded/platform/inbox"
	"github.com/bounded-dev/bounded/platform/service"
	"github.com/bounded-dev/bounded/platform/sqldb"
	"github.com/bounded-dev/bounded/services/cart/events"
	catalogevents "github.com/bounded-dev/bounded/services/catalog/events"
)

// Name is the service's name: its database, stream and HTTP prefix (/cart).
const Name = "cart"

// Config configures the Cart service. The zero value is usable.
type Config struct {
	// MaxLines bounds the lines of one cart. Default 100.
	MaxLines int
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// MaxLinesLimit is the most Config.MaxLines may be: Orders and Inventory
// take at most 500 lines an order, and dead-letter a checkout with more, so
// a cart that let a customer check out more lines would answer 202 with an
// order id that never becomes an order.
const MaxLinesLimit = 500

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if c.MaxLines < 0 || c.MaxLines > MaxLinesLimit {
		return fmt.Errorf("cart: MaxLines %d: want 1 to %d (0 for the default)", c.MaxLines, MaxLinesLimit)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.MaxLines == 0 {
		c.MaxLines = 100
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

//go:embed migrations
var migrations embed.FS

//go:embed openapi.json
var openAPI []byte

// Spec describes the Cart service. Building it touches nothing; the
// service gets its database and the rest in Start.
func Spec(cfg Config) service.Spec {
	s := &cartService{cfg: cfg.withDefaults()}
	mig, err := fs.Sub(migrations, "migrations")
	if err != nil {
		panic(err) // an embedded directory: cannot happen
	}
	return service.Spec{
		Name:       Name,
		Aggregates: []string{"Cart", "CartItem"},
		Events:     events.Registry(),
		Consumes: []service.Consumption{
			service.On[catalogevents.ProductUpdatedV2](catalogevents.Registry(), catalogevents.ProductUpdated, service.EventCarriedState,
				"keeps a read-only copy of each product's name, price, currency and availability for carts and checkouts",
				s.onProductUpdated),
		},
		Migrations: mig,
		OpenAPI:    openAPI,
		Start:      s.start,
	}
}

// cartService is the running service; its Env arrives in start.
type cartService struct {
	cfg     Config
	env     service.Env
	store   *store
	metrics *metrics
}

type metrics struct {
	checkouts      prometheus.Counter
	productUpdates *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		checkouts: prometheus.NewCounter(prometheus.CounterOpts{Name: "bounded_cart_checkouts_total",
			Help: "Carts checked out (cart.checked_out recorded); idempotent retries are not counted."}),
		productUpdates: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bounded_cart_product_updates_total",
			Help: "catalog.product_updated events applied to the product copy (result=applied), or ignored as not newer than it (result=stale)."},
			[]string{"result"}),
	}
	m.productUpdates.WithLabelValues("applied") // both series exist from the start
	m.productUpdates.WithLabelValues("stale")
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.checkouts, m.productUpdates} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("cart: metrics: %w", err)
		}
	}
	return m, nil
}

func (s *cartService) start(ctx context.Context, env service.Env) (*service.Running, error) {
	if err := s.cfg.Validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(env.Metrics)
	if err != nil {
		return nil, err
	}
	s.env, s.store, s.metrics = env, &store{db: env.DB}, m
	mux := httpapi.NewMux(httpapi.MuxConfig{Logger: env.Logger, AdminToken: env.AdminToken})
	s.routes(mux)
	return &service.Running{API: mux}, nil
}

// onProductUpdated applies a product change to Cart's copy, unless the copy
// is as new already. Events of one product arrive in order, but a replay or
// a duplicate under another id may bring an older version: it is a no-op.
func (s *cartService) onProductUpdated(ctx context.Context, tx *sqldb.Tx, e contract.Event, data catalogevents.ProductUpdatedV2) error {
	p, err := ProductFromEvent(data)
	if err != nil {
		return inbox.Permanent(fmt.Errorf("%s %s: %w", e.Type, e.ID, err))
	}
	if e.Subject != "" && e.Subject != p.SKU {
		return inbox.Permanent(fmt.Errorf("%s %s: subject %q is not the product's sku %s", e.Type, e.ID, e.Subject, p.SKU))
	}
	applied, err := s.store.applyProduct(ctx, tx, p)
	if err != nil {
		return err
	}
	result := "stale"
	if applied {
		result = "applied"
	}
	tx.AfterCommit(func() { s.metrics.productUpdates.WithLabelValues(result).Inc() })
	return nil
}

// newID returns a new UUIDv7.
func newID() (string, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return "", fmt.Errorf("cart: new id: %w", err)
	}
	return id.String(), nil
}

// errorKinds maps the domain's error kinds to the HTTP edge's, once.
var errorKinds = []struct{ domain, http error }{
	{ErrInvalid, httpapi.ErrInvalid},
	{ErrNotFound, httpapi.ErrNotFound},
	{ErrConflict, httpapi.ErrConflict},
	{ErrRejected, httpapi.ErrUnprocessable},
}

// httpError turns a domain error into the edge's kind with the same
// message; other errors pass unchanged (a 500, logged).
func httpError(err error) error {
	var de *Error
	if !errors.As(err, &de) {
		return err
	}
	for _, k := range errorKinds {
		if errors.Is(de, k.domain) {
			return httpapi.Errorf(k.http, "%s", de.Error())
		}
	}
	return err
}
