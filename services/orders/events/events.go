// Package events is the Orders service's published contract. It is the only
// package of the Orders service other services may import. The subject of
// every event is the order id.
package events

import (
	"time"

	"github.com/bounded-dev/bounded/platform/contract"
)

// Source is the CloudEvents source of Orders' events.
const Source = "/orders"

// Event names (without version), one per change of an order's state:
// confirmed → paid → reserved → shipped, or cancelled.
const (
	OrderConfirmed = "orders.order_confirmed"
	OrderPaid      = "orders.order_paid"
	OrderReserved  = "orders.order_reserved"
	OrderShipped   = "orders.order_shipped"
	OrderCancelled = "orders.order_cancelled"
)

// Cancellation reasons.
const (
	ReasonPaymentDeclined    = "payment_declined"
	ReasonOutOfStock         = "out_of_stock"
	ReasonProductUnavailable = "product_unavailable"
)

// Address is a shipping address.
type Address struct {
	Name       string `json:"name"`
	Line1      string `json:"line1"`
	Line2      string `json:"line2,omitempty"`
	City       string `json:"city"`
	PostalCode string `json:"postal_code"`
	Country    string `json:"country"`
}

// Item is an order line with the price at the time of ordering.
type Item struct {
	SKU            string `json:"sku"`
	Name           string `json:"name"`
	Quantity       int    `json:"quantity"`
	UnitPriceCents int64  `json:"unit_price_cents"`
}

// OrderConfirmedV1: an order was placed and confirmed.
type OrderConfirmedV1 struct {
	OrderID         string    `json:"order_id"`
	CartID          string    `json:"cart_id"`
	CustomerEmail   string    `json:"customer_email"`
	ShippingAddress Address   `json:"shipping_address"`
	PaymentToken    string    `json:"payment_token"`
	Currency        string    `json:"currency"`
	Items           []Item    `json:"items"`
	TotalCents      int64     `json:"total_cents"`
	ConfirmedAt     time.Time `json:"confirmed_at"`
}

// OrderPaidV1: the order's payment was captured.
type OrderPaidV1 struct {
	OrderID    string    `json:"order_id"`
	PaymentID  string    `json:"payment_id"`
	TotalCents int64     `json:"total_cents"`
	Currency   string    `json:"currency"`
	PaidAt     time.Time `json:"paid_at"`
}

// OrderReservedV1: the order is paid and its stock reserved: ready to ship.
type OrderReservedV1 struct {
	OrderID       string    `json:"order_id"`
	ReservationID string    `json:"reservation_id"`
	ReservedAt    time.Time `json:"reserved_at"`
}

// OrderShippedV1: the order's shipment was dispatched.
type OrderShippedV1 struct {
	OrderID    string    `json:"order_id"`
	ShipmentID string    `json:"shipment_id"`
	ShippedAt  time.Time `json:"shipped_at"`
}

// OrderCancelledV1: the order was cancelled; Reason is one of the Reason
// constants. PreviousStatus is the status it had.
type OrderCancelledV1 struct {
	OrderID        string    `json:"order_id"`
	Reason         string    `json:"reason"`
	Detail         string    `json:"detail,omitempty"`
	PreviousStatus string    `json:"previous_status"`
	TotalCents     int64     `json:"total_cents"`
	Currency       string    `json:"currency"`
	CancelledAt    time.Time `json:"cancelled_at"`
}

// Registry returns Orders' event registry.
func Registry() *contract.Registry {
	r := contract.NewRegistry()
	contract.Register[OrderConfirmedV1](r, OrderConfirmed, 1)
	contract.Register[OrderPaidV1](r, OrderPaid, 1)
	contract.Register[OrderReservedV1](r, OrderReserved, 1)
	contract.Register[OrderShippedV1](r, OrderShipped, 1)
	contract.Register[OrderCancelledV1](r, OrderCancelled, 1)
	return r
}
