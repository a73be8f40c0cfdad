// Package events is the Reporting service's published contract. Reporting
// publishes nothing: it is a pure consumer, and this package holds the
// fields of other services' events it reads (Reliances), so that a
// producer's build fails before a change can silently empty a report. It
// is the only package of the Reporting service other services may import.
package events

import "github.com/bounded-dev/bounded/platform/contract"

// Source is the CloudEvents source Reporting would publish under.
const Source = "/reporting"

// Registry returns Reporting's event registry: empty.
func Registry() *contract.Registry { return contract.NewRegistry() }

// Examples returns an example of every event Reporting publishes: none.
func Examples() []contract.Event { return nil }

// Reliances are the fields of other services' events the warehouse and the
// order-history read model load. Optional fields (a reason that may be
// empty, a reference a manual stock adjustment has not) are read when
// present and not relied upon.
func Reliances() []contract.Reliance {
	const r = "reporting"
	return []contract.Reliance{
		contract.Relies(r, "catalog.product_updated", "sku", "name", "price_cents", "currency", "category", "active", "version"),
		contract.Relies(r, "catalog.category_updated", "slug", "name", "version"),
		contract.Relies(r, "cart.checked_out", "cart_id", "order_id", "customer_email", "currency",
			"items[].quantity", "items[].unit_price_cents", "checked_out_at"),
		contract.Relies(r, "orders.order_confirmed", "order_id", "customer_email", "currency", "total_cents", "confirmed_at",
			"items[].sku", "items[].name", "items[].quantity", "items[].unit_price_cents"),
		contract.Relies(r, "orders.order_paid", "order_id", "paid_at"),
		contract.Relies(r, "orders.order_reserved", "order_id", "reserved_at"),
		contract.Relies(r, "orders.order_shipped", "order_id", "shipped_at"),
		contract.Relies(r, "orders.order_cancelled", "order_id", "reason", "previous_status", "cancelled_at"),
		contract.Relies(r, "payments.payment_captured", "payment_id", "order_id", "amount_cents", "currency", "attempts", "captured_at"),
		contract.Relies(r, "payments.payment_declined", "payment_id", "order_id", "amount_cents", "currency", "reason", "attempts", "declined_at"),
		contract.Relies(r, "payments.payment_voided", "payment_id", "order_id", "amount_cents", "currency", "voided_at"),
		contract.Relies(r, "payments.refund_issued", "refund_id", "payment_id", "order_id", "amount_cents", "currency", "refunded_at"),
		contract.Relies(r, "inventory.reservation_confirmed", "reservation_id", "order_id", "items[].quantity", "confirmed_at"),
		contract.Relies(r, "inventory.reservation_failed", "order_id", "reason",
			"shortages[].sku", "shortages[].requested", "shortages[].available", "failed_at"),
		contract.Relies(r, "inventory.reservation_released", "reservation_id", "order_id", "items[].quantity", "released_at"),
		contract.Relies(r, "inventory.stock_changed", "sku", "delta_on_hand", "delta_reserved", "on_hand", "reserved", "reason", "changed_at"),
		contract.Relies(r, "inventory.purchase_order_placed", "purchase_order_id", "sku", "quantity", "placed_at"),
		contract.Relies(r, "inventory.purchase_order_flagged", "purchase_order_id", "sku", "missing", "flagged_at"),
		contract.Relies(r, "fulfillment.shipment_created", "shipment_id", "order_id", "package", "items[].quantity", "created_at"),
		contract.Relies(r, "fulfillment.shipment_dispatched", "shipment_id", "order_id", "items[].quantity", "dispatched_at"),
	}
}
