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

// Statuses an order can have, as OrderCancelledV1.PreviousStatus names
// them. StatusNew is the previous status of an order created cancelled (it
// was never confirmed).
const (
	StatusNew       = "new"
	StatusConfirmed = "confirmed"
	StatusPaid      = "paid"
	StatusReserved  = "reserved"
	StatusShipped   = "shipped"
	StatusCancelled = "cancelled"
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

// NewOrderConfirmed returns the order_confirmed event (v1) about p.OrderID.
// The service and Examples build every event through these constructors.
func NewOrderConfirmed(p OrderConfirmedV1) (contract.Event, error) {
	return newEvent(OrderConfirmed, p.OrderID, p)
}

// NewOrderPaid returns the order_paid event (v1) about p.OrderID.
func NewOrderPaid(p OrderPaidV1) (contract.Event, error) { return newEvent(OrderPaid, p.OrderID, p) }

// NewOrderReserved returns the order_reserved event (v1) about p.OrderID.
func NewOrderReserved(p OrderReservedV1) (contract.Event, error) {
	return newEvent(OrderReserved, p.OrderID, p)
}

// NewOrderShipped returns the order_shipped event (v1) about p.OrderID.
func NewOrderShipped(p OrderShippedV1) (contract.Event, error) {
	return newEvent(OrderShipped, p.OrderID, p)
}

// NewOrderCancelled returns the order_cancelled event (v1) about p.OrderID.
func NewOrderCancelled(p OrderCancelledV1) (contract.Event, error) {
	return newEvent(OrderCancelled, p.OrderID, p)
}

// newEvent builds version 1 of event name: every event Orders publishes is
// at version 1 today.
func newEvent(name, orderID string, payload any) (contract.Event, error) {
	return contract.New(Source, contract.TypeName(name, 1), orderID, payload)
}

// Examples returns one realistic example of every event type Orders
// publishes, in every version it still publishes, built with the
// constructors the service uses. Consumers' reliances are checked against
// them (contract.CheckReliances).
func Examples() []contract.Event {
	const (
		orderID = "0195a8f2-7c1e-7b3a-9d4e-2f6b8c0a1e37"
		cartID  = "0195a8f1-03aa-7d52-8e61-5c9b2d7f4a10"
	)
	at := time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)
	items := []Item{
		{SKU: "KETTLE-17", Name: "Kettle 1.7 l", Quantity: 1, UnitPriceCents: 3499},
		{SKU: "MUG-BLUE", Name: "Blue mug", Quantity: 2, UnitPriceCents: 899},
	}
	const total = 3499 + 2*899
	return []contract.Event{
		must(NewOrderConfirmed(OrderConfirmedV1{OrderID: orderID, CartID: cartID, CustomerEmail: "ada@example.com",
			ShippingAddress: Address{Name: "Ada Lovelace", Line1: "12 St James's Square", Line2: "Flat 2",
				City: "London", PostalCode: "SW1Y 4JH", Country: "GB"},
			PaymentToken: "tok_visa_4242", Currency: "EUR", Items: items, TotalCents: total, ConfirmedAt: at})),
		must(NewOrderPaid(OrderPaidV1{OrderID: orderID, PaymentID: "0195a8f3-1b2c-7d4e-8f60-718293a4b5c6",
			TotalCents: total, Currency: "EUR", PaidAt: at.Add(2 * time.Second)})),
		must(NewOrderReserved(OrderReservedV1{OrderID: orderID, ReservationID: "0195a8f3-2c3d-7e4f-8061-8293a4b5c6d7",
			ReservedAt: at.Add(3 * time.Second)})),
		must(NewOrderShipped(OrderShippedV1{OrderID: orderID, ShipmentID: "0195a8f4-3d4e-7f50-8172-93a4b5c6d7e8",
			ShippedAt: at.Add(time.Hour)})),
		must(NewOrderCancelled(OrderCancelledV1{OrderID: orderID, Reason: ReasonOutOfStock,
			Detail: "out of stock: MUG-BLUE (requested 2, available 1)", PreviousStatus: StatusPaid,
			TotalCents: total, Currency: "EUR", CancelledAt: at.Add(4 * time.Second)})),
	}
}

func must(e contract.Event, err error) contract.Event {
	if err != nil {
		panic("orders events: example: " + err.Error())
	}
	return e
}

// Reliances are the fields of other services' events Orders reads. The
// producers' contract tests check them (contract.CheckReliances), so that a
// producer cannot drop one without its own build failing.
func Reliances() []contract.Reliance {
	return []contract.Reliance{
		contract.Relies("orders", "catalog.product_updated", "sku", "name", "price_cents", "currency", "active", "version"),
		contract.Relies("orders", "cart.checked_out", "cart_id", "order_id", "customer_email",
			"shipping_address.name", "shipping_address.line1", "shipping_address.city",
			"shipping_address.postal_code", "shipping_address.country", "payment_token", "currency",
			"items[].sku", "items[].name", "items[].quantity", "items[].unit_price_cents", "items[].product_version"),
		contract.Relies("orders", "payments.payment_captured", "order_id", "payment_id"),
		contract.Relies("orders", "payments.payment_declined", "order_id", "payment_id", "reason"),
		contract.Relies("orders", "inventory.reservation_confirmed", "order_id", "reservation_id"),
		contract.Relies("orders", "inventory.reservation_failed", "order_id", "reason",
			"shortages[].sku", "shortages[].requested", "shortages[].available"),
		contract.Relies("orders", "fulfillment.shipment_dispatched", "order_id", "shipment_id"),
	}
}
