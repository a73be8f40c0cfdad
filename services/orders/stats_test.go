package orders_test

import (
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/bounded-dev/bounded/platform/httpapi"
	"github.com/bounded-dev/bounded/platform/servicetest"
	"github.com/bounded-dev/bounded/platform/sqldb"
	"github.com/bounded-dev/bounded/services/orders"
)

// TestStats: GET /stats counts the orders and their value by status, with
// the outbox's position, for operators only.
func TestStats(t *testing.T) {
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		s := startShop(t, d)
		var st orders.Stats
		s.h.MustJSON(t, "GET", "/orders/stats", nil, true, http.StatusOK, &st)
		if len(st.ByStatus) != 0 || st.Outbox.Backlog != 0 || st.AsOf.IsZero() {
			t.Fatalf("stats of no orders: %+v", st)
		}
		s.placeOrder(t, "stats-a@example.com")
		second := s.placeOrder(t, "stats-b@example.com")
		s.declined(t, second, "card_declined")
		s.waitEvents(t, second, confirmed, cancelled)
		want := []orders.StatusTotal{{Status: "cancelled", Currency: "EUR", Orders: 1, ValueCents: 2000},
			{Status: "confirmed", Currency: "EUR", Orders: 1, ValueCents: 2000}}
		servicetest.Eventually(t, 10*time.Second, "the outbox published and the totals right", func() bool {
			s.h.MustJSON(t, "GET", "/orders/stats", nil, true, http.StatusOK, &st)
			return st.Outbox.Backlog == 0 && reflect.DeepEqual(st.ByStatus, want)
		})
		// Three events recorded: two confirmations, one cancellation.
		if st.Outbox.Recorded < 3 {
			t.Errorf("outbox recorded %d, want at least 3", st.Outbox.Recorded)
		}
		s.h.MustProblem(t, "GET", "/orders/stats", nil, false, http.StatusUnauthorized)
		s.h.MustProblem(t, "GET", "/orders/stats?status=shipped", nil, true, http.StatusBadRequest)
		if err := httpapi.CheckOpenAPI(orders.Spec(orders.Config{}).OpenAPI, s.h.Host.Routes("orders")); err != nil {
			t.Fatal(err)
		}
	})
}
