// Package events is the Catalog service's published contract: the events it
// publishes, their versions, and how older versions upcast to newer ones.
// It is the only package of the Catalog service other services may import.
package events

import (
	"encoding/json"
	"fmt"

	"github.com/bounded-dev/bounded/platform/contract"
)

// Source is the CloudEvents source of Catalog's events.
const Source = "/catalog"

// Event names (without version). The subject of a product event is the
// product's SKU; of a category event, the category's slug.
const (
	ProductUpdated  = "catalog.product_updated"
	CategoryUpdated = "catalog.category_updated"
)

// ProductUpdatedV1 carries a product's whole state after a change
// (event-carried state transfer). Version increases by one with every change
// of the product, so a consumer can ignore a copy older than the one it has.
type ProductUpdatedV1 struct {
	SKU         string `json:"sku"`
	Name        string `json:"name"`
	Description string `json:"description"`
	PriceCents  int64  `json:"price_cents"`
	Currency    string `json:"currency"`
	Category    string `json:"category"`
	Active      bool   `json:"active"`
	Version     int64  `json:"version"`
}

// ProductUpdatedV2 splits the description into a short and a long one.
// Description stays populated (with the long description) for the
// deprecation window, because consumers rely on it; see Inventory's events
// package.
type ProductUpdatedV2 struct {
	SKU              string `json:"sku"`
	Name             string `json:"name"`
	ShortDescription string `json:"short_description"`
	LongDescription  string `json:"long_description"`
	// Description is deprecated: read LongDescription. It is still
	// published, equal to LongDescription, while consumers move.
	Description string `json:"description"`
	PriceCents  int64  `json:"price_cents"`
	Currency    string `json:"currency"`
	Category    string `json:"category"`
	Active      bool   `json:"active"`
	Version     int64  `json:"version"`
}

// CategoryUpdatedV1 carries a category's state after a change.
type CategoryUpdatedV1 struct {
	Slug    string `json:"slug"`
	Name    string `json:"name"`
	Version int64  `json:"version"`
}

// Registry returns Catalog's event registry, with the upcaster from
// product_updated v1 to v2: the long description (and the deprecated
// description) is the old description, the short one its first sentence
// (ShortFromDescription), the same rule the Catalog API applies to an old
// client that sends only a description.
func Registry() *contract.Registry {
	r := contract.NewRegistry()
	contract.Register[ProductUpdatedV1](r, ProductUpdated, 1)
	contract.Register[ProductUpdatedV2](r, ProductUpdated, 2)
	contract.Register[CategoryUpdatedV1](r, CategoryUpdated, 1)
	r.Upcaster(ProductUpdated, 1, func(data []byte) ([]byte, error) {
		var v1 ProductUpdatedV1
		if err := json.Unmarshal(data, &v1); err != nil {
			return nil, fmt.Errorf("upcast %s v1: %w", ProductUpdated, err)
		}
		return json.Marshal(ProductUpdatedV2{SKU: v1.SKU, Name: v1.Name, ShortDescription: ShortFromDescription(v1.Description),
			LongDescription: v1.Description, Description: v1.Description, PriceCents: v1.PriceCents,
			Currency: v1.Currency, Category: v1.Category, Active: v1.Active, Version: v1.Version})
	})
	return r
}
