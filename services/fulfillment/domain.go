package fulfillment

import (
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/google/uuid"
)

// Status is where a shipment is in its life:
//
//	created ──(paid, packable, due)──▶ dispatched
//	   └──────(order cancelled)──────▶ cancelled
//
// Both transitions leave created and nothing leaves dispatched or
// cancelled. The dispatch job moves whole batches in one UPDATE, so the
// store enforces the machine in SQL (every transition's WHERE says
// status = 'created'), which also settles a race between a cancellation
// and a dispatch on PostgreSQL: whichever commits first wins, the other
// finds the shipment no longer created.
type Status string

const (
	StatusCreated    Status = "created"
	StatusDispatched Status = "dispatched"
	StatusCancelled  Status = "cancelled"
)

// Valid reports whether s is one of the statuses.
func (s Status) Valid() bool {
	return s == StatusCreated || s == StatusDispatched || s == StatusCancelled
}

// Unpackable is the package of a shipment that no packaging rule fits (its
// total quantity exceeds every rule's max_items). Such a shipment is
// created, flagged (the API shows unpackable: true, and
// bounded_fulfillment_unpackable_total counts it) and never dispatched: it
// is left for an operator, and changing the rules later does not repack it.
// No rule may take this name.
const Unpackable = "unpackable"

// Line is a SKU and a quantity of it.
type Line struct {
	SKU      string
	Quantity int
}

// Address is where a shipment goes.
type Address struct {
	Name, Line1, Line2, City, PostalCode, Country string
}

// Shipment is one order's shipment, as stored.
type Shipment struct {
	ID      string
	OrderID string
	Status  Status
	Package string
	Items   []Line
	Address Address
	Created time.Time
	// Dispatched, Cancelled: when it left created (zero if it has not).
	Dispatched time.Time
	Cancelled  time.Time
	// CancelledAfterDispatch is when a cancellation of its order arrived
	// after it had been dispatched (zero if none did): a conflict left for an
	// operator, since the goods are on their way.
	CancelledAfterDispatch time.Time
}

// Unpackable reports whether no packaging rule fit the shipment.
func (s Shipment) Unpackable() bool { return s.Package == Unpackable }

// newShipment is the shipment of an order that is confirmed and reserved,
// packed in pkg (a rule's name, or Unpackable).
func newShipment(orderID string, items []Line, addr Address, pkg string, now time.Time) (Shipment, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return Shipment{}, fmt.Errorf("new shipment: %w", err)
	}
	return Shipment{ID: id.String(), OrderID: orderID, Status: StatusCreated, Package: pkg, Items: items, Address: addr, Created: now}, nil
}

// totalQuantity is what the packaging rules are held against. It saturates
// instead of overflowing (no rule fits such a number anyway).
func totalQuantity(items []Line) int64 {
	var n int64
	for _, l := range items {
		n += int64(l.Quantity)
		if n > maxQuantity {
			return maxQuantity + 1
		}
	}
	return n
}

// preparation is what has arrived about one order from the three producers
// whose events arrive in any order relative to each other. It only ever
// gains facts (first arrival wins), so applying an event twice changes
// nothing.
type preparation struct {
	OrderID   string
	Items     []Line  // from orders.order_confirmed
	Address   Address // from orders.order_confirmed
	Confirmed time.Time
	Reserved  time.Time // inventory.reservation_confirmed arrived
	Paid      time.Time // payments.payment_captured arrived
	Cancelled time.Time // orders.order_cancelled arrived
}

// shipmentDue says whether the order's shipment is to be created: it is
// confirmed (so its items and address are known) and reserved, and it was
// not cancelled first.
func (p preparation) shipmentDue() bool {
	return !p.Confirmed.IsZero() && !p.Reserved.IsZero() && p.Cancelled.IsZero()
}

// dispatchDue is when a packable shipment of this order may be dispatched:
// delay after the payment arrived; zero while it is unpaid.
func (p preparation) dispatchDue(delay time.Duration) time.Time {
	if p.Paid.IsZero() {
		return time.Time{}
	}
	return p.Paid.Add(delay)
}

// Limits on what arrives and what is configured.
const (
	maxQuantity = 1_000_000_000 // per line, per rule, and (saturated) in total
	maxLines    = 1000
	maxPriority = 1_000_000
	maxIDLen    = 64
	maxFieldLen = 200
)

var (
	skuRE      = regexp.MustCompile(`^[A-Z0-9][A-Z0-9-]{1,31}$`)
	ruleNameRE = regexp.MustCompile(`^[a-z0-9_-]{1,32}$`)
)

// checkOrderID accepts the order ids the shop uses: UUIDs.
func checkOrderID(id string) error {
	if id == "" {
		return errors.New("order_id is empty")
	}
	if len(id) > maxIDLen {
		return fmt.Errorf("order_id is longer than %d characters", maxIDLen)
	}
	if _, err := uuid.Parse(id); err != nil {
		return fmt.Errorf("order_id %q is not a UUID", id)
	}
	return nil
}

// checkLines validates an order's lines: at least one, each a valid SKU
// and a quantity from 1 to maxQuantity.
func checkLines(items []Line) error {
	if len(items) == 0 {
		return errors.New("items: empty")
	}
	if len(items) > maxLines {
		return fmt.Errorf("items: %d lines, at most %d", len(items), maxLines)
	}
	for i, l := range items {
		if !skuRE.MatchString(l.SKU) {
			return fmt.Errorf("items[%d].sku %q: want %s", i, l.SKU, skuRE)
		}
		if l.Quantity < 1 || l.Quantity > maxQuantity {
			return fmt.Errorf("items[%d].quantity %d: want 1 to %d", i, l.Quantity, maxQuantity)
		}
	}
	return nil
}

// checkAddress requires what a shipping label needs.
func checkAddress(a Address) error {
	for _, f := range []struct{ name, v string }{
		{"name", a.Name}, {"line1", a.Line1}, {"city", a.City}, {"postal_code", a.PostalCode}, {"country", a.Country},
	} {
		if f.v == "" {
			return fmt.Errorf("shipping_address.%s is empty", f.name)
		}
	}
	for _, f := range []struct{ name, v string }{
		{"name", a.Name}, {"line1", a.Line1}, {"line2", a.Line2}, {"city", a.City}, {"postal_code", a.PostalCode}, {"country", a.Country},
	} {
		if len(f.v) > maxFieldLen {
			return fmt.Errorf("shipping_address.%s is longer than %d bytes", f.name, maxFieldLen)
		}
	}
	return nil
}

// PackagingRule is a package a shipment may go in: one whose total quantity
// is at most MaxItems. The shipment's package is the rule with the smallest
// MaxItems that fits; among rules with equal MaxItems the smaller Priority
// wins (priority 1 is tried before priority 2), then the name.
type PackagingRule struct {
	name     string
	maxItems int64
	priority int
}

// NewPackagingRule validates a rule: name ^[a-z0-9_-]{1,32}$ and not
// "unpackable", max_items from 1 to 1e9, priority from 0 to 1e6. The error
// says which field is wrong and how.
func NewPackagingRule(name string, maxItems int64, priority int) (PackagingRule, error) {
	switch {
	case !ruleNameRE.MatchString(name):
		return PackagingRule{}, fmt.Errorf("name %q: want 1 to 32 of a-z, 0-9, '_' and '-'", name)
	case name == Unpackable:
		return PackagingRule{}, fmt.Errorf("name %q is reserved for shipments no rule fits", name)
	case maxItems < 1 || maxItems > maxQuantity:
		return PackagingRule{}, fmt.Errorf("max_items %d: want 1 to %d", maxItems, maxQuantity)
	case priority < 0 || priority > maxPriority:
		return PackagingRule{}, fmt.Errorf("priority %d: want 0 to %d", priority, maxPriority)
	}
	return PackagingRule{name: name, maxItems: maxItems, priority: priority}, nil
}

func (r PackagingRule) Name() string    { return r.name }
func (r PackagingRule) MaxItems() int64 { return r.maxItems }
func (r PackagingRule) Priority() int   { return r.priority }
