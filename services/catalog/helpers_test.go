package catalog_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bounded-dev/bounded/platform/contract"
	"github.com/bounded-dev/bounded/platform/servicetest"
	"github.com/bounded-dev/bounded/platform/sqldb"
	"github.com/bounded-dev/bounded/platform/testenv"
	"github.com/bounded-dev/bounded/services/catalog"
	"github.com/bounded-dev/bounded/services/catalog/events"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// The wire format, written out here (not borrowed from package catalog) so
// that a renamed JSON field fails these tests.
type product struct {
	SKU              string    `json:"sku"`
	Name             string    `json:"name"`
	ShortDescription string    `json:"short_description"`
	LongDescription  string    `json:"long_description"`
	Description      string    `json:"description"`
	PriceCents       int64     `json:"price_cents"`
	Currency         string    `json:"currency"`
	Category         string    `json:"category"`
	Active           bool      `json:"active"`
	Version          int64     `json:"version"`
	UpdatedAt        time.Time `json:"updated_at"`
}

type productList struct {
	Products  []product `json:"products"`
	NextAfter *string   `json:"next_after"`
}

type category struct {
	Slug      string    `json:"slug"`
	Name      string    `json:"name"`
	Version   int64     `json:"version"`
	UpdatedAt time.Time `json:"updated_at"`
}

type categoryList struct {
	Categories []category `json:"categories"`
	NextAfter  *string    `json:"next_after"`
}

// body is a PUT /products body as a client writes it.
type body map[string]any

func (b body) with(kv ...any) body {
	out := body{}
	for k, v := range b {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		k := kv[i].(string)
		if kv[i+1] == nil {
			delete(out, k)
		} else {
			out[k] = kv[i+1]
		}
	}
	return out
}

func mugBody() body {
	return body{
		"name":              "Stoneware mug",
		"short_description": "A mug.",
		"long_description":  "A mug. Holds 350 ml; dishwasher safe.",
		"price_cents":       1490,
		"currency":          "EUR",
		"category":          "kitchen",
		"active":            true,
	}
}

func start(t *testing.T, d sqldb.Dialect, cfg catalog.Config) *servicetest.Harness {
	t.Helper()
	return servicetest.Start(t, d, catalog.Spec(cfg))
}

func putCategory(t *testing.T, h *servicetest.Harness, slug, name string, want int) category {
	t.Helper()
	var c category
	h.MustJSON(t, "PUT", "/catalog/categories/"+slug, map[string]string{"name": name}, true, want, &c)
	return c
}

func putProduct(t *testing.T, h *servicetest.Harness, sku string, b any, want int) product {
	t.Helper()
	var p product
	h.MustJSON(t, "PUT", "/catalog/products/"+sku, b, true, want, &p)
	return p
}

func getProduct(t *testing.T, h *servicetest.Harness, sku string) product {
	t.Helper()
	var p product
	h.MustJSON(t, "GET", "/catalog/products/"+sku, nil, false, http.StatusOK, &p)
	return p
}

// mustDetail fails unless the problem's detail contains every want.
func mustDetail(t *testing.T, detail string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(detail, w) {
			t.Errorf("detail %q does not contain %q", detail, w)
		}
	}
}

// versionsOf returns the data.version of the published events name about
// subject, in the order they were published.
func versionsOf(t *testing.T, h *servicetest.Harness, name, subject string) []int64 {
	t.Helper()
	var out []int64
	for _, e := range h.Published(name) {
		if e.Subject != subject {
			continue
		}
		var v struct {
			Version int64 `json:"version"`
		}
		if err := json.Unmarshal(e.Data, &v); err != nil {
			t.Fatalf("%s %s: %v", e.Type, e.Data, err)
		}
		out = append(out, v.Version)
	}
	return out
}

// waitVersions waits for the event name about subject with data.version
// last, then requires the versions published about subject to be exactly
// want, in order. Since one producer's events about one subject arrive in
// order, an event that should not have been published (a no-op PUT) would
// show before last.
func waitVersions(t *testing.T, h *servicetest.Harness, name, subject string, want ...int64) {
	t.Helper()
	last := want[len(want)-1]
	h.WaitPublished(t, name, func(e contract.Event) bool {
		var v struct {
			Version int64 `json:"version"`
		}
		return e.Subject == subject && json.Unmarshal(e.Data, &v) == nil && v.Version == last
	})
	if got := versionsOf(t, h, name, subject); !slices.Equal(got, want) {
		t.Fatalf("%s about %s: versions %v published, want %v", name, subject, got, want)
	}
}

// productEvent returns the published product_updated of sku at version,
// decoded through Catalog's registry into the V2 view, and the raw event.
func productEvent(t *testing.T, h *servicetest.Harness, sku string, version int64) (contract.Event, events.ProductUpdatedV2) {
	t.Helper()
	reg := events.Registry()
	e := h.WaitPublished(t, events.ProductUpdated, func(e contract.Event) bool {
		v, err := contract.DecodeAs[events.ProductUpdatedV2](reg, e)
		return err == nil && e.Subject == sku && v.Version == version
	})
	v, err := contract.DecodeAs[events.ProductUpdatedV2](reg, e)
	if err != nil {
		t.Fatal(err)
	}
	return e, v
}

func sku(i int) string { return fmt.Sprintf("SKU-%03d", i) }
