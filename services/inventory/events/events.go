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

// Reasons of a failed reservation.
const (
	FailureOutOfStock     = "out_of_stock"
	FailureUnknownProduct = "unknown_product"
)

// Reasons of a stock movement (StockChangedV1.Reason).
const (
	StockReservation           = "reservation"
	StockRelease               = "release"
	StockShipment              = "shipment"
	StockRestock               = "restock"
	StockAdjustment            = "adjustment"
	StockPurchaseOrderReceived = "purchase_order_received"
)

// Fields a purchase order can miss (PurchaseOrderFlaggedV1.Missing).
const (
	MissingName        = "name"
	MissingDescription = "description"
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

// The constructors below are how Inventory builds its events (the service
// and Examples alike), so that the subject convention lives in one place:
// reservation events are about the order, stock and purchase-order events
// about the SKU.

// NewReservationConfirmed builds a reservation_confirmed event.
func NewReservationConfirmed(v ReservationConfirmedV1) (contract.Event, error) {
	return contract.New(Source, contract.TypeName(ReservationConfirmed, 1), v.OrderID, v)
}

// NewReservationFailed builds a reservation_failed event.
func NewReservationFailed(v ReservationFailedV1) (contract.Event, error) {
	return contract.New(Source, contract.TypeName(ReservationFailed, 1), v.OrderID, v)
}

// NewReservationReleased builds a reservation_released event.
func NewReservationReleased(v ReservationReleasedV1) (contract.Event, error) {
	return contract.New(Source, contract.TypeName(ReservationReleased, 1), v.OrderID, v)
}

// NewStockChanged builds a stock_changed event.
func NewStockChanged(v StockChangedV1) (contract.Event, error) {
	return contract.New(Source, contract.TypeName(StockChanged, 1), v.SKU, v)
}

// NewPurchaseOrderPlaced builds a purchase_order_placed event.
func NewPurchaseOrderPlaced(v PurchaseOrderPlacedV1) (contract.Event, error) {
	return contract.New(Source, contract.TypeName(PurchaseOrderPlaced, 1), v.SKU, v)
}

// NewPurchaseOrderFlagged builds a purchase_order_flagged event.
func NewPurchaseOrderFlagged(v PurchaseOrderFlaggedV1) (contract.Event, error) {
	return contract.New(Source, contract.TypeName(PurchaseOrderFlagged, 1), v.SKU, v)
}

// Examples returns one realistic event of every type Inventory publishes,
// in every version it still publishes, built by the constructors the
// service uses. Producers' tests check them against consumers' reliances
// (contract.CheckReliances).
func Examples() []contract.Event {
	at := time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)
	const (
		order       = "01959b3c-6d1e-7c3a-9f4e-2b8d5a1c0e77"
		reservation = "01959b3c-6e02-7b11-8a3d-4c9e2f7a1b05"
		po          = "01959b3c-7a40-7d2c-b1e8-93f0c6a4d218"
	)
	items := []Line{{SKU: "MUG-350", Quantity: 2}, {SKU: "TEE-M-BLK", Quantity: 1}}
	return []contract.Event{
		must(NewReservationConfirmed(ReservationConfirmedV1{ReservationID: reservation, OrderID: order, Items: items, ConfirmedAt: at})),
		must(NewReservationFailed(ReservationFailedV1{OrderID: order, Reason: FailureOutOfStock,
			Shortages: []Shortage{{SKU: "MUG-350", Requested: 2, Available: 1}}, FailedAt: at})),
		must(NewReservationReleased(ReservationReleasedV1{ReservationID: reservation, OrderID: order, Items: items,
			Reason: "payment_declined", ReleasedAt: at})),
		must(NewStockChanged(StockChangedV1{SKU: "MUG-350", DeltaOnHand: 0, DeltaReserved: 2, OnHand: 40, Reserved: 7,
			ReorderPoint: 10, Reason: StockReservation, Ref: order, ChangedAt: at})),
		must(NewPurchaseOrderPlaced(PurchaseOrderPlacedV1{PurchaseOrderID: po, SKU: "MUG-350", Name: "Stoneware mug",
			Description: "A 350 ml stoneware mug, dishwasher safe.", Quantity: 100, PlacedAt: at})),
		must(NewPurchaseOrderFlagged(PurchaseOrderFlaggedV1{PurchaseOrderID: po, SKU: "MUG-350",
			Missing: []string{MissingDescription}, FlaggedAt: at})),
	}
}

// must panics on an error: Examples are built from constants, so an error
// is a programmer's.
func must(e contract.Event, err error) contract.Event {
	if err != nil {
		panic(err)
	}
	return e
}
