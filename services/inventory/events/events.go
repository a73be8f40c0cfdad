// Package events is the Inventory service's published contract, and the
// fields of other services' events Inventory relies on. It is the only
// package of the Inventory service other services may import.
package events

import (
	"time"

	"github.com/bounded-dev/bounded/platform/contract"
)

// Source is the CloudEvents source of Inventory's events.
const Source = "/inventory"

// Event names (without version). Reservation events have the order id as
// subject; stock and purchase-order events the SKU.
const (
	ReservationConfirmed = "inventory.reservation_confirmed"
	ReservationFailed    = "inventory.reservation_failed"
	ReservationReleased  = "inventory.reservation_released"
	StockChanged         = "inventory.stock_changed"
	PurchaseOrderPlaced  = "inventory.purchase_order_placed"
	PurchaseOrderFlagged = "inventory.purchase_order_flagged"
)

// Line is a SKU and a quantity.
type Line struct {
	SKU      string `json:"sku"`
	Quantity int    `json:"quantity"`
}

// Shortage is a line that could not be reserved.
type Shortage struct {
	SKU       string `json:"sku"`
	Requested int    `json:"requested"`
	Available int    `json:"available"`
}

// ReservationConfirmedV1: every line of the order is reserved.
type ReservationConfirmedV1 struct {
	ReservationID string    `json:"reservation_id"`
	OrderID       string    `json:"order_id"`
	Items         []Line    `json:"items"`
	ConfirmedAt   time.Time `json:"confirmed_at"`
}

// ReservationFailedV1: the order could not be reserved (nothing was).
type ReservationFailedV1 struct {
	OrderID   string     `json:"order_id"`
	Reason    string     `json:"reason"` // "out_of_stock" or "unknown_product"
	Shortages []Shortage `json:"shortages"`
	FailedAt  time.Time  `json:"failed_at"`
}

// ReservationReleasedV1: a reservation was given back (the order was
// cancelled).
type ReservationReleasedV1 struct {
	ReservationID string    `json:"reservation_id"`
	OrderID       string    `json:"order_id"`
	Items         []Line    `json:"items"`
	Reason        string    `json:"reason"`
	ReleasedAt    time.Time `json:"released_at"`
}

// StockChangedV1 is one stock movement and the stock after it.
type StockChangedV1 struct {
	SKU           string    `json:"sku"`
	DeltaOnHand   int       `json:"delta_on_hand"`
	DeltaReserved int       `json:"delta_reserved"`
	OnHand        int       `json:"on_hand"`
	Reserved      int       `json:"reserved"`
	ReorderPoint  int       `json:"reorder_point"`
	Reason        string    `json:"reason"` // reservation, release, shipment, restock, adjustment, purchase_order_received
	Ref           string    `json:"ref,omitempty"`
	ChangedAt     time.Time `json:"changed_at"`
}

// PurchaseOrderPlacedV1: a complete purchase order was sent to the supplier.
type PurchaseOrderPlacedV1 struct {
	PurchaseOrderID string    `json:"purchase_order_id"`
	SKU             string    `json:"sku"`
	Name            string    `json:"name"`
	Description     string    `json:"description"`
	Quantity        int       `json:"quantity"`
	PlacedAt        time.Time `json:"placed_at"`
}

// PurchaseOrderFlaggedV1: a purchase order could not be completed and was
// not sent; Missing names what was missing.
type PurchaseOrderFlaggedV1 struct {
	PurchaseOrderID string    `json:"purchase_order_id"`
	SKU             string    `json:"sku"`
	Missing         []string  `json:"missing"`
	FlaggedAt       time.Time `json:"flagged_at"`
}

// Registry returns Inventory's event registry.
func Registry() *contract.Registry {
	r := contract.NewRegistry()
	contract.Register[ReservationConfirmedV1](r, ReservationConfirmed, 1)
	contract.Register[ReservationFailedV1](r, ReservationFailed, 1)
	contract.Register[ReservationReleasedV1](r, ReservationReleased, 1)
	contract.Register[StockChangedV1](r, StockChanged, 1)
	contract.Register[PurchaseOrderPlacedV1](r, PurchaseOrderPlaced, 1)
	contract.Register[PurchaseOrderFlaggedV1](r, PurchaseOrderFlagged, 1)
	return r
}

// Reliances are the fields of other services' events Inventory reads. The
// producers' tests check them (contract.CheckReliances): a producer change
// that drops one fails the producer's build, not Inventory's purchase orders.
func Reliances() []contract.Reliance {
	return []contract.Reliance{
		contract.Relies("inventory", "catalog.product_updated", "sku", "name", "description", "active", "version"),
		contract.Relies("inventory", "orders.order_confirmed", "order_id", "items[].sku", "items[].quantity"),
		contract.Relies("inventory", "orders.order_cancelled", "order_id", "reason"),
		contract.Relies("inventory", "fulfillment.shipment_dispatched", "order_id", "shipment_id"),
	}
}
