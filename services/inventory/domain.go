package inventory

import (
	"cmp"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/bounded-dev/bounded/services/inventory/events"
)

// Bounds on quantities: far above any real shelf, far below overflow (a
// stock level is a 64-bit integer in both databases; these keep sums of
// them exact and JSON numbers safe in every client).
const (
	maxStock      = 1_000_000_000
	maxLineQty    = 1_000_000
	maxOrderLines = 500
	maxTextLength = 1 << 16 // product names and descriptions kept for purchase orders
	maxIDLength   = 100
	defaultPage   = 50
	maxPage       = 500
)

var skuRE = regexp.MustCompile(`^[A-Z0-9][A-Z0-9-]{1,31}$`)

// checkSKU reports a SKU that does not follow the shop's convention.
func checkSKU(sku string) error {
	if !skuRE.MatchString(sku) {
		return fmt.Errorf("SKU %q: want 2 to 32 upper-case letters, digits or '-', not starting with '-'", sku)
	}
	return nil
}

// StockItem is the stock of one SKU. Invariant: 0 <= Reserved <= OnHand.
type StockItem struct {
	SKU             string
	OnHand          int64
	Reserved        int64
	ReorderPoint    int64
	ReorderQuantity int64
	UpdatedAt       time.Time
}

// Available is what can still be reserved.
func (s StockItem) Available() int64 { return s.OnHand - s.Reserved }

// Low reports whether the SKU should be reordered (if no purchase order is
// open for it): its available stock is at or below its reorder point.
func (s StockItem) Low() bool { return s.Available() <= s.ReorderPoint }

// StockSettings is what an admin sets on a SKU: PUT /stock/{sku}.
type StockSettings struct {
	OnHand          int64
	ReorderPoint    int64
	ReorderQuantity int64
}

// NewStockSettings validates the settings of a stock item.
func NewStockSettings(onHand, reorderPoint, reorderQuantity int64) (StockSettings, error) {
	var errs []string
	if onHand < 0 || onHand > maxStock {
		errs = append(errs, fmt.Sprintf("on_hand %d: want 0 to %d", onHand, maxStock))
	}
	if reorderPoint < 0 || reorderPoint > maxStock {
		errs = append(errs, fmt.Sprintf("reorder_point %d: want 0 to %d", reorderPoint, maxStock))
	}
	if reorderQuantity < 1 || reorderQuantity > maxStock {
		errs = append(errs, fmt.Sprintf("reorder_quantity %d: want 1 to %d", reorderQuantity, maxStock))
	}
	if len(errs) > 0 {
		return StockSettings{}, errors.New(strings.Join(errs, "; "))
	}
	return StockSettings{OnHand: onHand, ReorderPoint: reorderPoint, ReorderQuantity: reorderQuantity}, nil
}

// Product is Inventory's own copy of a product's data, fed by Catalog's
// product_updated events. Only a newer Version replaces it.
type Product struct {
	SKU         string
	Name        string
	Description string
	Active      bool
	Version     int64
}

// newProduct validates a product copy taken from an event.
func newProduct(sku, name, description string, active bool, version int64) (Product, error) {
	if err := checkSKU(sku); err != nil {
		return Product{}, err
	}
	if version < 1 {
		return Product{}, fmt.Errorf("product %s: version %d, want >= 1", sku, version)
	}
	if len(name) > maxTextLength || len(description) > maxTextLength {
		return Product{}, fmt.Errorf("product %s: name or description longer than %d bytes", sku, maxTextLength)
	}
	return Product{SKU: sku, Name: name, Description: description, Active: active, Version: version}, nil
}

// Line is a SKU and a quantity of an order or a reservation.
type Line struct {
	SKU      string
	Quantity int64
}

// newLines validates an order's lines and merges lines of the same SKU. The
// result is sorted by SKU, the order in which stock rows are locked (a
// fixed order keeps concurrent reservations from deadlocking).
func newLines(orderID string, items []Line) ([]Line, error) {
	if orderID == "" || len(orderID) > maxIDLength {
		return nil, fmt.Errorf("order id %q: want 1 to %d characters", orderID, maxIDLength)
	}
	if len(items) == 0 || len(items) > maxOrderLines {
		return nil, fmt.Errorf("order %s: %d lines, want 1 to %d", orderID, len(items), maxOrderLines)
	}
	byS := map[string]int64{}
	for i, it := range items {
		if err := checkSKU(it.SKU); err != nil {
			return nil, fmt.Errorf("order %s line %d: %w", orderID, i+1, err)
		}
		if it.Quantity < 1 || it.Quantity > maxLineQty {
			return nil, fmt.Errorf("order %s line %d (%s): quantity %d, want 1 to %d", orderID, i+1, it.SKU, it.Quantity, maxLineQty)
		}
		byS[it.SKU] += it.Quantity
	}
	out := make([]Line, 0, len(byS))
	for sku, q := range byS {
		if q > maxLineQty {
			return nil, fmt.Errorf("order %s: %s quantity %d in all, want at most %d", orderID, sku, q, maxLineQty)
		}
		out = append(out, Line{SKU: sku, Quantity: q})
	}
	slices.SortFunc(out, func(a, b Line) int { return cmp.Compare(a.SKU, b.SKU) })
	return out, nil
}

// planReservation decides whether lines can all be reserved from stock
// (the locked stock items by SKU). It returns no reason when they can;
// otherwise the reason (unknown_product when a SKU has no stock item, else
// out_of_stock) and every line that cannot be met.
func planReservation(lines []Line, stock map[string]StockItem) (reason string, shortages []events.Shortage) {
	unknown := false
	for _, l := range lines {
		item, ok := stock[l.SKU]
		switch {
		case !ok:
			unknown = true
			shortages = append(shortages, events.Shortage{SKU: l.SKU, Requested: int(l.Quantity), Available: 0})
		case item.Available() < l.Quantity:
			shortages = append(shortages, events.Shortage{SKU: l.SKU, Requested: int(l.Quantity), Available: int(item.Available())})
		}
	}
	switch {
	case unknown:
		return events.FailureUnknownProduct, shortages
	case len(shortages) > 0:
		return events.FailureOutOfStock, shortages
	}
	return "", nil
}

// ReservationStatus is where a reservation stands: reserved, then released
// (the order was cancelled) or consumed (its shipment was dispatched).
type ReservationStatus string

const (
	ReservationReserved ReservationStatus = "reserved"
	ReservationReleased ReservationStatus = "released"
	ReservationConsumed ReservationStatus = "consumed"
)

// Reservation is the stock held for one order.
type Reservation struct {
	ID            string
	OrderID       string
	Status        ReservationStatus
	Lines         []Line
	ShipmentID    string
	ReleaseReason string
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// ReservationFailure records an order that could not be reserved.
type ReservationFailure struct {
	OrderID   string
	Reason    string
	Shortages []events.Shortage
	FailedAt  time.Time
}

// POStatus is where a purchase order stands.
//
//	pending  → sent | retrying | rejected | flagged
//	retrying → sent | retrying | rejected | flagged   (a supplier error: sent again after a backoff)
//	flagged  → pending   (the product data arrived; never sent while flagged)
//	rejected → pending | flagged  (the product data changed; the supplier refused the old one)
//	sent     → received
//
// pending, retrying, flagged, rejected and sent are open: a SKU has at most
// one open purchase order. Only a complete purchase order is ever pending,
// retrying, sent or received (the database refuses any other).
type POStatus string

const (
	POPending  POStatus = "pending"
	PORetrying POStatus = "retrying"
	POFlagged  POStatus = "flagged"
	POSent     POStatus = "sent"
	PORejected POStatus = "rejected"
	POReceived POStatus = "received"
)

var poStatuses = []POStatus{POPending, PORetrying, POFlagged, POSent, PORejected, POReceived}

func parsePOStatus(s string) (POStatus, error) {
	if slices.Contains(poStatuses, POStatus(s)) {
		return POStatus(s), nil
	}
	return "", fmt.Errorf("status %q: want one of %v", s, poStatuses)
}

// PurchaseOrder is an order of ReorderQuantity units of a SKU from the
// supplier, carrying the product's name and description from Inventory's
// own copy.
type PurchaseOrder struct {
	ID             string
	SKU            string
	Quantity       int64
	Name           string
	Description    string
	ProductVersion int64 // of the copy Name and Description came from; 0: none
	Status         POStatus
	Missing        []string
	Attempts       int
	LastError      string
	NextAttemptAt  time.Time
	CreatedAt      time.Time
	UpdatedAt      time.Time
	SentAt         *time.Time
	ReceivedAt     *time.Time
}

// missingFields names what a purchase order with this name and description
// lacks; none means it is complete. Blank counts as missing.
func missingFields(name, description string) []string {
	var m []string
	if strings.TrimSpace(name) == "" {
		m = append(m, events.MissingName)
	}
	if strings.TrimSpace(description) == "" {
		m = append(m, events.MissingDescription)
	}
	return m
}

// shortagesOrEmpty keeps a JSON array in events when there is nothing to list.
func shortagesOrEmpty(s []events.Shortage) []events.Shortage {
	if s == nil {
		return []events.Shortage{}
	}
	return s
}
