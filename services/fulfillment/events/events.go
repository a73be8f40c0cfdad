// Package events is the Fulfillment service's published contract. It is the
// only package of the Fulfillment service other services may import. The
// subject of every event is the order id.
package events

import (
	"time"

	"github.com/bounded-dev/bounded/platform/contract"
)

// Source is the CloudEvents source of Fulfillment's events.
const Source = "/fulfillment"

// Event names (without version).
const (
	ShipmentCreated    = "fulfillment.shipment_created"
	ShipmentDispatched = "fulfillment.shipment_dispatched"
)

// Line is a SKU and a quantity.
type Line struct {
	SKU      string `json:"sku"`
	Quantity int    `json:"quantity"`
}

// ShipmentCreatedV1: the order is confirmed and reserved; its shipment is
// packed (Package names the packaging rule that applied) and waits for the
// payment to dispatch.
type ShipmentCreatedV1 struct {
	ShipmentID string    `json:"shipment_id"`
	OrderID    string    `json:"order_id"`
	Package    string    `json:"package"`
	Items      []Line    `json:"items"`
	CreatedAt  time.Time `json:"created_at"`
}

// ShipmentDispatchedV1: the shipment left the warehouse.
type ShipmentDispatchedV1 struct {
	ShipmentID   string    `json:"shipment_id"`
	OrderID      string    `json:"order_id"`
	Package      string    `json:"package"`
	Items        []Line    `json:"items"`
	DispatchedAt time.Time `json:"dispatched_at"`
}

// Registry returns Fulfillment's event registry.
func Registry() *contract.Registry {
	r := contract.NewRegistry()
	contract.Register[ShipmentCreatedV1](r, ShipmentCreated, 1)
	contract.Register[ShipmentDispatchedV1](r, ShipmentDispatched, 1)
	return r
}

// NewShipmentCreated builds a shipment_created event about d.OrderID (its
// subject). The service builds every event it publishes here, and so do the
// Examples, so that the contract test checks what is really sent.
func NewShipmentCreated(d ShipmentCreatedV1) (contract.Event, error) {
	return contract.New(Source, contract.TypeName(ShipmentCreated, 1), d.OrderID, d)
}

// NewShipmentDispatched builds a shipment_dispatched event about d.OrderID
// (its subject).
func NewShipmentDispatched(d ShipmentDispatchedV1) (contract.Event, error) {
	return contract.New(Source, contract.TypeName(ShipmentDispatched, 1), d.OrderID, d)
}

// Examples returns one realistic example of every event type Fulfillment
// publishes, in every version it still publishes, built by the
// constructors the service uses. Consumers' reliances are checked against
// them (see events_test.go).
func Examples() []contract.Event {
	at := time.Date(2026, 3, 14, 9, 26, 53, 589_000_000, time.UTC)
	items := []Line{{SKU: "MUG-CERAMIC-01", Quantity: 2}, {SKU: "TEA-EARLGREY", Quantity: 1}}
	const (
		order    = "01960b1e-5c3a-7d4e-9f10-2a3b4c5d6e7f"
		shipment = "01960b1e-6d4b-7e5f-8a21-3b4c5d6e7f80"
	)
	created, err := NewShipmentCreated(ShipmentCreatedV1{ShipmentID: shipment, OrderID: order, Package: "small_box", Items: items, CreatedAt: at})
	if err != nil {
		panic("fulfillment events: example shipment_created: " + err.Error())
	}
	dispatched, err := NewShipmentDispatched(ShipmentDispatchedV1{ShipmentID: shipment, OrderID: order, Package: "small_box", Items: items, DispatchedAt: at.Add(90 * time.Second)})
	if err != nil {
		panic("fulfillment events: example shipment_dispatched: " + err.Error())
	}
	return []contract.Event{created, dispatched}
}

// Reliances are the fields of other services' events Fulfillment reads. The
// producers' tests check them (contract.CheckReliances). The optional
// shipping_address.line2 is read when present and cannot be relied on (the
// producer omits it when empty). Fulfillment reads nothing but the order id
// of a reservation or a payment: that one arrived is the whole news.
func Reliances() []contract.Reliance {
	return []contract.Reliance{
		contract.Relies("fulfillment", "orders.order_confirmed", "order_id", "items[].sku", "items[].quantity",
			"shipping_address.name", "shipping_address.line1", "shipping_address.city",
			"shipping_address.postal_code", "shipping_address.country"),
		contract.Relies("fulfillment", "orders.order_cancelled", "order_id", "reason"),
		contract.Relies("fulfillment", "inventory.reservation_confirmed", "order_id"),
		contract.Relies("fulfillment", "payments.payment_captured", "order_id"),
	}
}
