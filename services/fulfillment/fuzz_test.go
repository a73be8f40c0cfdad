package fulfillment_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"regexp"
	"testing"
	"time"

	"github.com/bounded-dev/bounded/platform/contract"
	"github.com/bounded-dev/bounded/platform/httpapi"
	"github.com/bounded-dev/bounded/services/fulfillment"
	inventoryevents "github.com/bounded-dev/bounded/services/inventory/events"
	ordersevents "github.com/bounded-dev/bounded/services/orders/events"
	paymentsevents "github.com/bounded-dev/bounded/services/payments/events"
)

var ruleNameRE = regexp.MustCompile(`^[a-z0-9_-]{1,32}$`)

// FuzzPackagingRuleRequest: decoding and validating PUT
// /packaging-rules/{name} never panics, fails only with client errors, and
// accepts exactly the rules within bounds, the same way every time.
func FuzzPackagingRuleRequest(f *testing.F) {
	for _, seed := range []struct{ name, body string }{
		{"crate", `{"max_items":5}`},
		{"crate", `{"max_items":5,"priority":2}`},
		{"crate", `{"max_items":0}`},
		{"unpackable", `{"max_items":5}`},
		{"Crate", `{"max_items":5}`},
		{"", `{"max_items":5}`},
		{"crate", `{"max_items":1e3}`},
		{"crate", `{"max_items":99999999999999999999}`},
		{"crate", `{"max_items":5,"priority":null}`},
		{"crate", `{"max_items":null}`},
		{"crate", `{"max_items":5}x`},
		{"crate", `{"colour":1}`},
		{"crate", `[`},
		{"crate", ``},
	} {
		f.Add(seed.name, []byte(seed.body))
	}
	f.Fuzz(func(t *testing.T, name string, body []byte) {
		var req fulfillment.RuleRequest
		err := httpapi.DecodeJSON(bytes.NewReader(body), &req)
		var rule fulfillment.PackagingRule
		if err == nil {
			rule, err = fulfillment.ValidateRuleRequest(name, req)
		}
		if err != nil {
			if !errors.Is(err, httpapi.ErrInvalid) && !errors.Is(err, httpapi.ErrTooLarge) {
				t.Fatalf("%q %q: error %v is not a client error", name, body, err)
			}
			if err.Error() == "" {
				t.Fatal("an error without a message")
			}
			return
		}
		if !ruleNameRE.MatchString(rule.Name()) || rule.Name() == fulfillment.Unpackable || rule.Name() != name ||
			rule.MaxItems() < 1 || rule.MaxItems() > 1e9 || rule.Priority() < 0 || rule.Priority() > 1e6 {
			t.Fatalf("%q %q: accepted %+v", name, body, rule)
		}
		// What was accepted is accepted again after a round trip.
		again, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		var req2 fulfillment.RuleRequest
		if err := httpapi.DecodeJSON(bytes.NewReader(again), &req2); err != nil {
			t.Fatalf("re-encoded %s: %v", again, err)
		}
		if rule2, err := fulfillment.ValidateRuleRequest(name, req2); err != nil || rule2 != rule {
			t.Fatalf("re-encoded %s: %+v, %v; first %+v", again, rule2, err, rule)
		}
	})
}

// FuzzConsumedEvents: decoding any data as one of the consumed events, and
// the validation the handlers run on it, never panic; a decoded event is
// either accepted or refused with a message, the same way twice.
func FuzzConsumedEvents(f *testing.F) {
	at := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	order := "01960b1e-5c3a-7d4e-9f10-2a3b4c5d6e7f"
	seed := func(kind uint8, v any) {
		b, err := json.Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(kind, b)
	}
	seed(0, ordersevents.OrderConfirmedV1{OrderID: order, ShippingAddress: address(), Currency: "EUR", ConfirmedAt: at,
		Items: []ordersevents.Item{{SKU: "MUG-1", Name: "Mug", Quantity: 2, UnitPriceCents: 500}}})
	seed(0, ordersevents.OrderConfirmedV1{OrderID: order, Items: []ordersevents.Item{{SKU: "MUG-1", Quantity: -1}}})
	seed(1, ordersevents.OrderCancelledV1{OrderID: order, Reason: ordersevents.ReasonOutOfStock, CancelledAt: at})
	seed(2, inventoryevents.ReservationConfirmedV1{ReservationID: "r", OrderID: order, ConfirmedAt: at})
	seed(3, paymentsevents.PaymentCapturedV1{PaymentID: "p", OrderID: order, AmountCents: 1, Currency: "EUR", CapturedAt: at})
	for _, raw := range []string{``, `null`, `{}`, `[]`, `"x"`, `{"order_id":7}`, `{"items":[null]}`, `{"items":{}}`, `{"confirmed_at":"yesterday"}`} {
		f.Add(uint8(0), []byte(raw))
		f.Add(uint8(3), []byte(raw))
	}
	f.Fuzz(func(t *testing.T, kind uint8, data []byte) {
		e := contract.Event{ID: "01960b1e-0000-7000-8000-000000000000", Source: "/fuzz", Subject: order, Time: at,
			DataContentType: contract.ContentTypeJSON, Data: data}
		check := func() (string, error) {
			switch kind % 4 {
			case 0:
				e.Type = contract.TypeName(ordersevents.OrderConfirmed, 1)
				d, err := contract.DecodeAs[ordersevents.OrderConfirmedV1](ordersevents.Registry(), e)
				if err != nil {
					return "", err
				}
				total, err := fulfillment.OrderConfirmedFacts(d)
				if err == nil && (total < 1 || len(d.Items) == 0) {
					t.Fatalf("accepted %s with total quantity %d", data, total)
				}
				return d.OrderID, err
			case 1:
				e.Type = contract.TypeName(ordersevents.OrderCancelled, 1)
				d, err := contract.DecodeAs[ordersevents.OrderCancelledV1](ordersevents.Registry(), e)
				if err != nil {
					return "", err
				}
				return d.OrderID, fulfillment.CheckOrderID(d.OrderID)
			case 2:
				e.Type = contract.TypeName(inventoryevents.ReservationConfirmed, 1)
				d, err := contract.DecodeAs[inventoryevents.ReservationConfirmedV1](inventoryevents.Registry(), e)
				if err != nil {
					return "", err
				}
				return d.OrderID, fulfillment.CheckOrderID(d.OrderID)
			default:
				e.Type = contract.TypeName(paymentsevents.PaymentCaptured, 1)
				d, err := contract.DecodeAs[paymentsevents.PaymentCapturedV1](paymentsevents.Registry(), e)
				if err != nil {
					return "", err
				}
				return d.OrderID, fulfillment.CheckOrderID(d.OrderID)
			}
		}
		id1, err1 := check()
		id2, err2 := check()
		if id1 != id2 || (err1 == nil) != (err2 == nil) {
			t.Fatalf("%s: decoded differently twice: %q %v / %q %v", data, id1, err1, id2, err2)
		}
		if err1 != nil && err1.Error() == "" {
			t.Fatal("an error without a message")
		}
		if err1 == nil && id1 == "" {
			t.Fatalf("%s: accepted without an order id", data)
		}
	})
}
