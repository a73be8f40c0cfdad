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
