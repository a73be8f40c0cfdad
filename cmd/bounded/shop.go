package main

import (
	"github.com/bounded-dev/bounded/platform/service"
	"github.com/bounded-dev/bounded/services/cart"
	"github.com/bounded-dev/bounded/services/catalog"
	"github.com/bounded-dev/bounded/services/fulfillment"
	"github.com/bounded-dev/bounded/services/inventory"
	"github.com/bounded-dev/bounded/services/orders"
	"github.com/bounded-dev/bounded/services/payments"
	"github.com/bounded-dev/bounded/services/reporting"
)

// shopConfig is what the services are configured with.
type shopConfig struct {
	catalog     catalog.Config
	cart        cart.Config
	orders      orders.Config
	payments    payments.Config
	inventory   inventory.Config
	fulfillment fulfillment.Config
	reporting   reporting.Config
}

// shopSpecs is the shop: every service, in the order they start (a
// service's producers first, so that its consumers find their streams at
// once; they would wait for them otherwise). It is the one list of services
// the binary knows; `bounded topology` prints it.
func shopSpecs(cfg shopConfig) []service.Spec {
	return []service.Spec{
		catalog.Spec(cfg.catalog),
		cart.Spec(cfg.cart),
		orders.Spec(cfg.orders),
		payments.Spec(cfg.payments),
		inventory.Spec(cfg.inventory),
		fulfillment.Spec(cfg.fulfillment),
		// Last: it consumes every other service's stream.
		reporting.Spec(cfg.reporting),
	}
}
