package orders

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/bounded-dev/bounded/services/orders/events"
)

// ParseOrderID checks that s is an order id (a UUID in its 36-character
// form) and returns it in canonical (lower-case) form.
func ParseOrderID(s string) (string, error) {
	if len(s) != 36 {
		return "", fmt.Errorf("%q is not a UUID", s)
	}
	u, err := uuid.Parse(s)
	if err != nil {
		return "", fmt.Errorf("%q is not a UUID", s)
	}
	return u.String(), nil
}

// Status is an order's state: confirmed → paid → reserved → shipped, or
// cancelled (from any state before shipped) with a reason.
type Status string

const (
	// StatusNew is no state an order has: it is the previous status of an
	// order created cancelled.
	StatusNew       Status = events.StatusNew
	StatusConfirmed Status = events.StatusConfirmed
	StatusPaid      Status = events.StatusPaid
	StatusReserved  Status = events.StatusReserved
	StatusShipped   Status = events.StatusShipped
	StatusCancelled Status = events.StatusCancelled
)

// statuses are the states an order can be in (StatusNew is not one).
var statuses = []Status{StatusConfirmed, StatusPaid, StatusReserved, StatusShipped, StatusCancelled}

// ErrImpossible reports an event that contradicts what the order already
// knows (a transition the state machine cannot take): applying it would
// corrupt the order, and retrying will not help. The handlers dead-letter
// such events for an operator to look at.
var ErrImpossible = errors.New("impossible transition")

// ErrInvalid reports data that breaks a rule of the domain (a malformed
// SKU, a negative price, ...).
var ErrInvalid = errors.New("invalid data")

func impossible(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrImpossible, fmt.Sprintf(format, args...))
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

var (
	skuRE      = regexp.MustCompile(`^[A-Z0-9][A-Z0-9-]{1,31}$`)
	currencyRE = regexp.MustCompile(`^[A-Z]{3}$`)
	countryRE  = regexp.MustCompile(`^[A-Z]{2}$`)
)

// Limits on what an order may hold. They keep totals far from overflow and
// rows of a sane size; a checkout beyond them is bad data.
const (
	maxLines       = 500
	maxQuantity    = 10_000
	maxTextLen     = 200
	maxEmailLen    = 254
	maxPaymentText = 512
)

// checkText reports a required (or, with optional, possibly empty) text
// field that is too long or holds what no database column should: invalid
// UTF-8 or control characters (PostgreSQL refuses NUL in text).
func checkText(field, s string, max int, optional bool) error {
	switch {
	case s == "" && !optional:
		return invalid("%s: required", field)
	case len(s) > max:
		return invalid("%s: longer than %d bytes", field, max)
	case !utf8.ValidString(s):
		return invalid("%s: not valid UTF-8", field)
	case strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return invalid("%s: holds control characters", field)
	}
	return nil
}

// storableText makes s pass checkText (as an optional field of at most max
// bytes): invalid UTF-8 becomes U+FFFD, control characters spaces, and it is
// cut on a rune boundary. It is for text that is only shown, where refusing
// the event it came in would do more harm than changing the text.
func storableText(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) <= max {
		return s
	}
	for max > 0 && !utf8.RuneStart(s[max]) {
		max--
	}
	return s[:max]
}

// maxNameChars is Catalog's limit on a product name, in characters (not
// bytes: a name in Greek or Japanese takes two or three bytes a character).
// Orders must take every name Catalog publishes, or a checkout of such a
// product would be dead-lettered instead of becoming an order.
const maxNameChars = 200

// checkName checks a product name: checkText with a limit in characters.
func checkName(field, s string, optional bool) error {
	if n := utf8.RuneCountInString(s); n > maxNameChars {
		return invalid("%s: longer than %d characters", field, maxNameChars)
	}
	return checkText(field, s, 4*maxNameChars, optional)
}

// checkEmail is a plausibility check, not RFC 5322: something@something,
// without spaces.
func checkEmail(field, s string) error {
	if err := checkText(field, s, maxEmailLen, false); err != nil {
		return err
	}
	at := strings.LastIndexByte(s, '@')
	if at < 1 || at == len(s)-1 || strings.ContainsAny(s, " \t") {
		return invalid("%s: %q is not an email address", field, s)
	}
	return nil
}

// Address is a shipping address.
type Address struct {
	Name, Line1, Line2, City, PostalCode, Country string
}

// Validate reports a missing or malformed field.
func (a Address) Validate() error {
	for _, f := range []struct {
		name, v  string
		optional bool
	}{{"name", a.Name, false}, {"line1", a.Line1, false}, {"line2", a.Line2, true}, {"city", a.City, false}, {"postal_code", a.PostalCode, false}} {
		if err := checkText("shipping_address."+f.name, f.v, maxTextLen, f.optional); err != nil {
			return err
		}
	}
	if !countryRE.MatchString(a.Country) {
		return invalid("shipping_address.country: %q is not an ISO 3166-1 alpha-2 code", a.Country)
	}
	return nil
}

// Item is an order line with the price at the time of ordering.
type Item struct {
	SKU            string
	Name           string
	Quantity       int
	UnitPriceCents int64
}

// LineTotalCents is quantity × unit price (placeOrder made sure it fits).
func (i Item) LineTotalCents() int64 { return int64(i.Quantity) * i.UnitPriceCents }

// ProductCopy is Orders' read-only copy of a Catalog product (event-carried
// state): the newest version Orders has seen.
type ProductCopy struct {
	SKU        string
	Name       string
	PriceCents int64
	Currency   string
	Active     bool
	Version    int64
}

// Validate reports a product copy that cannot be kept.
func (p ProductCopy) Validate() error {
	switch {
	case !skuRE.MatchString(p.SKU):
		return invalid("sku: %q is not a SKU", p.SKU)
	case !currencyRE.MatchString(p.Currency):
		return invalid("product %s: currency %q is not an ISO 4217 code", p.SKU, p.Currency)
	case p.PriceCents < 0:
		return invalid("product %s: negative price %d", p.SKU, p.PriceCents)
	case p.Version < 1:
		return invalid("product %s: version %d, want >= 1", p.SKU, p.Version)
	}
	return checkName("product "+p.SKU+": name", p.Name, !p.Active)
}

// Checkout is an order request, as a cart sends it at checkout.
type Checkout struct {
	OrderID       string // a UUID in canonical form (see ParseOrderID)
	CartID        string
	CustomerEmail string
	Address       Address
	PaymentToken  string
	Currency      string
	Lines         []CheckoutLine
}

// CheckoutLine is a cart line: the price the cart showed and the version of
// the product data it came from.
type CheckoutLine struct {
	SKU            string
	Name           string
	Quantity       int
	UnitPriceCents int64
	ProductVersion int64
}

// Validate reports a checkout that can never become an order.
func (c Checkout) Validate() error {
	if _, err := ParseOrderID(c.OrderID); err != nil {
		return invalid("order_id: %v", err)
	}
	if err := checkText("cart_id", c.CartID, maxTextLen, false); err != nil {
		return err
	}
	if err := checkEmail("customer_email", c.CustomerEmail); err != nil {
		return err
	}
	if err := c.Address.Validate(); err != nil {
		return err
	}
	if err := checkText("payment_token", c.PaymentToken, maxPaymentText, false); err != nil {
		return err
	}
	if !currencyRE.MatchString(c.Currency) {
		return invalid("currency: %q is not an ISO 4217 code", c.Currency)
	}
	if len(c.Lines) == 0 || len(c.Lines) > maxLines {
		return invalid("items: %d lines, want 1 to %d", len(c.Lines), maxLines)
	}
	seen := make(map[string]bool, len(c.Lines))
	for i, l := range c.Lines {
		switch {
		case !skuRE.MatchString(l.SKU):
			return invalid("items[%d].sku: %q is not a SKU", i, l.SKU)
		case seen[l.SKU]:
			return invalid("items[%d].sku: %s is on two lines", i, l.SKU)
		case l.Quantity < 1 || l.Quantity > maxQuantity:
			return invalid("items[%d].quantity: %d, want 1 to %d", i, l.Quantity, maxQuantity)
		case l.UnitPriceCents < 0:
			return invalid("items[%d].unit_price_cents: negative (%d)", i, l.UnitPriceCents)
		case l.ProductVersion < 0:
			return invalid("items[%d].product_version: negative (%d)", i, l.ProductVersion)
		}
		if err := checkName(fmt.Sprintf("items[%d].name", i), l.Name, false); err != nil {
			return err
		}
		seen[l.SKU] = true
	}
	return nil
}

// Transition is one change of an order's status, as the history keeps it.
// Reason is the cancellation reason for StatusCancelled, and otherwise the
// event that caused the change.
type Transition struct {
	From   Status
	To     Status
	At     time.Time
	Reason string
}

// Order is the Order aggregate with its OrderItems. Build one with
// PlaceOrder (or load it in the store); change it only through its methods,
// which keep the state machine's rules and record each transition.
type Order struct {
	id            string
	cartID        string
	customerEmail string
	address       Address
	currency      string
	items         []Item
	totalCents    int64

	status        Status
	cancelReason  string
	cancelDetail  string
	paymentID     string // set once the payment is captured
	reservationID string // set once the stock is reserved
	shipmentID    string // set once the shipment is dispatched
	createdAt     time.Time
	updatedAt     time.Time

	history []Transition // as loaded (only for reads)
	changes []Transition // made since it was built or loaded
	dirty   bool         // a field changed since it was loaded
}

// Accessors, for the store and the HTTP layer.
func (o *Order) ID() string               { return o.id }
func (o *Order) Status() Status           { return o.status }
func (o *Order) Items() []Item            { return o.items }
func (o *Order) TotalCents() int64        { return o.totalCents }
func (o *Order) Currency() string         { return o.currency }
func (o *Order) PaymentID() string        { return o.paymentID }
func (o *Order) ReservationID() string    { return o.reservationID }
func (o *Order) ShipmentID() string       { return o.shipmentID }
func (o *Order) Changes() []Transition    { return o.changes }
func (o *Order) History() []Transition    { return o.history }
func (o *Order) Paid() bool               { return o.paymentID != "" }
func (o *Order) Reserved() bool           { return o.reservationID != "" }
func (o *Order) CancelReason() string     { return o.cancelReason }
func (o *Order) CancelDetail() string     { return o.cancelDetail }
func (o *Order) CustomerEmail() string    { return o.customerEmail }
func (o *Order) ShippingAddress() Address { return o.address }
func (o *Order) CreatedAt() time.Time     { return o.createdAt }
func (o *Order) UpdatedAt() time.Time     { return o.updatedAt }

// PlaceOrder turns a valid checkout into an order, at now.
//
// Each line's price at the time of ordering is the cart's, unless Orders'
// copy of the product is newer than the data the cart priced it with: then
// the copy's price and name win. If a product is inactive (or unknown) in
// the newest data, or priced in another currency than the order, the order
// is created cancelled with reason product_unavailable and a detail naming
// the SKUs; otherwise it is confirmed.
//
// copies holds Orders' product copies by SKU (missing ones are unknown to
// Orders). The error is of kind ErrInvalid (an invalid checkout, or totals
// that do not fit in int64).
func PlaceOrder(c Checkout, copies map[string]ProductCopy, now time.Time) (*Order, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	id, _ := ParseOrderID(c.OrderID)
	o := &Order{id: id, cartID: c.CartID, customerEmail: c.CustomerEmail, address: c.Address,
		currency: c.Currency, createdAt: now, updatedAt: now, items: make([]Item, 0, len(c.Lines))}
	var unavailable []string
	for _, l := range c.Lines {
		it := Item{SKU: l.SKU, Name: l.Name, Quantity: l.Quantity, UnitPriceCents: l.UnitPriceCents}
		cp, have := copies[l.SKU]
		switch {
		case have && cp.Version > l.ProductVersion:
			// Orders knows a newer version than the cart priced with.
			it.Name, it.UnitPriceCents = cp.Name, cp.PriceCents
			if it.Name == "" { // an inactive product may come without a name
				it.Name = l.Name
			}
			fallthrough
		case have && cp.Version == l.ProductVersion:
			// The same version: the same data, and only the copy says
			// whether it is active (the cart's line does not).
			switch {
			case !cp.Active:
				unavailable = append(unavailable, l.SKU+" (no longer sold)")
			case cp.Currency != c.Currency:
				unavailable = append(unavailable, fmt.Sprintf("%s (priced in %s, the order is in %s)", l.SKU, cp.Currency, c.Currency))
			}
		case l.ProductVersion < 1:
			// Neither the cart nor Orders knows the product.
			unavailable = append(unavailable, l.SKU+" (unknown product)")
		default:
			// The cart's data is the newest (Orders' copy is older, or not
			// there yet): the cart only sells active products, in the
			// cart's currency.
		}
		if it.UnitPriceCents > math.MaxInt64/int64(it.Quantity) {
			return nil, invalid("%s: %d × %d cents does not fit in int64", l.SKU, it.Quantity, it.UnitPriceCents)
		}
		line := it.LineTotalCents()
		if o.totalCents > math.MaxInt64-line {
			return nil, invalid("the order's total does not fit in int64")
		}
		o.totalCents += line
		o.items = append(o.items, it)
	}
	if len(unavailable) > 0 {
		o.status = StatusNew
		o.cancel(events.ReasonProductUnavailable, "unavailable: "+strings.Join(unavailable, ", "), now)
		return o, nil
	}
	o.status = StatusNew
	o.move(StatusConfirmed, now, "cart.checked_out")
	return o, nil
}

// move changes the status and records the transition.
func (o *Order) move(to Status, at time.Time, reason string) {
	o.changes = append(o.changes, Transition{From: o.status, To: to, At: at, Reason: reason})
	o.status = to
	o.updatedAt = at
	o.dirty = true
}

func (o *Order) cancel(reason, detail string, at time.Time) {
	o.cancelReason, o.cancelDetail = reason, detail
	o.move(StatusCancelled, at, reason)
}

// advance takes the transitions that what the order knows allows: paid
// with its stock reserved is reserved; reserved with its shipment
// dispatched is shipped. cause is the event that made them possible.
func (o *Order) advance(at time.Time, cause string) {
	if o.status == StatusPaid && o.reservationID != "" {
		o.move(StatusReserved, at, cause)
	}
	if o.status == StatusReserved && o.shipmentID != "" {
		o.move(StatusShipped, at, cause)
	}
}

// CapturePayment records that the payment was captured: confirmed → paid,
// and on to reserved (and shipped) when the reservation (and shipment)
// arrived first.
//
// On a cancelled order it does nothing: the cancellation was published, and
// Payments refunds a payment captured for a cancelled order. A second
// capture of the same payment is a no-op; of another payment, ErrImpossible.
func (o *Order) CapturePayment(paymentID string, at time.Time, cause string) error {
	switch {
	case o.status == StatusCancelled:
		return nil
	case o.paymentID == paymentID:
		return nil
	case o.paymentID != "":
		return impossible("order %s: payment %s captured, but %s was captured already", o.id, paymentID, o.paymentID)
	}
	o.paymentID = paymentID
	o.move(StatusPaid, at, cause)
	o.advance(at, cause)
	return nil
}

// DeclinePayment records that payment paymentID was declined: the order is
// cancelled (payment_declined).
//
// On a cancelled order it does nothing (the order is cancelled already and
// its compensations run). After a capture of another payment, or after a
// dispatch, it contradicts what Payments said before: ErrImpossible,
// nothing applied; this also covers a shipped order, which must not be
// cancelled.
//
// After a capture of the same payment it cancels the order: Payments
// publishes a decline and then a capture for one payment only when a
// gateway call charged it after it was declined (a worker whose lease ran
// out), and refunds that charge at once; the two events arrive in the
// other order when replicas of Orders share Payments' stream and apply
// them out of order. The order is then as if they had come in order:
// cancelled, the capture ignored.
func (o *Order) DeclinePayment(paymentID, reason string, at time.Time) error {
	switch {
	case o.status == StatusCancelled:
		return nil
	case o.shipmentID != "":
		return impossible("order %s: payment declined (%s) after shipment %s was dispatched", o.id, reason, o.shipmentID)
	case o.paymentID != "" && o.paymentID != paymentID:
		return impossible("order %s: payment %s declined (%s) after payment %s was captured", o.id, paymentID, reason, o.paymentID)
	}
	detail := "the payment was declined"
	if reason != "" {
		detail += ": " + reason
	}
	o.cancel(events.ReasonPaymentDeclined, detail, at)
	return nil
}

// ConfirmReservation records the order's stock reservation: a paid order
// becomes reserved (and shipped, if its shipment was dispatched already); a
// confirmed one keeps it for when the payment is captured.
//
// On a cancelled order it does nothing: Inventory releases the reservation
// on order_cancelled. The same reservation twice is a no-op; another one is
// ErrImpossible.
func (o *Order) ConfirmReservation(reservationID string, at time.Time, cause string) error {
	switch {
	case o.status == StatusCancelled:
		return nil
	case o.reservationID == reservationID:
		return nil
	case o.reservationID != "":
		return impossible("order %s: reservation %s confirmed, but %s was confirmed already", o.id, reservationID, o.reservationID)
	}
	o.reservationID = reservationID
	o.dirty = true
	o.updatedAt = at
	o.advance(at, cause)
	return nil
}

// Shortage is an order line Inventory could not reserve.
type Shortage struct {
	SKU                  string
	Requested, Available int
}

// FailReservation records that the stock could not be reserved: the order
// is cancelled (out_of_stock) with a detail listing the shortages.
//
// On a cancelled order it does nothing. After a confirmed reservation or a
// dispatched shipment (which needs one) it contradicts what Inventory said
// before: ErrImpossible.
func (o *Order) FailReservation(reason string, shortages []Shortage, at time.Time) error {
	switch {
	case o.status == StatusCancelled:
		return nil
	case o.reservationID != "":
		return impossible("order %s: reservation failed after reservation %s was confirmed", o.id, o.reservationID)
	case o.shipmentID != "":
		return impossible("order %s: reservation failed after shipment %s was dispatched", o.id, o.shipmentID)
	}
	parts := make([]string, len(shortages))
	for i, s := range shortages {
		parts[i] = fmt.Sprintf("%s (requested %d, available %d)", s.SKU, s.Requested, s.Available)
	}
	detail := "out of stock"
	if reason != "" && reason != events.ReasonOutOfStock {
		detail += " (" + reason + ")"
	}
	if len(parts) > 0 {
		detail += ": " + strings.Join(parts, ", ")
	}
	o.cancel(events.ReasonOutOfStock, detail, at)
	return nil
}

// DispatchShipment records that the order's shipment left: a reserved
// order becomes shipped.
//
// Fulfillment dispatches only once the payment is captured and the stock
// reserved, but it learns that from Payments' and Inventory's streams, not
// from Orders: the dispatch can reach Orders before the capture or the
// reservation does. The shipment is then kept, nothing else changes, and the
// order moves on to shipped when they arrive (advance); it is not applied
// before. A dispatch for a cancelled order (goods left for an order that
// will be refunded), or a second, different shipment, is ErrImpossible: an
// operator must look.
func (o *Order) DispatchShipment(shipmentID string, at time.Time, cause string) error {
	switch {
	case o.shipmentID == shipmentID:
		return nil
	case o.status == StatusCancelled:
		return impossible("order %s: shipment %s dispatched, but the order is cancelled (%s)", o.id, shipmentID, o.cancelReason)
	case o.shipmentID != "":
		return impossible("order %s: shipment %s dispatched, but %s was dispatched already", o.id, shipmentID, o.shipmentID)
	}
	o.shipmentID = shipmentID
	o.dirty = true
	o.updatedAt = at
	o.advance(at, cause)
	return nil
}
