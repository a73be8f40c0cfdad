package inventory_test

import (
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/bounded-dev/bounded/platform/httpapi"
	"github.com/bounded-dev/bounded/platform/servicetest"
	"github.com/bounded-dev/bounded/platform/sqldb"
	"github.com/bounded-dev/bounded/services/inventory"
)

// TestStats: GET /stats gives every SKU's stock and the sums, with the
// outbox's position.
func TestStats(t *testing.T) {
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		s := start(t, d)
		var st inventory.Stats
		s.MustJSON(t, "GET", "/inventory/stats", nil, true, http.StatusOK, &st)
		if len(st.Stock) != 0 || st.OnHand != 0 || st.Outbox.Backlog != 0 {
			t.Fatalf("stats of no stock: %+v", st)
		}
		for sku, n := range map[string]int{"STATS-B": 3, "STATS-A": 5} {
			s.MustJSON(t, "PUT", "/inventory/stock/"+sku, map[string]int{"on_hand": n, "reorder_point": 0, "reorder_quantity": 1},
				true, http.StatusCreated, nil)
		}
		want := []inventory.StockTotal{{SKU: "STATS-A", OnHand: 5}, {SKU: "STATS-B", OnHand: 3}}
		servicetest.Eventually(t, 10*time.Second, "the outbox published and the totals right", func() bool {
			s.MustJSON(t, "GET", "/inventory/stats", nil, true, http.StatusOK, &st)
			return st.Outbox.Backlog == 0 && reflect.DeepEqual(st.Stock, want)
		})
		if st.OnHand != 8 || st.Reserved != 0 || st.Outbox.Recorded < 2 {
			t.Errorf("stats %+v, want 8 on hand, none reserved, 2 events recorded", st)
		}
		s.MustProblem(t, "GET", "/inventory/stats", nil, false, http.StatusUnauthorized)
		s.MustProblem(t, "GET", "/inventory/stats?sku=STATS-A", nil, true, http.StatusBadRequest)
		if err := httpapi.CheckOpenAPI(inventory.Spec(inventory.Config{}).OpenAPI, s.Host.Routes("inventory")); err != nil {
			t.Fatal(err)
		}
	})
}
