package catalog_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/bounded-dev/bounded/platform/httpapi"
	"github.com/bounded-dev/bounded/platform/service"
	"github.com/bounded-dev/bounded/platform/servicetest"
	"github.com/bounded-dev/bounded/platform/sqldb"
	"github.com/bounded-dev/bounded/services/catalog"
	"github.com/bounded-dev/bounded/services/catalog/events"
)

func TestCategories(t *testing.T) {
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		h := start(t, d, catalog.Config{})

		h.MustProblem(t, "PUT", "/catalog/categories/kitchen", map[string]string{"name": "Kitchen"}, false, http.StatusUnauthorized)
		h.MustProblem(t, "GET", "/catalog/categories/kitchen", nil, false, http.StatusNotFound)
		// Bytes PostgreSQL refuses in text name no category: 404, not 500.
		for _, bad := range []string{"%FF", "%00", "kitchen%FF"} {
			h.MustProblem(t, "GET", "/catalog/categories/"+bad, nil, false, http.StatusNotFound)
		}

		c := putCategory(t, h, "kitchen", "Kitchen", http.StatusCreated)
		if c.Slug != "kitchen" || c.Name != "Kitchen" || c.Version != 1 || c.UpdatedAt.IsZero() {
			t.Fatalf("created %+v", c)
		}
		if again := putCategory(t, h, "kitchen", "Kitchen", http.StatusOK); again != c {
			t.Fatalf("an identical PUT changed %+v into %+v", c, again)
		}
		c = putCategory(t, h, "kitchen", "Kitchen & dining", http.StatusOK)
		if c.Version != 2 || c.Name != "Kitchen & dining" {
			t.Fatalf("renamed %+v", c)
		}
		var got category
		h.MustJSON(t, "GET", "/catalog/categories/kitchen", nil, false, http.StatusOK, &got)
		if got != c {
			t.Fatalf("GET %+v, want %+v", got, c)
		}
		// Two events, versions 1 and 2: the identical PUT published nothing.
		waitVersions(t, h, events.CategoryUpdated, "kitchen", 1, 2)
		e := h.WaitPublished(t, events.CategoryUpdated, nil)
		if e.Type != "catalog.category_updated.v1" || e.Source != events.Source {
			t.Fatalf("event %s from %s", e.Type, e.Source)
		}
		v, err := events.Registry().Decode(e)
		if err != nil {
			t.Fatal(err)
		}
		if cu := v.(events.CategoryUpdatedV1); cu.Slug != "kitchen" || cu.Name != "Kitchen" || cu.Version != 1 {
			t.Fatalf("first event %+v", cu)
		}

		// Bad input.
		for _, tc := range []struct {
			slug string
			body any
			want int
			says []string
		}{
			{"Kitchen", map[string]string{"name": "K"}, 400, []string{"slug", "not a slug"}},
			{"-garden", map[string]string{"name": "K"}, 400, []string{"slug"}},
			{strings.Repeat("a", 65), map[string]string{"name": "K"}, 400, []string{"slug"}},
			{"garden", map[string]string{"name": ""}, 400, []string{"name: required"}},
			{"garden", map[string]string{"name": "   "}, 400, []string{"name: required"}},
			{"garden", map[string]string{"name": strings.Repeat("x", 101)}, 400, []string{"name", "101 characters, at most 100"}},
			{"garden", map[string]string{"name": "a\nb"}, 400, []string{"name", "control character"}},
			{"garden", map[string]string{"title": "Garden"}, 400, []string{"unknown field"}},
			{"garden", `{"name":`, 400, []string{"truncated"}},
			{"garden", `{"name":3}`, 400, []string{`"name"`, "string"}},
			{"garden", `{"name":"a"} {}`, 400, []string{"after the JSON value"}},
		} {
			detail := h.MustProblem(t, "PUT", "/catalog/categories/"+tc.slug, tc.body, true, tc.want)
			mustDetail(t, detail, tc.says...)
		}
		r := h.Do(t, "GET", "/catalog/categories/garden", nil, false)
		if r.Status != http.StatusNotFound {
			t.Fatalf("a refused PUT created garden: %d %s", r.Status, r.Body)
		}
		// Content type other than JSON.
		req, _ := http.NewRequest("PUT", h.URL+"/catalog/categories/garden", strings.NewReader(`{"name":"G"}`))
		req.Header.Set("Content-Type", "text/plain")
		req.Header.Set("Authorization", "Bearer "+servicetest.AdminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnsupportedMediaType {
			t.Fatalf("text/plain: %d", resp.StatusCode)
		}

		// Listing, in pages.
		for _, s := range []string{"garden", "bath", "stationery", "coffee-tea"} {
			putCategory(t, h, s, strings.ToUpper(s[:1])+s[1:], http.StatusCreated)
		}
		var all []string
		path := "/catalog/categories?limit=2"
		for pages := 0; ; pages++ {
			if pages > 3 {
				t.Fatal("paging does not end")
			}
			var l categoryList
			h.MustJSON(t, "GET", path, nil, false, http.StatusOK, &l)
			for _, c := range l.Categories {
				all = append(all, c.Slug)
			}
			if l.NextAfter == nil {
				break
			}
			path = "/catalog/categories?limit=2&after=" + *l.NextAfter
		}
		if want := "bath coffee-tea garden kitchen stationery"; strings.Join(all, " ") != want {
			t.Fatalf("listed %v, want %s", all, want)
		}
		var l categoryList
		h.MustJSON(t, "GET", "/catalog/categories?after=stationery", nil, false, http.StatusOK, &l)
		if l.Categories == nil || len(l.Categories) != 0 || l.NextAfter != nil {
			t.Fatalf("past the end: %+v", l)
		}
		mustDetail(t, h.MustProblem(t, "GET", "/catalog/categories?limit=0", nil, false, 400), "limit")
		mustDetail(t, h.MustProblem(t, "GET", "/catalog/categories?limit=501", nil, false, 400), "limit")
		mustDetail(t, h.MustProblem(t, "GET", "/catalog/categories?after=B_ad", nil, false, 400), "after")
		h.MustProblem(t, "DELETE", "/catalog/categories/kitchen", nil, true, http.StatusMethodNotAllowed)
	})
}

func TestProducts(t *testing.T) {
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		h := start(t, d, catalog.Config{})
		putCategory(t, h, "kitchen", "Kitchen", http.StatusCreated)
		putCategory(t, h, "garden", "Garden", http.StatusCreated)

		h.MustProblem(t, "PUT", "/catalog/products/MUG-1", mugBody(), false, http.StatusUnauthorized)
		mustDetail(t, h.MustProblem(t, "GET", "/catalog/products/MUG-1", nil, false, 404), "MUG-1")
		h.MustProblem(t, "GET", "/catalog/products/not-a-sku", nil, false, 404)
		// Bytes PostgreSQL refuses in text name no product: 404, not 500.
		for _, bad := range []string{"%FF", "%00", "MUG-1%FF"} {
			h.MustProblem(t, "GET", "/catalog/products/"+bad, nil, false, 404)
		}

		// Create, read, replace.
		p := putProduct(t, h, "MUG-1", mugBody(), http.StatusCreated)
		want := product{SKU: "MUG-1", Name: "Stoneware mug", ShortDescription: "A mug.",
			LongDescription: "A mug. Holds 350 ml; dishwasher safe.", Description: "A mug. Holds 350 ml; dishwasher safe.",
			PriceCents: 1490, Currency: "EUR", Category: "kitchen", Active: true, Version: 1, UpdatedAt: p.UpdatedAt}
		if p != want || p.UpdatedAt.IsZero() {
			t.Fatalf("created\n%+v, want\n%+v", p, want)
		}
		if got := getProduct(t, h, "MUG-1"); got != p {
			t.Fatalf("GET %+v, want %+v", got, p)
		}
		if again := putProduct(t, h, "MUG-1", mugBody(), http.StatusOK); again != p {
			t.Fatalf("an identical PUT changed the product: %+v", again)
		}
		p = putProduct(t, h, "MUG-1", mugBody().with("price_cents", 1290), http.StatusOK)
		if p.Version != 2 || p.PriceCents != 1290 {
			t.Fatalf("repriced %+v", p)
		}
		p = putProduct(t, h, "MUG-1", mugBody().with("price_cents", 1290, "active", false, "category", "garden"), http.StatusOK)
		if p.Version != 3 || p.Active || p.Category != "garden" {
			t.Fatalf("deactivated %+v", p)
		}
		putProduct(t, h, "MUG-1", mugBody().with("price_cents", 1290, "active", false, "category", "garden"), http.StatusOK)

		// A client that GETs the product and PUTs its fields back, the
		// deprecated description included, changes nothing.
		g := getProduct(t, h, "MUG-1")
		roundTrip := body{"name": g.Name, "short_description": g.ShortDescription, "long_description": g.LongDescription,
			"description": g.Description, "price_cents": g.PriceCents, "currency": g.Currency, "category": g.Category, "active": g.Active}
		if again := putProduct(t, h, "MUG-1", roundTrip, http.StatusOK); again != g {
			t.Fatalf("a round trip changed the product: %+v", again)
		}

		// Events: versions 1, 2, 3 and nothing for the three no-op PUTs; the
		// last carries the whole state in v2, description populated.
		waitVersions(t, h, events.ProductUpdated, "MUG-1", 1, 2, 3)
		e, v := productEvent(t, h, "MUG-1", 3)
		if e.Type != "catalog.product_updated.v2" || e.Source != events.Source || e.Subject != "MUG-1" {
			t.Fatalf("event %s %s %s", e.Type, e.Source, e.Subject)
		}
		wantEvent := events.ProductUpdatedV2{SKU: "MUG-1", Name: "Stoneware mug", ShortDescription: "A mug.",
			LongDescription: want.LongDescription, Description: want.LongDescription, PriceCents: 1290,
			Currency: "EUR", Category: "garden", Active: false, Version: 3}
		if v != wantEvent {
			t.Fatalf("event data\n%+v, want\n%+v", v, wantEvent)
		}

		// Old clients send description only: it is the long description,
		// and its first sentence the short one.
		old := body{"name": "Kettle", "description": "Steel kettle, 1.7 l. Boils in three minutes.",
			"price_cents": 3900, "currency": "EUR", "category": "kitchen", "active": true}
		k := putProduct(t, h, "KETTLE-1", old, http.StatusCreated)
		if k.ShortDescription != "Steel kettle, 1.7 l." || k.LongDescription != old["description"] || k.Description != k.LongDescription {
			t.Fatalf("old client: %+v", k)
		}
		if again := putProduct(t, h, "KETTLE-1", old, http.StatusOK); again.Version != 1 {
			t.Fatalf("an old client's repeated PUT changed the product: %+v", again)
		}
		k = putProduct(t, h, "KETTLE-1", old.with("short_description", "A kettle."), http.StatusOK)
		if k.ShortDescription != "A kettle." || k.LongDescription != old["description"] || k.Version != 2 {
			t.Fatalf("description with short_description: %+v", k)
		}
		_, kv := productEvent(t, h, "KETTLE-1", 2)
		if kv.Description != old["description"] || kv.ShortDescription != "A kettle." {
			t.Fatalf("event of an old client's PUT: %+v", kv)
		}

		// Bad input: 400 with a detail that names the field; nothing changes.
		long := func(n int) string { return strings.Repeat("é", n) }
		for _, tc := range []struct {
			name string
			sku  string
			body any
			says []string
		}{
			{"no name", "MUG-1", mugBody().with("name", nil), []string{"name: required"}},
			{"blank name", "MUG-1", mugBody().with("name", " "), []string{"name: required"}},
			{"long name", "MUG-1", mugBody().with("name", long(201)), []string{"name: 201 characters, at most 200"}},
			{"name with a control character", "MUG-1", mugBody().with("name", "a\x01b"), []string{"name", "control character"}},
			{"long short description", "MUG-1", mugBody().with("short_description", long(281)), []string{"short_description: 281 characters, at most 280"}},
			{"long long description", "MUG-1", mugBody().with("long_description", long(4001)), []string{"long_description: 4001 characters, at most 4000"}},
			{"zero price", "MUG-1", mugBody().with("price_cents", 0), []string{"price_cents: 0, want 1 to 1000000000"}},
			{"negative price", "MUG-1", mugBody().with("price_cents", -5), []string{"price_cents"}},
			{"price too high", "MUG-1", mugBody().with("price_cents", 1_000_000_001), []string{"price_cents"}},
			{"fractional price", "MUG-1", mugBody().with("price_cents", 12.5), []string{`"price_cents"`, "integer"}},
			{"price as a string", "MUG-1", mugBody().with("price_cents", "1290"), []string{`"price_cents"`, "integer"}},
			{"lower-case currency", "MUG-1", mugBody().with("currency", "eur"), []string{"currency", "ISO 4217"}},
			{"four-letter currency", "MUG-1", mugBody().with("currency", "EURO"), []string{"currency"}},
			{"no currency", "MUG-1", mugBody().with("currency", nil), []string{"currency"}},
			{"no category", "MUG-1", mugBody().with("category", nil), []string{"category: required"}},
			{"bad category", "MUG-1", mugBody().with("category", "Kitchen"), []string{"category", "not a slug"}},
			{"no active", "MUG-1", mugBody().with("active", nil), []string{"active: required"}},
			{"active as a string", "MUG-1", mugBody().with("active", "yes"), []string{`"active"`, "true or false"}},
			{"unknown field", "MUG-1", mugBody().with("colour", "blue"), []string{"unknown field", "colour"}},
			{"both forms disagree", "MUG-1", mugBody().with("description", "Other."), []string{"description", "long_description"}},
			{"several problems", "MUG-1", mugBody().with("name", "", "currency", "x"), []string{"name: required", "currency"}},
			{"lower-case SKU", "mug-2", mugBody(), []string{"sku", "not a SKU"}},
			{"one-character SKU", "M", mugBody(), []string{"sku"}},
			{"SKU too long", strings.Repeat("A", 33), mugBody(), []string{"sku"}},
			{"SKU starting with -", "-MUG", mugBody(), []string{"sku"}},
			{"malformed JSON", "MUG-1", `{"name": "x",`, []string{"request body"}},
			{"empty body", "MUG-1", ``, []string{"empty"}},
			{"null body", "MUG-1", `null`, []string{"name: required", "active: required"}},
			{"array body", "MUG-1", `[]`, []string{"object"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				detail := h.MustProblem(t, "PUT", "/catalog/products/"+tc.sku, tc.body, true, http.StatusBadRequest)
				mustDetail(t, detail, tc.says...)
			})
		}
		// Categories that do not exist: 422, and nothing changes.
		mustDetail(t, h.MustProblem(t, "PUT", "/catalog/products/MUG-2", mugBody().with("category", "toys"), true, http.StatusUnprocessableEntity),
			`"toys" does not exist`)
		mustDetail(t, h.MustProblem(t, "PUT", "/catalog/products/MUG-1", mugBody().with("category", "toys"), true, http.StatusUnprocessableEntity),
			"toys")
		h.MustProblem(t, "GET", "/catalog/products/MUG-2", nil, false, http.StatusNotFound)
		if got := getProduct(t, h, "MUG-1"); got != g {
			t.Fatalf("refused PUTs changed the product: %+v", got)
		}

		// Listing: filters and pages, in SKU order.
		for i := range 7 {
			b := mugBody().with("active", i%2 == 0)
			if i >= 5 {
				b = b.with("category", "garden")
			}
			putProduct(t, h, sku(i), b, http.StatusCreated)
		}
		list := func(query string) (skus []string) {
			t.Helper()
			path := "/catalog/products?" + query
			for pages := 0; ; pages++ {
				if pages > 20 {
					t.Fatal("paging does not end")
				}
				var l productList
				h.MustJSON(t, "GET", path, nil, false, http.StatusOK, &l)
				if l.Products == nil {
					t.Fatal("products is null, want an array")
				}
				for _, p := range l.Products {
					skus = append(skus, p.SKU)
				}
				if l.NextAfter == nil {
					return skus
				}
				if *l.NextAfter != skus[len(skus)-1] {
					t.Fatalf("next_after %q, last SKU %q", *l.NextAfter, skus[len(skus)-1])
				}
				path = "/catalog/products?" + query + "&after=" + *l.NextAfter
			}
		}
		for _, tc := range []struct{ query, want string }{
			{"", "KETTLE-1 MUG-1 SKU-000 SKU-001 SKU-002 SKU-003 SKU-004 SKU-005 SKU-006"},
			{"limit=2", "KETTLE-1 MUG-1 SKU-000 SKU-001 SKU-002 SKU-003 SKU-004 SKU-005 SKU-006"},
			{"limit=1&category=garden", "MUG-1 SKU-005 SKU-006"},
			{"active=true", "KETTLE-1 SKU-000 SKU-002 SKU-004 SKU-006"},
			{"active=false&category=garden&limit=3", "MUG-1 SKU-005"},
			{"category=toys", ""},
			{"limit=500&after=SKU-003", "SKU-004 SKU-005 SKU-006"},
		} {
			if got := strings.Join(list(tc.query), " "); got != tc.want {
				t.Errorf("GET /products?%s: %s, want %s", tc.query, got, tc.want)
			}
		}
		var l productList
		h.MustJSON(t, "GET", "/catalog/products?limit=9", nil, false, http.StatusOK, &l)
		if len(l.Products) != 9 || l.NextAfter != nil {
			t.Fatalf("a page that holds everything: %d products, next_after %v", len(l.Products), l.NextAfter)
		}
		for _, tc := range []struct{ query, says string }{
			{"limit=0", "limit"},
			{"limit=501", "limit"},
			{"limit=x", "limit"},
			{"active=yes", "active"},
			{"category=Kitchen", "category"},
			{"after=lower", "after"},
		} {
			mustDetail(t, h.MustProblem(t, "GET", "/catalog/products?"+tc.query, nil, false, http.StatusBadRequest), tc.says)
		}

		// Metrics: the gauge counts what the database holds; the counter
		// the changes (no-ops not counted).
		if n := h.Metric(t, "bounded_catalog_products", "service", "catalog", "active", "true"); n != 5 {
			t.Errorf("active products = %v, want 5", n)
		}
		if n := h.Metric(t, "bounded_catalog_products", "service", "catalog", "active", "false"); n != 4 {
			t.Errorf("inactive products = %v, want 4", n)
		}
		if n := h.Metric(t, "bounded_catalog_product_changes_total", "change", "created"); n != 9 {
			t.Errorf("created = %v, want 9", n)
		}
		if n := h.Metric(t, "bounded_catalog_product_changes_total", "change", "updated"); n != 3 {
			t.Errorf("updated = %v, want 3", n)
		}
	})
}

// Concurrent PUTs of one new product: one creates it, the others replace
// it, each change gets the next version, and the events are published in
// version order.
func TestConcurrentPutsOfOneProduct(t *testing.T) {
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		h := start(t, d, catalog.Config{})
		putCategory(t, h, "kitchen", "Kitchen", http.StatusCreated)
		const n = 8
		statuses := make(chan int, n)
		for i := range n {
			go func() {
				b, _ := json.Marshal(mugBody().with("price_cents", 1000+i))
				req, _ := http.NewRequest("PUT", h.URL+"/catalog/products/RACE-1", bytes.NewReader(b))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+servicetest.AdminToken)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					statuses <- 0
					return
				}
				resp.Body.Close()
				statuses <- resp.StatusCode
			}()
		}
		count := map[int]int{}
		for range n {
			count[<-statuses]++
		}
		if count[http.StatusCreated] != 1 || count[http.StatusOK] != n-1 {
			t.Fatalf("statuses %v, want one 201 and %d 200", count, n-1)
		}
		if p := getProduct(t, h, "RACE-1"); p.Version != n {
			t.Fatalf("version %d after %d changes", p.Version, n)
		}
		waitVersions(t, h, events.ProductUpdated, "RACE-1", 1, 2, 3, 4, 5, 6, 7, 8)
	})
}

func TestOpenAPI(t *testing.T) {
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		spec := catalog.Spec(catalog.Config{})
		h := servicetest.Start(t, d, spec)
		if err := httpapi.CheckOpenAPI(spec.OpenAPI, h.Host.Routes("catalog")); err != nil {
			t.Fatal(err)
		}
		r := h.Do(t, "GET", "/catalog/openapi.json", nil, false)
		if r.Status != http.StatusOK || !bytes.Equal(r.Body, spec.OpenAPI) {
			t.Fatalf("GET /catalog/openapi.json: %d, %d bytes", r.Status, len(r.Body))
		}
	})
}

func TestConfig(t *testing.T) {
	if v := (catalog.Config{}).WithDefaults().ProductEventVersion; v != 2 {
		t.Fatalf("default ProductEventVersion %d, want 2", v)
	}
	for _, v := range []int{1, 2} {
		if err := (catalog.Config{ProductEventVersion: v}).WithDefaults().Validate(); err != nil {
			t.Errorf("version %d: %v", v, err)
		}
	}
	for _, v := range []int{-1, 3, 10} {
		cfg := catalog.Config{ProductEventVersion: v}
		if err := cfg.WithDefaults().Validate(); err == nil || !strings.Contains(err.Error(), "ProductEventVersion") {
			t.Errorf("version %d: Validate = %v", v, err)
		}
		// The host learns of it when it starts the service, before anything runs.
		spec := catalog.Spec(cfg)
		if err := spec.Validate(); err != nil {
			t.Fatal(err)
		}
		if _, err := spec.Start(context.Background(), service.Env{}); err == nil || !strings.Contains(err.Error(), "ProductEventVersion") {
			t.Errorf("version %d: Start = %v", v, err)
		}
	}
}
