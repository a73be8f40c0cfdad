package fulfillment_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/bounded-dev/bounded/platform/httpapi"
	"github.com/bounded-dev/bounded/platform/servicetest"
	"github.com/bounded-dev/bounded/platform/sqldb"
	"github.com/bounded-dev/bounded/services/fulfillment"
)

type rule struct {
	Name     string `json:"name"`
	MaxItems int64  `json:"max_items"`
	Priority int    `json:"priority"`
}

func (s *shop) rules(t *testing.T) []rule {
	t.Helper()
	var out struct {
		PackagingRules []rule `json:"packaging_rules"`
	}
	s.MustJSON(t, "GET", "/fulfillment/packaging-rules", nil, false, http.StatusOK, &out)
	return out.PackagingRules
}

// raw sends a request with a body and content type of the test's choosing.
func (s *shop) raw(t *testing.T, method, path, contentType, body, token string) int {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode >= 400 && ct != httpapi.ProblemContentType {
		t.Fatalf("%s %s: status %d with content type %q", method, path, resp.StatusCode, ct)
	}
	return resp.StatusCode
}

func TestAPI(t *testing.T) {
	t.Parallel()
	servicetest.Each(t, func(t *testing.T, d sqldb.Dialect) {
		spec := fulfillment.Spec(fulfillment.Config{})
		s := &shop{Harness: servicetest.Start(t, d, spec)}

		t.Run("openapi", func(t *testing.T) {
			var doc map[string]any
			s.MustJSON(t, "GET", "/fulfillment/openapi.json", nil, false, http.StatusOK, &doc)
			if err := httpapi.CheckOpenAPI(spec.OpenAPI, s.Host.Routes("fulfillment")); err != nil {
				t.Fatal(err)
			}
		})

		t.Run("seeded rules", func(t *testing.T) {
			want := []rule{{"envelope", 1, 0}, {"small_box", 3, 0}, {"medium_box", 10, 0}, {"large_box", 50, 0}, {"pallet", 10000, 0}}
			if got := s.rules(t); !slices.Equal(got, want) {
				t.Fatalf("rules = %v, want %v", got, want)
			}
		})

		t.Run("shipment queries", func(t *testing.T) {
			order := newOrderID(t)
			s.apply(t, confirmed(t, order, 1), reserved(t, order))
			sh := s.waitStatus(t, order, "created")
			var one Shipment
			s.MustJSON(t, "GET", "/fulfillment/shipments/"+sh.ID, nil, false, http.StatusOK, &one)
			if one.ID != sh.ID || one.OrderID != order || one.Status != "created" || one.Package != "envelope" || one.DispatchedAt != nil {
				t.Fatalf("GET by id = %+v", one)
			}
			other := newOrderID(t)
			s.apply(t, confirmed(t, other, 1), reserved(t, other))
			s.waitStatus(t, other, "created")
			var list struct {
				Shipments []Shipment `json:"shipments"`
			}
			s.MustJSON(t, "GET", "/fulfillment/shipments?status=created&limit=1", nil, false, http.StatusOK, &list)
			if len(list.Shipments) != 1 || list.Shipments[0].OrderID != order {
				t.Fatalf("status=created&limit=1: %+v, want the oldest (order %s)", list.Shipments, order)
			}
			s.MustJSON(t, "GET", "/fulfillment/shipments?status=created&order_id="+other, nil, false, http.StatusOK, &list)
			if len(list.Shipments) != 1 || list.Shipments[0].OrderID != other {
				t.Fatalf("status and order_id: %+v", list.Shipments)
			}
			s.MustJSON(t, "GET", "/fulfillment/shipments?status=dispatched", nil, false, http.StatusOK, &list)
			if len(list.Shipments) != 0 {
				t.Fatalf("status=dispatched: %+v", list.Shipments)
			}
			if got := s.shipments(t, newOrderID(t)); got == nil || len(got) != 0 {
				t.Fatalf("an unknown order's shipments = %#v, want []", got)
			}
		})

		t.Run("bad queries", func(t *testing.T) {
			for _, q := range []string{
				"", "?limit=5", "?order_id=", "?order_id=42", "?order_id=" + strings.Repeat("a", 80),
				"?status=shipped", "?status=CREATED", "?status=created&limit=0", "?status=created&limit=501",
				"?status=created&limit=x", "?status=created&unpackable=maybe",
			} {
				detail := s.MustProblem(t, "GET", "/fulfillment/shipments"+q, nil, false, http.StatusBadRequest)
				if q == "" && !strings.Contains(detail, "order_id") {
					t.Errorf("detail %q does not say what to give", detail)
				}
			}
		})

		t.Run("unknown", func(t *testing.T) {
			s.MustProblem(t, "GET", "/fulfillment/shipments/"+newOrderID(t), nil, false, http.StatusNotFound)
			s.MustProblem(t, "GET", "/fulfillment/shipments/not-an-id", nil, false, http.StatusNotFound)
			s.MustProblem(t, "GET", "/fulfillment/nothing", nil, false, http.StatusNotFound)
			s.MustProblem(t, "DELETE", "/fulfillment/packaging-rules/no_such_rule", nil, true, http.StatusNotFound)
			s.MustProblem(t, "DELETE", "/fulfillment/packaging-rules/NOT%20A%20NAME", nil, true, http.StatusNotFound)
			s.MustProblem(t, "POST", "/fulfillment/shipments", map[string]any{}, false, http.StatusMethodNotAllowed)
		})

		t.Run("admin only", func(t *testing.T) {
			s.MustProblem(t, "PUT", "/fulfillment/packaging-rules/crate", map[string]any{"max_items": 5}, false, http.StatusUnauthorized)
			s.MustProblem(t, "DELETE", "/fulfillment/packaging-rules/envelope", nil, false, http.StatusUnauthorized)
			if st := s.raw(t, "PUT", "/fulfillment/packaging-rules/crate", "application/json", `{"max_items":5}`, "wrong-token"); st != http.StatusUnauthorized {
				t.Fatalf("wrong token: status %d", st)
			}
			if st := s.raw(t, "DELETE", "/fulfillment/packaging-rules/envelope", "application/json", "", "wrong-token"); st != http.StatusUnauthorized {
				t.Fatalf("wrong token: status %d", st)
			}
			if got := s.rules(t); len(got) != 5 {
				t.Fatalf("rules changed without the admin token: %v", got)
			}
		})

		t.Run("bad rules", func(t *testing.T) {
			for _, c := range []struct {
				name, body string
				want       string // in the detail
			}{
				{"crate", `{}`, "max_items"},
				{"crate", `{"priority":1}`, "max_items"},
				{"crate", `{"max_items":0}`, "max_items"},
				{"crate", `{"max_items":-3}`, "max_items"},
				{"crate", `{"max_items":1000000001}`, "max_items"},
				{"crate", `{"max_items":1.5}`, "max_items"},
				{"crate", `{"max_items":"5"}`, "max_items"},
				{"crate", `{"max_items":5,"priority":-1}`, "priority"},
				{"crate", `{"max_items":5,"priority":1000001}`, "priority"},
				{"crate", `{"max_items":5,"colour":"red"}`, "colour"},
				{"crate", `{"max_items":5}{}`, "after"},
				{"crate", `{"max_items":`, "JSON"},
				{"crate", `[]`, "object"},
				{"Crate", `{"max_items":5}`, "name"},
				{"unpackable", `{"max_items":5}`, "reserved"},
				{strings.Repeat("a", 33), `{"max_items":5}`, "name"},
				{"a.b", `{"max_items":5}`, "name"},
			} {
				detail := s.MustProblem(t, "PUT", "/fulfillment/packaging-rules/"+c.name, c.body, true, http.StatusBadRequest)
				if !strings.Contains(detail, c.want) {
					t.Errorf("PUT %s %s: detail %q does not mention %q", c.name, c.body, detail, c.want)
				}
			}
			if st := s.raw(t, "PUT", "/fulfillment/packaging-rules/crate", "text/plain", `{"max_items":5}`, servicetest.AdminToken); st != http.StatusUnsupportedMediaType {
				t.Fatalf("text/plain: status %d", st)
			}
			if got := s.rules(t); len(got) != 5 {
				t.Fatalf("a bad rule was stored: %v", got)
			}
		})

		t.Run("put and delete rules", func(t *testing.T) {
			var r rule
			s.MustJSON(t, "PUT", "/fulfillment/packaging-rules/crate", map[string]any{"max_items": 200, "priority": 3}, true, http.StatusCreated, &r)
			if r != (rule{"crate", 200, 3}) {
				t.Fatalf("created %+v", r)
			}
			s.MustJSON(t, "PUT", "/fulfillment/packaging-rules/crate", map[string]any{"max_items": 100}, true, http.StatusOK, &r)
			if r != (rule{"crate", 100, 0}) {
				t.Fatalf("replaced %+v", r)
			}
			if got := s.rules(t); len(got) != 6 || got[4] != (rule{"crate", 100, 0}) {
				t.Fatalf("rules = %v: want crate fifth, after large_box", got)
			}
			names := []string{"crate", "envelope", "small_box", "medium_box", "large_box"}
			for _, n := range names {
				if r := s.Do(t, "DELETE", "/fulfillment/packaging-rules/"+n, nil, true); r.Status != http.StatusNoContent {
					t.Fatalf("DELETE %s: %d %s", n, r.Status, r.Body)
				}
			}
			s.MustProblem(t, "DELETE", "/fulfillment/packaging-rules/envelope", nil, true, http.StatusNotFound)
			detail := s.MustProblem(t, "DELETE", "/fulfillment/packaging-rules/pallet", nil, true, http.StatusConflict)
			if !strings.Contains(detail, "last") {
				t.Fatalf("409 detail %q", detail)
			}
			if got := s.rules(t); len(got) != 1 || got[0].Name != "pallet" {
				t.Fatalf("rules = %v, want pallet alone", got)
			}
		})
	})
}
