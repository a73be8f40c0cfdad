// Package events is the Cart service's published contract. It is the only
// package of the Cart service other services may import.
package events

import (
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
