package catalog_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"testing"

	"github.com/bounded-dev/bounded/platform/contract"
	"github.com/bounded-dev/bounded/platform/servicetest"
	"github.com/bounded-dev/bounded/platform/sqldb"
	"github.com/bounded-dev/bounded/services/catalog"
	"github.com/bounded-dev/bounded/services/catalog/events"
)

// TestProductEventVersions runs Catalog publishing product_updated v1 (as
// before the description split) and v2 (the default): each publishes its
// version with the right data, and both decode, through Catalog's registry,
// into the same V2 view with the deprecated description populated, which
// is what Inventory's purchase orders read.
func TestProductEventVersions(t *testing.T) {
	const long = "Hand-thrown stoneware bowl. Glazed in deep blue; 15 cm across."
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		views := map[int][]events.ProductUpdatedV2{}
		for _, tc := range []struct {
			cfg     catalog.Config
			version int
			keys    []string
		}{
			{catalog.Config{ProductEventVersion: 1}, 1,
				[]string{"active", "category", "currency", "description", "name", "price_cents", "sku", "version"}},
			{catalog.Config{}, 2, // the default
				[]string{"active", "category", "currency", "description", "long_description", "name", "price_cents", "short_description", "sku", "version"}},
		} {
			t.Run(fmt.Sprintf("v%d", tc.version), func(t *testing.T) {
				h := start(t, d, tc.cfg)
				putCategory(t, h, "kitchen", "Kitchen", http.StatusCreated)
				// An old client's product (short = first sentence of long) and
				// a new client's (short chosen freely).
				putProduct(t, h, "BOWL-1", body{"name": "Blue bowl", "description": long, "price_cents": 2400,
					"currency": "EUR", "category": "kitchen", "active": true}, http.StatusCreated)
				putProduct(t, h, "BOWL-2", body{"name": "Blue bowl, large", "short_description": "The big one.",
					"long_description": long, "price_cents": 3100, "currency": "EUR", "category": "kitchen", "active": true}, http.StatusCreated)
				putProduct(t, h, "BOWL-2", body{"name": "Blue bowl, large", "short_description": "The big one.",
					"long_description": long, "price_cents": 2900, "currency": "EUR", "category": "kitchen", "active": true}, http.StatusOK)

				for _, want := range []struct {
					sku     string
					version int64
				}{{"BOWL-1", 1}, {"BOWL-2", 1}, {"BOWL-2", 2}} {
					e, v := productEvent(t, h, want.sku, want.version)
					if wantType := contract.TypeName(events.ProductUpdated, tc.version); e.Type != wantType {
						t.Fatalf("published %s, want %s", e.Type, wantType)
					}
					var raw map[string]any
					if err := json.Unmarshal(e.Data, &raw); err != nil {
						t.Fatal(err)
					}
					if keys := slices.Sorted(maps.Keys(raw)); !slices.Equal(keys, tc.keys) {
						t.Fatalf("v%d data has %v, want %v", tc.version, keys, tc.keys)
					}
					if raw["description"] != long {
						t.Fatalf("v%d description %q, want the long description", tc.version, raw["description"])
					}
					if v.Description != long || v.LongDescription != long || v.SKU != want.sku || v.Version != want.version {
						t.Fatalf("V2 view %+v", v)
					}
					views[tc.version] = append(views[tc.version], v)
				}
				waitVersions(t, h, events.ProductUpdated, "BOWL-2", 1, 2)
			})
		}
		if t.Failed() {
			return
		}
		// The old client's product reads the same in both versions (its
		// short description is the first sentence either way); the new
		// client's short description is v2's alone: v1 cannot carry it.
		v1, v2 := views[1], views[2]
		if v1[0] != v2[0] {
			t.Errorf("BOWL-1 decodes differently:\nv1 %+v\nv2 %+v", v1[0], v2[0])
		}
		if v1[0].ShortDescription != "Hand-thrown stoneware bowl." {
			t.Errorf("BOWL-1 short description %q", v1[0].ShortDescription)
		}
		for i := 1; i < 3; i++ {
			a, b := v1[i], v2[i]
			if b.ShortDescription != "The big one." || a.ShortDescription != "Hand-thrown stoneware bowl." {
				t.Errorf("BOWL-2 short descriptions: v1 %q, v2 %q", a.ShortDescription, b.ShortDescription)
			}
			a.ShortDescription = b.ShortDescription
			if a != b {
				t.Errorf("BOWL-2 decodes differently beyond the short description:\nv1 %+v\nv2 %+v", a, b)
			}
		}
	})
}
