package contract_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/bounded-dev/bounded/platform/contract"
)

// Three versions of an order event: v2 renamed total to total_cents, v3 made
// the amount an object with a currency.
type (
	orderV1 struct {
		OrderID string `json:"order_id"`
		Total   int    `json:"total"`
	}
	orderV2 struct {
		OrderID    string `json:"order_id"`
		TotalCents int    `json:"total_cents"`
	}
	money struct {
		Cents    int    `json:"cents"`
		Currency string `json:"currency"`
	}
	orderV3 struct {
		OrderID string `json:"order_id"`
		Amount  money  `json:"amount"`
	}
)

const orderConfirmed = "orders.order_confirmed"

// upcastOrderV1 converts a v1 payload to v2.
func upcastOrderV1(data []byte) ([]byte, error) {
	var v1 orderV1
	if err := json.Unmarshal(data, &v1); err != nil {
		return nil, fmt.Errorf("upcast order v1: %w", err)
	}
	return json.Marshal(orderV2{OrderID: v1.OrderID, TotalCents: v1.Total})
}

// upcastOrderV2 converts a v2 payload to v3.
func upcastOrderV2(data []byte) ([]byte, error) {
	var v2 orderV2
	if err := json.Unmarshal(data, &v2); err != nil {
		return nil, fmt.Errorf("upcast order v2: %w", err)
	}
	return json.Marshal(orderV3{OrderID: v2.OrderID, Amount: money{Cents: v2.TotalCents, Currency: "EUR"}})
}

// newOrderRegistry knows every order version and both upcasters.
func newOrderRegistry() *contract.Registry {
	r := contract.NewRegistry()
	contract.Register[orderV1](r, orderConfirmed, 1)
	contract.Register[orderV3](r, orderConfirmed, 3) // out of order on purpose
	contract.Register[orderV2](r, orderConfirmed, 2)
	r.Upcaster(orderConfirmed, 1, upcastOrderV1)
	r.Upcaster(orderConfirmed, 2, upcastOrderV2)
	return r
}

func TestDecodeUpcasts(t *testing.T) {
	r := newOrderRegistry()
	want := orderV3{OrderID: "o-1", Amount: money{Cents: 1250, Currency: "EUR"}}
	tests := []struct {
		name string
		typ  string
		data any
	}{
		{"v1 through two upcasters", "orders.order_confirmed.v1", orderV1{OrderID: "o-1", Total: 1250}},
		{"v2 through one upcaster", "orders.order_confirmed.v2", orderV2{OrderID: "o-1", TotalCents: 1250}},
		{"v3 as is", "orders.order_confirmed.v3", want},
		{"unknown fields tolerated", "orders.order_confirmed.v3", map[string]any{
			"order_id": "o-1", "amount": map[string]any{"cents": 1250, "currency": "EUR", "vat": 200}, "channel": "web",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := MustNew(t, "/services/orders", tt.typ, "o-1", tt.data)
			v, err := r.Decode(e)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			got, ok := v.(orderV3)
			if !ok {
				t.Fatalf("Decode returned %T, want orderV3", v)
			}
			if got != want {
				t.Errorf("Decode = %+v, want %+v", got, want)
			}
			typed, err := contract.DecodeAs[orderV3](r, e)
			if err != nil {
				t.Fatalf("DecodeAs: %v", err)
			}
			if typed != want {
				t.Errorf("DecodeAs = %+v, want %+v", typed, want)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	full := newOrderRegistry()

	gap := contract.NewRegistry() // v1 and v3 known, no way from v2 to v3
	contract.Register[orderV1](gap, orderConfirmed, 1)
	contract.Register[orderV3](gap, orderConfirmed, 3)
	gap.Upcaster(orderConfirmed, 1, upcastOrderV1)

	errUpcast := errors.New("upcaster refused")
	failing := contract.NewRegistry()
	contract.Register[orderV2](failing, orderConfirmed, 2)
	failing.Upcaster(orderConfirmed, 1, func([]byte) ([]byte, error) { return nil, errUpcast })

	event := func(typ, data string) contract.Event {
		e := MustNew(t, "/services/orders", "orders.order_confirmed.v1", "", json.RawMessage(`{}`))
		e.Type, e.Data = typ, []byte(data)
		return e
	}
	jsonEvent := func(contentType string) contract.Event {
		e := event("orders.order_confirmed.v3", `{"order_id":"o-1"}`)
		e.DataContentType = contentType
		return e
	}

	tests := []struct {
		name    string
		r       *contract.Registry
		e       contract.Event
		target  error
		wantMsg string
	}{
		{"unknown type", full, event("orders.order_cancelled.v1", `{}`), contract.ErrUnknownType, "orders.order_cancelled"},
		{"newer than latest", full, event("orders.order_confirmed.v4", `{}`), contract.ErrUnknownVersion, "latest registered is v3"},
		{"missing upcaster", gap, event("orders.order_confirmed.v2", `{}`), contract.ErrUnknownVersion, "no upcaster from v2 to v3"},
		{"missing upcaster midway", gap, event("orders.order_confirmed.v1", `{"total":1}`), contract.ErrUnknownVersion, "no upcaster from v2 to v3"},
		{"bad JSON", full, event("orders.order_confirmed.v3", `{"order_id":`), contract.ErrMalformed, "orderV3"},
		{"wrong JSON type", full, event("orders.order_confirmed.v3", `{"order_id":7}`), contract.ErrMalformed, "orderV3"},
		{"empty data", full, event("orders.order_confirmed.v3", ``), contract.ErrMalformed, "payload"},
		{"bad JSON in old version", full, event("orders.order_confirmed.v1", `[`), contract.ErrMalformed, "upcast v1 to v2"},
		{"upcaster error", failing, event("orders.order_confirmed.v1", `{}`), errUpcast, "upcaster refused"},
		{"malformed type", full, event("orders.OrderConfirmed.v1", `{}`), contract.ErrMalformed, "OrderConfirmed"},
		{"non-JSON content type", full, jsonEvent("text/plain"), contract.ErrMalformed, "text/plain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := tt.r.Decode(tt.e)
			if err == nil {
				t.Fatalf("Decode = %+v, want error", v)
			}
			if !errors.Is(err, tt.target) {
				t.Errorf("error %v does not wrap %v", err, tt.target)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not mention %q", err, tt.wantMsg)
			}
		})
	}

	t.Run("upcaster error is also malformed", func(t *testing.T) {
		_, err := failing.Decode(event("orders.order_confirmed.v1", `{}`))
		if !errors.Is(err, contract.ErrMalformed) {
			t.Errorf("error %v does not wrap ErrMalformed", err)
		}
	})
}

func TestDecodeContentTypes(t *testing.T) {
	r := newOrderRegistry()
	for _, ct := range []string{"", "application/json", "application/json; charset=utf-8", "application/cloudevents+json", "Application/JSON"} {
		t.Run(ct, func(t *testing.T) {
			e := MustNew(t, "/services/orders", "orders.order_confirmed.v3", "", orderV3{OrderID: "o-1"})
			e.DataContentType = ct
			if _, err := r.Decode(e); err != nil {
				t.Errorf("Decode with datacontenttype %q: %v", ct, err)
			}
		})
	}
}

func TestDecodeAsWrongType(t *testing.T) {
	r := newOrderRegistry()
	e := MustNew(t, "/services/orders", "orders.order_confirmed.v3", "", orderV3{OrderID: "o-1"})
	if _, err := contract.DecodeAs[orderV3](r, e); err != nil {
		t.Fatalf("DecodeAs[orderV3]: %v", err)
	}
	_, err := contract.DecodeAs[*orderV3](r, e)
	if err == nil {
		t.Fatal("DecodeAs[*orderV3] succeeded, want error: Decode returns values, not pointers")
	}
	if !strings.Contains(err.Error(), "orderV3") {
		t.Errorf("error %q does not name the types", err)
	}
	if _, err := contract.DecodeAs[orderV1](r, e); err == nil {
		t.Error("DecodeAs[orderV1] of a v3 registry succeeded, want error")
	}
}

func TestTypesAndLatest(t *testing.T) {
	r := newOrderRegistry()
	contract.Register[struct{}](r, "catalog.product_updated", 10)
	contract.Register[struct{}](r, "catalog.product_updated", 2)
	r.Upcaster("catalog.product_updated", 1, upcastOrderV1) // upcaster only: not a registered type

	want := []string{
		"catalog.product_updated.v2",
		"catalog.product_updated.v10",
		"orders.order_confirmed.v1",
		"orders.order_confirmed.v2",
		"orders.order_confirmed.v3",
	}
	if got := r.Types(); !slices.Equal(got, want) {
		t.Errorf("Types() = %q, want %q", got, want)
	}
	if got := contract.NewRegistry().Types(); len(got) != 0 {
		t.Errorf("Types() of an empty registry = %q", got)
	}

	tests := []struct {
		name    string
		version int
		ok      bool
	}{
		{"orders.order_confirmed", 3, true},
		{"catalog.product_updated", 10, true},
		{"payments.payment_declined", 0, false},
	}
	for _, tt := range tests {
		if v, ok := r.Latest(tt.name); v != tt.version || ok != tt.ok {
			t.Errorf("Latest(%q) = %d, %v, want %d, %v", tt.name, v, ok, tt.version, tt.ok)
		}
	}

	upcasterOnly := contract.NewRegistry()
	upcasterOnly.Upcaster("a.b", 1, upcastOrderV1)
	if v, ok := upcasterOnly.Latest("a.b"); ok {
		t.Errorf("Latest of an upcaster-only name = %d, true, want false", v)
	}
}

func TestRegistrationPanics(t *testing.T) {
	noop := func(b []byte) ([]byte, error) { return b, nil }
	tests := []struct {
		name    string
		f       func(r *contract.Registry)
		wantMsg string
	}{
		{"duplicate type", func(r *contract.Registry) { contract.Register[orderV1](r, orderConfirmed, 1) }, "already registered"},
		{"duplicate type with another Go type", func(r *contract.Registry) { contract.Register[orderV2](r, orderConfirmed, 3) }, "already registered"},
		{"invalid name", func(r *contract.Registry) { contract.Register[orderV1](r, "OrderConfirmed", 1) }, "OrderConfirmed"},
		{"dash in name", func(r *contract.Registry) { contract.Register[orderV1](r, "orders.order-paid", 1) }, "order-paid"},
		{"version 0", func(r *contract.Registry) { contract.Register[orderV1](r, "orders.order_paid", 0) }, "version 0"},
		{"duplicate upcaster", func(r *contract.Registry) { r.Upcaster(orderConfirmed, 1, noop) }, "already registered"},
		{"nil upcaster", func(r *contract.Registry) { r.Upcaster("orders.order_paid", 1, nil) }, "nil"},
		{"upcaster from 0", func(r *contract.Registry) { r.Upcaster("orders.order_paid", 0, noop) }, "version 0"},
		{"upcaster invalid name", func(r *contract.Registry) { r.Upcaster("orders", 1, noop) }, "orders"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newOrderRegistry()
			defer func() {
				p := recover()
				if p == nil {
					t.Fatal("no panic")
				}
				if msg := fmt.Sprint(p); !strings.Contains(msg, tt.wantMsg) {
					t.Errorf("panic %q does not mention %q", msg, tt.wantMsg)
				}
			}()
			tt.f(r)
		})
	}
}

// TestDecodeConcurrent is meaningful under -race: decoding runs while other
// names are registered.
func TestDecodeConcurrent(t *testing.T) {
	r := newOrderRegistry()
	e := MustNew(t, "/services/orders", "orders.order_confirmed.v1", "o-1", orderV1{OrderID: "o-1", Total: 5})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				if _, err := contract.DecodeAs[orderV3](r, e); err != nil {
					t.Errorf("Decode: %v", err)
					return
				}
				if g == 0 && i%20 == 0 {
					contract.Register[orderV1](r, fmt.Sprintf("orders.extra_%d", i), 1)
					_ = r.Types()
				}
			}
		})
	}
	wg.Wait()
}
