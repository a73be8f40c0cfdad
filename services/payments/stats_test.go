package payments_test

import (
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/bounded-dev/bounded/platform/httpapi"
	"github.com/bounded-dev/bounded/platform/servicetest"
	"github.com/bounded-dev/bounded/platform/sqldb"
	"github.com/bounded-dev/bounded/services/payments"
)

// TestStats: GET /stats counts payments captured (refunded ones too),
// declined and voided, and refunds issued, with the outbox's position.
func TestStats(t *testing.T) {
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		// The first lookup of an unknown outcome comes after an hour: the
		// gateway_unavailable payment stays unknown through the test.
		s := start(t, d, payments.Config{VerifyAfter: time.Hour}, nil)
		var st payments.Stats
		s.MustJSON(t, "GET", "/payments/stats", nil, true, http.StatusOK, &st)
		if len(st.ByCurrency) != 0 || st.Outbox.Backlog != 0 {
			t.Fatalf("stats of no payments: %+v", st)
		}
		kept := s.confirm(t, payments.TokenApprove, 1500)
		refunded := s.confirm(t, payments.TokenApprove, 700)
		declined := s.confirm(t, payments.TokenDecline, 900)
		unknown := s.confirm(t, payments.TokenUnavailable, 300)
		s.waitStatus(t, kept, "captured")
		s.waitStatus(t, refunded, "captured")
		s.waitStatus(t, declined, "declined")
		s.waitStatus(t, unknown, "declined")
		s.cancel(t, refunded, "out_of_stock")
		s.waitStatus(t, refunded, "refunded")
		want := []payments.CurrencyTotal{{Currency: "EUR", Captured: 2, CapturedCents: 2200, Declined: 2, DeclinedCents: 1200,
			RefundsIssued: 1, RefundedCents: 700, OutcomeUnknown: 1}}
		servicetest.Eventually(t, 10*time.Second, "the outbox published and the totals right", func() bool {
			s.MustJSON(t, "GET", "/payments/stats", nil, true, http.StatusOK, &st)
			return st.Outbox.Backlog == 0 && reflect.DeepEqual(st.ByCurrency, want)
		})
		if st.Outbox.Recorded < 4 {
			t.Errorf("outbox recorded %d, want at least 4 (2 captured, 1 declined, 1 refund)", st.Outbox.Recorded)
		}
		s.MustProblem(t, "GET", "/payments/stats", nil, false, http.StatusUnauthorized)
		s.MustProblem(t, "GET", "/payments/stats?currency=EUR", nil, true, http.StatusBadRequest)
		if err := httpapi.CheckOpenAPI(payments.Spec(payments.Config{Gateway: s.sim}).OpenAPI, s.Host.Routes("payments")); err != nil {
			t.Fatal(err)
		}
	})
}
