package catalog_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bounded-dev/bounded/platform/contract"
	"github.com/bounded-dev/bounded/platform/httpapi"
	"github.com/bounded-dev/bounded/services/catalog"
	"github.com/bounded-dev/bounded/services/catalog/events"
)

var time0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// FuzzPutProductRequest runs what PUT /products/{sku} does before the
// database (strict decoding, the description rules, validation) on
// arbitrary input. It must never panic; it must reject with the edge's kinds
// (400/413) or a *ValidationError; and what it accepts must be stable: the
// accepted fields, sent again in the new form or the old one, give the same
// fields, and make a product whose event decodes back to its state.
func FuzzPutProductRequest(f *testing.F) {
	for _, p := range catalog.DemoCatalog().Products[:3] {
		b, _ := json.Marshal(p.Body)
		f.Add(p.SKU, b)
	}
	f.Add("MUG-1", []byte(`{"name":"Mug","description":"A mug. Blue.","price_cents":1,"currency":"EUR","category":"k","active":false}`))
	f.Add("MUG-1", []byte(`{"name":"Mug","description":"x","long_description":"y","price_cents":1,"currency":"EUR","category":"k","active":true}`))
	f.Add("MUG-1", []byte(`{"name":"Mug","description":"x","long_description":"x","short_description":"","price_cents":1,"currency":"EUR","category":"k","active":true}`))
	f.Add("mug", []byte(`{"name":"\u0001","price_cents":0,"currency":"eur","category":"-","active":null}`))
	f.Add("A1", []byte(`null`))
	f.Add("A1", []byte(`{"price_cents":1e99}`))
	f.Add("A1", []byte(`{"name":"a"}{}`))
	f.Add("A1", []byte(`{"name":"`+strings.Repeat("ü", 300)+`"}`))
	reg := events.Registry()
	f.Fuzz(func(t *testing.T, sku string, body []byte) {
		var req catalog.PutProductRequest
		if err := httpapi.DecodeJSON(bytes.NewReader(body), &req); err != nil {
			if !errors.Is(err, httpapi.ErrInvalid) && !errors.Is(err, httpapi.ErrTooLarge) {
				t.Fatalf("decode error of no 4xx kind: %v", err)
			}
			return
		}
		fields, err := req.Fields()
		if err != nil {
			var ve *catalog.ValidationError
			if !errors.As(err, &ve) || len(ve.Problems) == 0 {
				t.Fatalf("Fields: %v, want a *ValidationError", err)
			}
			return
		}
		if err := fields.Validate(); err != nil {
			t.Fatalf("accepted fields do not validate: %v", err)
		}
		// Again, in the new form and in the old one.
		again := func(r catalog.PutProductRequest) {
			t.Helper()
			b, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			var back catalog.PutProductRequest
			if err := httpapi.DecodeJSON(bytes.NewReader(b), &back); err != nil {
				t.Fatalf("re-decode %s: %v", b, err)
			}
			got, err := back.Fields()
			if err != nil || got != fields {
				t.Fatalf("re-sent %s: %+v, %v; want %+v", b, got, err, fields)
			}
		}
		short, long, active := fields.ShortDescription, fields.LongDescription, fields.Active
		canonical := catalog.PutProductRequest{Name: fields.Name, ShortDescription: &short, LongDescription: &long,
			PriceCents: fields.PriceCents, Currency: fields.Currency, Category: fields.Category, Active: &active}
		again(canonical)
		old := canonical
		old.LongDescription, old.Description = nil, &long
		again(old)
		both := canonical
		both.Description = &long
		again(both)

		p, err := catalog.NewProduct(sku, fields, time0)
		if (err == nil) != (catalog.ValidateSKU(sku) == nil) {
			t.Fatalf("NewProduct(%q) = %v, ValidateSKU = %v", sku, err, catalog.ValidateSKU(sku))
		}
		if err != nil {
			return
		}
		for _, v := range events.ProductVersions() {
			e, err := events.NewProductUpdated(v, p.State())
			if err != nil {
				t.Fatal(err)
			}
			view, err := contract.DecodeAs[events.ProductUpdatedV2](reg, e)
			if err != nil {
				t.Fatal(err)
			}
			if view.SKU != sku || view.Name != fields.Name || view.LongDescription != long || view.Description != long ||
				view.PriceCents != fields.PriceCents || view.Category != fields.Category || view.Active != active || view.Version != 1 {
				t.Fatalf("v%d event decodes to %+v, product %+v", v, view, fields)
			}
			if v == 2 && view.ShortDescription != short {
				t.Fatalf("v2 short description %q, want %q", view.ShortDescription, short)
			}
		}
	})
}

// FuzzPutCategoryRequest: decoding and validating PUT /categories/{slug}
// never panics, rejects with the edge's kinds or a *ValidationError, and a
// valid category renamed to its own name is unchanged.
func FuzzPutCategoryRequest(f *testing.F) {
	for _, c := range catalog.DemoCatalog().Categories {
		b, _ := json.Marshal(c.Body)
		f.Add(c.Slug, b)
	}
	f.Add("Kitchen", []byte(`{"name":""}`))
	f.Add("a", []byte(`{"name":"\t"}`))
	f.Add("a-", []byte(`{"name":null}`))
	f.Add("-a", []byte(`{"nom":"x"}`))
	f.Add("a", []byte(`{"name":"`+strings.Repeat("x", 101)+`"}`))
	f.Fuzz(func(t *testing.T, slug string, body []byte) {
		var req catalog.PutCategoryRequest
		if err := httpapi.DecodeJSON(bytes.NewReader(body), &req); err != nil {
			if !errors.Is(err, httpapi.ErrInvalid) && !errors.Is(err, httpapi.ErrTooLarge) {
				t.Fatalf("decode error of no 4xx kind: %v", err)
			}
			return
		}
		c, err := catalog.NewCategory(slug, req.Name, time0)
		if err != nil {
			var ve *catalog.ValidationError
			if !errors.As(err, &ve) || len(ve.Problems) == 0 {
				t.Fatalf("NewCategory: %v, want a *ValidationError", err)
			}
			if catalog.ValidateSlug(slug) == nil && !strings.Contains(err.Error(), "name") {
				t.Fatalf("a valid slug, refused for %v", err)
			}
			return
		}
		if catalog.ValidateSlug(slug) != nil {
			t.Fatalf("slug %q accepted by NewCategory, refused by ValidateSlug", slug)
		}
		same, changed, err := c.Rename(req.Name, time0.Add(time.Hour))
		if err != nil || changed || same != c {
			t.Fatalf("renaming to the same name: %+v, %v, %v", same, changed, err)
		}
		e, err := events.NewCategoryUpdated(c.Event())
		if err != nil {
			t.Fatal(err)
		}
		v, err := events.Registry().Decode(e)
		if err != nil || v.(events.CategoryUpdatedV1) != c.Event() {
			t.Fatalf("event decodes to %+v, %v", v, err)
		}
	})
}
