// Package events is the Cart service's published contract. It is the only
// package of the Cart service other services may import.
package events

import (
	"fmt"
	"time"

	"github.com/bounded-dev/bounded/platform/contract"
)

// Source is the CloudEvents source of Cart's events.
const Source = "/cart"

// CheckedOut: a customer checked a cart out; the subject is the cart id. It
// is the order request: Orders turns it into an order with the id given.
const CheckedOut = "cart.checked_out"

// Address is a shipping address.
type Address struct {
	Name       string `json:"name"`
	Line1      string `json:"line1"`
	Line2      string `json:"line2,omitempty"`
	City       string `json:"city"`
	PostalCode string `json:"postal_code"`
	Country    string `json:"country"` // ISO 3166-1 alpha-2
}

// Item is one cart line as the customer saw it at checkout.
type Item struct {
	SKU            string `json:"sku"`
	Name           string `json:"name"`
	Quantity       int    `json:"quantity"`
	UnitPriceCents int64  `json:"unit_price_cents"`
	// ProductVersion is the version of the product event the price came
	// from (see catalog events), so Orders can tell whose copy is newer.
	ProductVersion int64 `json:"product_version"`
}

// CheckedOutV1 is a cart turned into an order request.
type CheckedOutV1 struct {
	CartID          string    `json:"cart_id"`
	OrderID         string    `json:"order_id"`
	CustomerEmail   string    `json:"customer_email"`
	ShippingAddress Address   `json:"shipping_address"`
	PaymentToken    string    `json:"payment_token"`
	Currency        string    `json:"currency"`
	Items           []Item    `json:"items"`
	CheckedOutAt    time.Time `json:"checked_out_at"`
}

// Registry returns Cart's event registry.
func Registry() *contract.Registry {
	r := contract.NewRegistry()
	contract.Register[CheckedOutV1](r, CheckedOut, 1)
	return r
}

// NewCheckedOut builds the cart.checked_out event (v1) for v, about the cart
// v.CartID. The Cart service builds its events with it, and so do Examples,
// so that the contract test checks what the service really publishes.
func NewCheckedOut(v CheckedOutV1) (contract.Event, error) {
	e, err := contract.New(Source, contract.TypeName(CheckedOut, 1), v.CartID, v)
	if err != nil {
		return contract.Event{}, fmt.Errorf("cart events: %w", err)
	}
	return e, nil
}

// Examples returns one realistic example of every event type Cart
// publishes, in every version it still publishes. Producers' contract tests
// hold them against their consumers' Reliances.
func Examples() []contract.Event {
	checkedOut, err := NewCheckedOut(CheckedOutV1{
		CartID:        "01972f3a-5b1c-7d2e-9f10-2a3b4c5d6e7f",
		OrderID:       "01972f3b-0c4d-7e5f-8a6b-7c8d9e0f1a2b",
		CustomerEmail: "ada@example.com",
		ShippingAddress: Address{
			Name:       "Ada Lovelace",
			Line1:      "12 St James's Square",
			Line2:      "Flat 3",
			City:       "London",
			PostalCode: "SW1Y 4JH",
			Country:    "GB",
		},
		PaymentToken: "tok_visa_4242",
		Currency:     "EUR",
		Items: []Item{
			{SKU: "KETTLE-17", Name: "Kettle 1.7 l", Quantity: 1, UnitPriceCents: 3999, ProductVersion: 4},
			{SKU: "MUG-350-BLUE", Name: "Mug 350 ml, blue", Quantity: 2, UnitPriceCents: 850, ProductVersion: 2},
		},
		CheckedOutAt: time.Date(2025, 6, 1, 9, 30, 0, 0, time.UTC),
	})
	if err != nil {
		panic(err) // the example is a constant: a failure is a programming error
	}
	return []contract.Event{checkedOut}
}

// Reliances are the fields of other services' events Cart reads. Catalog's
// contract test checks them (contract.CheckReliances), so that a change to
// catalog.product_updated that drops one fails Catalog's build instead of
// Cart's product copy.
func Reliances() []contract.Reliance {
	return []contract.Reliance{
		contract.Relies("cart", "catalog.product_updated", "sku", "name", "price_cents", "currency", "active", "version"),
	}
}
