package payments_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/bounded-dev/bounded/platform/httpapi"
	"github.com/bounded-dev/bounded/platform/servicetest"
	"github.com/bounded-dev/bounded/platform/sqldb"
	"github.com/bounded-dev/bounded/services/payments"
)

func TestHTTP(t *testing.T) {
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		s := start(t, d, payments.Config{}, nil)
		order := s.confirm(t, payments.TokenApprove, 1999)
		p := s.waitStatus(t, order, "captured")

		// One payment by id, the same as in the list.
		var one payment
		s.MustJSON(t, "GET", "/payments/payments/"+p.ID, nil, false, http.StatusOK, &one)
		if one.ID != p.ID || one.OrderID != order || one.Status != "captured" || one.AmountCents != 1999 ||
			len(one.Attempts) != 1 || one.Refunds == nil || one.CreatedAt.IsZero() || one.UpdatedAt.Before(one.CreatedAt) {
			t.Fatalf("GET /payments/{id} = %+v", one)
		}
		// The raw JSON is snake_case, with null for absent values.
		r := s.Do(t, "GET", "/payments/payments?order_id="+order, nil, false)
		for _, key := range []string{`"order_id"`, `"amount_cents"`, `"charge_id":"ch_`, `"refunds":[]`, `"created_at"`, `"updated_at"`, `"n":1`, `"outcome":"approved"`} {
			if !strings.Contains(string(r.Body), key) {
				t.Fatalf("GET /payments lacks %s: %s", key, r.Body)
			}
		}

		// An unknown order has no payments and no refunds: empty lists.
		if ps := s.payments(t, newOrderID(t)); len(ps) != 0 {
			t.Fatalf("unknown order: %+v", ps)
		}
		r = s.Do(t, "GET", "/payments/refunds?order_id="+newOrderID(t), nil, false)
		if r.Status != http.StatusOK || strings.TrimSpace(string(r.Body)) != `{"refunds":[]}` {
			t.Fatalf("GET /refunds unknown order: %d %s", r.Status, r.Body)
		}

		// Unknown ids: 404 problems.
		for _, id := range []string{newOrderID(t), "nope", order} {
			if detail := s.MustProblem(t, "GET", "/payments/payments/"+id, nil, false, http.StatusNotFound); !strings.Contains(detail, "no payment") {
				t.Fatalf("404 detail %q", detail)
			}
		}
		s.MustProblem(t, "GET", "/payments/nothing", nil, false, http.StatusNotFound)
		s.MustProblem(t, "POST", "/payments/payments", "{}", false, http.StatusMethodNotAllowed)

		// Bad queries: 400 problems that say what is wrong.
		for path, want := range map[string]string{
			"/payments/payments":                                          "order_id is required",
			"/payments/payments?order_id=":                                "order_id is required",
			"/payments/payments?order_id=42":                              "want a UUID",
			"/payments/payments?order_id=" + order + "&limit=1":           `unknown query parameter "limit"`,
			"/payments/payments?order_id=" + order + "&order_id=" + order: "given 2 times",
			"/payments/payments?order_id=%zz":                             "malformed query string",
			"/payments/refunds":                                           "order_id is required",
			"/payments/refunds?order_id=x;y":                              "malformed query string",
		} {
			if detail := s.MustProblem(t, "GET", path, nil, false, http.StatusBadRequest); !strings.Contains(detail, want) {
				t.Errorf("GET %s: detail %q, want it to say %q", path, detail, want)
			}
		}

		// The OpenAPI document is served and matches the routes.
		var doc map[string]any
		s.MustJSON(t, "GET", "/payments/openapi.json", nil, false, http.StatusOK, &doc)
		spec := payments.Spec(payments.Config{})
		if err := httpapi.CheckOpenAPI(spec.OpenAPI, s.Host.Routes("payments")); err != nil {
			t.Fatal(err)
		}
		if doc["openapi"] != "3.1.0" {
			t.Fatalf("served document: openapi %v", doc["openapi"])
		}
	})
}

func TestSpec(t *testing.T) {
	spec := payments.Spec(payments.Config{})
	if err := spec.Validate(); err != nil {
		t.Fatal(err)
	}
	if spec.Name != "payments" || len(spec.Consumes) != 2 || spec.OpenAPI == nil {
		t.Fatalf("spec = %+v", spec)
	}
	for _, bad := range []payments.Config{
		{Workers: -1},
		{MaxAttempts: -2},
		{RetryBackoff: 10e9, MaxRetryBackoff: 1e9},
		{GatewayTimeout: 30e9, Lease: 10e9},
		{PollInterval: 1e8},
	} {
		if err := bad.Validate(); err == nil {
			t.Errorf("Validate passed %+v", bad)
		}
	}
	if err := (payments.Config{}).Validate(); err != nil {
		t.Fatalf("the defaults do not validate: %v", err)
	}
}
