// Package catalog is the Catalog service: it owns the Product and Category
// aggregates, serves them over HTTP, and publishes every change as an event
// that carries the whole new state (catalog.product_updated,
// catalog.category_updated; see package events), so that Cart, Orders and
// Inventory keep their own copies without ever reading Catalog's database.
// It consumes nothing.
package catalog

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bounded-dev/bounded/platform/service"
	"github.com/bounded-dev/bounded/services/catalog/events"
)

// Name is the service's name: its database, stream and HTTP prefix.
const Name = "catalog"

//go:embed migrations
var migrations embed.FS

//go:embed openapi.json
var openAPI []byte

// Config configures Catalog.
type Config struct {
	// ProductEventVersion is the version of catalog.product_updated Catalog
	// publishes: 1 (before the description split: one description) or 2
	// (short and long descriptions, plus the deprecated description equal
	// to the long one). Default 2. Publish 1 only while a consumer that
	// cannot read 2 is still deployed.
	ProductEventVersion int
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.ProductEventVersion == 0 {
		c.ProductEventVersion = 2
	}
	return c
}

// Validate reports a configuration Catalog cannot run with. Call it on
// c.WithDefaults().
func (c Config) Validate() error {
	if !slices.Contains(events.ProductVersions(), c.ProductEventVersion) {
		return fmt.Errorf("catalog: ProductEventVersion %d: want one of %v", c.ProductEventVersion, events.ProductVersions())
	}
	return nil
}

// Spec describes Catalog to a service host. It touches nothing: the
// configuration is validated, and the database reached, in Start.
func Spec(cfg Config) service.Spec {
	s := &catalogService{cfg: cfg.WithDefaults()}
	mig, err := fs.Sub(migrations, "migrations")
	if err != nil {
		panic("catalog: embedded migrations: " + err.Error()) // a constant, valid path
	}
	return service.Spec{
		Name:       Name,
		Aggregates: []string{"Product", "Category"},
		Events:     events.Registry(),
		Migrations: mig,
		OpenAPI:    openAPI,
		Start:      s.start,
	}
}

// catalogService is the running service; its methods are the HTTP handlers
// and the commands they call.
type catalogService struct {
	cfg     Config
	env     service.Env
	store   *store
	changes *prometheus.CounterVec // product changes by kind (created, updated)
}

func (s *catalogService) start(ctx context.Context, env service.Env) (*service.Running, error) {
	if err := s.cfg.Validate(); err != nil {
		return nil, err
	}
	if env.DB == nil || env.Outbox == nil {
		return nil, errors.New("catalog: Env needs DB and Outbox")
	}
	s.env = env
	s.store = &store{db: env.DB}
	if err := s.registerMetrics(env.Metrics); err != nil {
		return nil, err
	}
	return &service.Running{API: s.routes()}, nil
}

// registerMetrics registers:
//   - bounded_catalog_products{active="true"|"false"}: a gauge of the
//     products in the catalog, counted in the database when scraped (so it
//     is right however many replicas write, and never drifts);
//   - bounded_catalog_product_changes_total{change="created"|"updated"}: a
//     counter of the product changes this process committed (each one
//     published an event). A PUT that changes nothing is not counted.
func (s *catalogService) registerMetrics(reg prometheus.Registerer) error {
	s.changes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bounded_catalog_product_changes_total",
		Help: "Product changes committed (each publishes catalog.product_updated), by change: created or updated.",
	}, []string{"change"})
	if reg == nil {
		return nil
	}
	for _, c := range []prometheus.Collector{s.changes, &productsCollector{store: s.store}} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("catalog: metrics: %w", err)
		}
	}
	return nil
}
