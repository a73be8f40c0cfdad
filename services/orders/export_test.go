package orders

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/bounded-dev/bounded/platform/contract"
	cartevents "github.com/bounded-dev/bounded/services/cart/events"
	catalogevents "github.com/bounded-dev/bounded/services/catalog/events"
	fulfillmentevents "github.com/bounded-dev/bounded/services/fulfillment/events"
	inventoryevents "github.com/bounded-dev/bounded/services/inventory/events"
	paymentsevents "github.com/bounded-dev/bounded/services/payments/events"
)

// Exports for the black-box tests (fuzzers) of package orders_test.

// ListQuery is GET /orders' parsed query.
type ListQuery = listFilter

// ParseListQuery is GET /orders' query parser.
func ParseListQuery(raw string) (ListQuery, error) { return parseListQuery(raw) }

// Statuses are the statuses an order can be in.
var Statuses = statuses

// OrderPageParts decodes Payments' and Fulfillment's answers as the order
// page does, and returns the page's payments and shipments parts as JSON.
func OrderPageParts(payments, shipments []byte) (paymentsPart, shipmentsPart []byte, err error) {
	var pa paymentsAnswer
	var sa shipmentsAnswer
	if err := json.Unmarshal(payments, &pa); err != nil {
		return nil, nil, err
	}
	if err := json.Unmarshal(shipments, &sa); err != nil {
		return nil, nil, err
	}
	if paymentsPart, err = json.Marshal(paymentsPartOf(pa)); err != nil {
		return nil, nil, err
	}
	shipmentsPart, err = json.Marshal(shipmentsPartOf(sa))
	return paymentsPart, shipmentsPart, err
}

var paymentsPartOf, shipmentsPartOf = paymentsPart, shipmentsPart

// CheckoutFromEvent is the domain's view of a checked-out cart.
func CheckoutFromEvent(c cartevents.CheckedOutV1) Checkout { return checkoutFromEvent(c) }

// ProductCopyFromEvent is the copy the service keeps of a product event.
func ProductCopyFromEvent(p catalogevents.ProductUpdatedV2) ProductCopy {
	return productCopyFromEvent(p)
}

// ApplyConsumed does what the service does with e, a Payments, Inventory or
// Fulfillment event, minus the database: it decodes e with its producer's
// registry, checks its data and applies it to o at at (whatever order the
// event names). The error is the decoding's, the check's or the domain's.
func ApplyConsumed(e contract.Event, o *Order, at time.Time) error {
	name, _, err := contract.ParseType(e.Type)
	if err != nil {
		return err
	}
	var c orderChange
	switch name {
	case paymentsevents.PaymentCaptured:
		c, err = decodeChange(paymentsevents.Registry(), e, capturedChange)
	case paymentsevents.PaymentDeclined:
		c, err = decodeChange(paymentsevents.Registry(), e, declinedChange)
	case inventoryevents.ReservationConfirmed:
		c, err = decodeChange(inventoryevents.Registry(), e, reservedChange)
	case inventoryevents.ReservationFailed:
		c, err = decodeChange(inventoryevents.Registry(), e, reservationFailedChange)
	case fulfillmentevents.ShipmentDispatched:
		c, err = decodeChange(fulfillmentevents.Registry(), e, dispatchedChange)
	default:
		return fmt.Errorf("not an event about an existing order: %s", e.Type)
	}
	if err != nil {
		return err
	}
	return c.apply(o, at)
}

func decodeChange[T any](reg *contract.Registry, e contract.Event, build func(T) (orderChange, error)) (orderChange, error) {
	v, err := contract.DecodeAs[T](reg, e)
	if err != nil {
		return orderChange{}, err
	}
	return build(v)
}
