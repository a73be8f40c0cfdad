package catalog_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/bounded-dev/bounded/platform/servicetest"
	"github.com/bounded-dev/bounded/platform/sqldb"
	"github.com/bounded-dev/bounded/services/catalog"
	"github.com/bounded-dev/bounded/services/catalog/events"
)

// The demo catalog is valid, realistic in size, and seeds through the API.
func TestDemoCatalog(t *testing.T) {
	demo := catalog.DemoCatalog()
	if len(demo.Categories) < 3 || len(demo.Products) < 10 {
		t.Fatalf("%d categories, %d products", len(demo.Categories), len(demo.Products))
	}
	var slugs, skus []string
	for _, c := range demo.Categories {
		if _, err := catalog.NewCategory(c.Slug, c.Body.Name, time0); err != nil {
			t.Errorf("category %s: %v", c.Slug, err)
		}
		slugs = append(slugs, c.Slug)
	}
	for _, p := range demo.Products {
		f, err := p.Body.Fields()
		if err != nil {
			t.Errorf("product %s: %v", p.SKU, err)
			continue
		}
		if _, err := catalog.NewProduct(p.SKU, f, time0); err != nil {
			t.Errorf("product %s: %v", p.SKU, err)
		}
		if f.Currency != "EUR" || f.ShortDescription == "" || f.LongDescription == "" || !slices.Contains(slugs, f.Category) {
			t.Errorf("product %s: %+v", p.SKU, f)
		}
		skus = append(skus, p.SKU)
	}
	slices.Sort(skus)
	if len(slices.Compact(skus)) != len(demo.Products) {
		t.Fatal("a SKU repeats")
	}

	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		h := start(t, d, catalog.Config{})
		for _, c := range demo.Categories {
			h.MustJSON(t, "PUT", "/catalog/categories/"+c.Slug, c.Body, true, http.StatusCreated, nil)
		}
		for _, p := range demo.Products {
			h.MustJSON(t, "PUT", "/catalog/products/"+p.SKU, p.Body, true, http.StatusCreated, nil)
		}
		var l productList
		h.MustJSON(t, "GET", "/catalog/products?limit=500", nil, false, http.StatusOK, &l)
		if len(l.Products) != len(demo.Products) {
			t.Fatalf("listed %d products, put %d", len(l.Products), len(demo.Products))
		}
		servicetest.Eventually(t, 15e9, "every demo product published", func() bool {
			return len(h.Published(events.ProductUpdated)) == len(demo.Products)
		})
	})
}
