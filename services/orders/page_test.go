package orders_test

import (
	"encoding/json"
	"testing"

	"github.com/bounded-dev/bounded/services/orders"
)

// Answers in the shapes Payments' and Fulfillment's list routes document
// (their response types, with fields the page does not show).
const (
	paymentsBody = `{"payments":[{"id":"pay-1","order_id":"o","status":"refunded","amount_cents":4598,"currency":"EUR",
		"attempts":[{"n":1,"at":"2025-11-22T10:30:00Z","outcome":"unavailable","reason":"timeout"},{"n":2,"at":"2025-11-22T10:30:01Z","outcome":"captured"}],
		"charge_id":"ch_1","refunds":[{"id":"ref-1","payment_id":"pay-1","order_id":"o","status":"issued","amount_cents":4598,
		"currency":"EUR","reason":"out_of_stock","attempts":1,"created_at":"2025-11-22T10:31:00Z","refunded_at":"2025-11-22T10:31:02Z"}],
		"created_at":"2025-11-22T10:30:00Z","updated_at":"2025-11-22T10:31:02Z"}]}`
	shipmentsBody = `{"shipments":[{"id":"ship-1","order_id":"o","status":"dispatched","package":"small-box","unpackable":false,
		"items":[{"sku":"A-1","quantity":1}],"shipping_address":{"name":"A"},"created_at":"2025-11-22T10:31:00Z",
		"dispatched_at":"2025-11-22T11:00:00Z","cancelled_at":null}]}`
)

func TestOrderPageReadsThePeersAnswers(t *testing.T) {
	pay, ship, err := orders.OrderPageParts([]byte(paymentsBody), []byte(shipmentsBody))
	if err != nil {
		t.Fatal(err)
	}
	const wantPay = `[{"id":"pay-1","status":"refunded","amount_cents":4598,"currency":"EUR","attempts":[{"n":1,"at":"2025-11-22T10:30:00Z","outcome":"unavailable","reason":"timeout"},{"n":2,"at":"2025-11-22T10:30:01Z","outcome":"captured"}],"refunds":[{"id":"ref-1","status":"issued","amount_cents":4598,"reason":"out_of_stock","refunded_at":"2025-11-22T10:31:02Z"}]}]`
	const wantShip = `[{"id":"ship-1","status":"dispatched","package":"small-box","dispatched_at":"2025-11-22T11:00:00Z"}]`
	if string(pay) != wantPay {
		t.Errorf("payments part\n%s\nwant\n%s", pay, wantPay)
	}
	if string(ship) != wantShip {
		t.Errorf("shipments part\n%s\nwant\n%s", ship, wantShip)
	}
	// Leniency: a count of attempts, ids named after their thing, no lists.
	pay, ship, err = orders.OrderPageParts([]byte(`{"payments":[{"payment_id":"p","status":"captured","attempts":2}],"extra":1}`),
		[]byte(`{"shipments":[{"shipment_id":"s","status":"created"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := `[{"id":"p","status":"captured","amount_cents":0,"attempts":[{"n":1},{"n":2}],"refunds":[]}]`; string(pay) != want {
		t.Errorf("payments part %s, want %s", pay, want)
	}
	if want := `[{"id":"s","status":"created"}]`; string(ship) != want {
		t.Errorf("shipments part %s, want %s", ship, want)
	}
	pay, ship, err = orders.OrderPageParts([]byte(`{}`), []byte(`{}`))
	if err != nil || string(pay) != "[]" || string(ship) != "[]" {
		t.Errorf("empty answers: %s %s %v, want empty lists", pay, ship, err)
	}
}

// FuzzOrderPageParts: whatever a peer answers, decoding it never panics,
// and what decodes gives JSON lists.
func FuzzOrderPageParts(f *testing.F) {
	f.Add([]byte(paymentsBody), []byte(shipmentsBody))
	f.Add([]byte(`{"payments":[{"attempts":-1}]}`), []byte(`{"shipments":null}`))
	f.Add([]byte(`{"payments":[{"attempts":1e9}]}`), []byte(`[]`))
	f.Fuzz(func(t *testing.T, payments, shipments []byte) {
		pay, ship, err := orders.OrderPageParts(payments, shipments)
		if err != nil {
			return
		}
		var a, b []json.RawMessage
		if json.Unmarshal(pay, &a) != nil || json.Unmarshal(ship, &b) != nil || a == nil || b == nil {
			t.Fatalf("parts %s %s are not lists", pay, ship)
		}
	})
}
