package fulfillment_test

import (
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/bounded-dev/bounded/platform/httpapi"
	"github.com/bounded-dev/bounded/platform/servicetest"
	"github.com/bounded-dev/bounded/platform/sqldb"
	"github.com/bounded-dev/bounded/services/fulfillment"
)

// TestStats: GET /stats counts the shipments by status, those dispatched
// and their units, with the outbox's position.
func TestStats(t *testing.T) {
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		s := start(t, d, fulfillment.Config{})
		var st fulfillment.Stats
		s.MustJSON(t, "GET", "/fulfillment/stats", nil, true, http.StatusOK, &st)
		if len(st.ByStatus) != 0 || st.Shipments != 0 || st.Outbox.Backlog != 0 {
			t.Fatalf("stats of no shipments: %+v", st)
		}
		sent, waiting := newOrderID(t), newOrderID(t)
		s.apply(t, confirmed(t, sent, 2, 1), reserved(t, sent), paid(t, sent), confirmed(t, waiting, 4), reserved(t, waiting))
		s.waitStatus(t, sent, "dispatched")
		s.waitStatus(t, waiting, "created")
		want := []fulfillment.StatusTotal{{Status: "created", Shipments: 1, Units: 4}, {Status: "dispatched", Shipments: 1, Units: 3}}
		servicetest.Eventually(t, 10*time.Second, "the outbox published and the totals right", func() bool {
			s.MustJSON(t, "GET", "/fulfillment/stats", nil, true, http.StatusOK, &st)
			return st.Outbox.Backlog == 0 && reflect.DeepEqual(st.ByStatus, want)
		})
		if st.Shipments != 2 || st.Dispatched != 1 || st.UnitsDispatched != 3 || st.Outbox.Recorded < 3 {
			t.Errorf("stats %+v, want 2 shipments, 1 dispatched with 3 units, 3 events recorded", st)
		}
		s.MustProblem(t, "GET", "/fulfillment/stats", nil, false, http.StatusUnauthorized)
		s.MustProblem(t, "GET", "/fulfillment/stats?status=created", nil, true, http.StatusBadRequest)
		if err := httpapi.CheckOpenAPI(fulfillment.Spec(fulfillment.Config{}).OpenAPI, s.Host.Routes("fulfillment")); err != nil {
			t.Fatal(err)
		}
	})
}
