package main

import (
	"context"
	"fmt"
	"net/http"

	"github.com/bounded-dev/bounded/platform/service"
	"github.com/bounded-dev/bounded/services/catalog"
)

// Demo stock for every demo product: enough for a try-out, with a reorder
// point so that a few orders start a purchase order.
const (
	demoOnHand          = 100
	demoReorderPoint    = 10
	demoReorderQuantity = 50
)

// seedDemo puts the demo catalog and its stock through the services' own
// admin APIs (in process), as an operator would: Catalog publishes every
// product, and Cart, Orders and Inventory copy them from the events.
func seedDemo(ctx context.Context, h http.Handler, token string) error {
	peers := service.NewPeers("http://bounded.internal", &http.Client{Transport: service.HandlerTransport{Handler: h}})
	demo := catalog.DemoCatalog()
	for _, c := range demo.Categories {
		if err := peers.Put(ctx, token, "catalog", "/categories/"+c.Slug, c.Body); err != nil {
			return fmt.Errorf("category %s: %w", c.Slug, err)
		}
	}
	for _, p := range demo.Products {
		if err := peers.Put(ctx, token, "catalog", "/products/"+p.SKU, p.Body); err != nil {
			return fmt.Errorf("product %s: %w", p.SKU, err)
		}
		stock := map[string]int{"on_hand": demoOnHand, "reorder_point": demoReorderPoint, "reorder_quantity": demoReorderQuantity}
		if err := peers.Put(ctx, token, "inventory", "/stock/"+p.SKU, stock); err != nil {
			return fmt.Errorf("stock of %s: %w", p.SKU, err)
		}
	}
	return nil
}
