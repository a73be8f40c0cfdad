package cart

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/bounded-dev/bounded/services/cart/events"
	catalogevents "github.com/bounded-dev/bounded/services/catalog/events"
)

// Error kinds of the domain; http.go maps them to status codes in one table.
var (
	ErrInvalid  = errors.New("invalid input")  // the request is malformed: 400
	ErrNotFound = errors.New("not found")      // no such cart or line: 404
	ErrConflict = errors.New("conflict")       // the cart's state forbids it: 409
	ErrRejected = errors.New("rejected input") // a business rule refuses it: 422
)

// Error is a domain error: one of the kinds above and a message for the
// customer that says what is wrong.
type Error struct {
	kind error
	msg  string
}

func (e *Error) Error() string { return e.msg }
func (e *Error) Unwrap() error { return e.kind }

func fail(kind error, format string, args ...any) error {
	return &Error{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// Limits of a cart line and of the checkout's text fields.
const (
	MinQuantity      = 1
	MaxQuantity      = 99
	maxEmailLen      = 254
	maxLocalPartLen  = 64
	maxTokenLen      = 64
	maxAddressField  = 100
	maxPostalCodeLen = 16
	// maxAddressBytes also bounds an address field in bytes: the services
	// downstream (Orders, Fulfillment) take at most 200 bytes a field.
	maxAddressBytes = 200
	// maxProductName is Catalog's limit on a product name, in characters.
	maxProductName = 200
)

var (
	skuRE      = regexp.MustCompile(`^[A-Z0-9][A-Z0-9-]{1,31}$`)
	currencyRE = regexp.MustCompile(`^[A-Z]{3}$`)
	countryRE  = regexp.MustCompile(`^[A-Z]{2}$`)
)

// ValidSKU reports whether s is a well-formed SKU.
func ValidSKU(s string) bool { return skuRE.MatchString(s) }

// Product is Cart's read-only copy of a catalog product, as of the product
// event of version Version. Only the Catalog changes products; Cart applies
// the changes it is told about, the newest version winning.
type Product struct {
	SKU        string
	Name       string
	PriceCents int64
	Currency   string
	Active     bool
	Version    int64
}

// ProductFromEvent validates a catalog.product_updated payload and returns
// the copy Cart keeps of it. An error means the event can never be applied
// (the consumer dead-letters it).
func ProductFromEvent(e catalogevents.ProductUpdatedV2) (Product, error) {
	switch {
	case !ValidSKU(e.SKU):
		return Product{}, fmt.Errorf("product: sku %s is not a SKU", quote(e.SKU))
	case strings.TrimSpace(e.Name) == "" && e.Active:
		// (An inactive product may come without a name: Cart only needs to
		// know it can no longer be bought.)
		return Product{}, fmt.Errorf("product %s: active without a name", e.SKU)
	case utf8.RuneCountInString(e.Name) > maxProductName:
		return Product{}, fmt.Errorf("product %s: name longer than %d characters", e.SKU, maxProductName)
	case strings.IndexFunc(e.Name, unicode.IsControl) >= 0:
		return Product{}, fmt.Errorf("product %s: name holds a control character", e.SKU)
	case e.PriceCents < 0:
		return Product{}, fmt.Errorf("product %s: negative price %d", e.SKU, e.PriceCents)
	case !currencyRE.MatchString(e.Currency):
		return Product{}, fmt.Errorf("product %s: currency %s is not an ISO 4217 code", e.SKU, quote(e.Currency))
	case e.Version < 1:
		return Product{}, fmt.Errorf("product %s: version %d, want >= 1", e.SKU, e.Version)
	}
	return Product{SKU: e.SKU, Name: e.Name, PriceCents: e.PriceCents, Currency: e.Currency, Active: e.Active, Version: e.Version}, nil
}

// Status is a cart's state: open, then checked out for good.
type Status string

const (
	StatusOpen       Status = "open"
	StatusCheckedOut Status = "checked_out"
)

// Line is one item of a cart: a SKU, a quantity, and the price the customer
// saw when they last set the line.
type Line struct {
	SKU                 string
	Quantity            int
	PriceWhenAddedCents int64
	CurrencyWhenAdded   string
	AddedAt             time.Time
	// Product is the product as the line shows it: for an open cart, Cart's
	// current copy (nil if it has none, which no line should meet: a line is
	// only added for a known product and copies are never deleted); for a
	// checked-out cart, the product as it was at checkout (the price paid).
	Product *Product
}

// Available reports whether the line's product can be bought.
func (l Line) Available() bool { return l.Product != nil && l.Product.Active }

// UnitPriceCents is the line's current unit price (the price at checkout,
// once checked out), or the price when added if the product is unknown.
func (l Line) UnitPriceCents() int64 {
	if l.Product == nil {
		return l.PriceWhenAddedCents
	}
	return l.Product.PriceCents
}

// Name is the product's name, or "" when unknown.
func (l Line) Name() string {
	if l.Product == nil {
		return ""
	}
	return l.Product.Name
}

// PriceChanged reports whether the unit price differs from the price the
// customer saw when they set the line (in amount or currency).
func (l Line) PriceChanged() bool {
	if l.Product == nil {
		return false
	}
	return l.Product.PriceCents != l.PriceWhenAddedCents || l.Product.Currency != l.CurrencyWhenAdded
}

// TotalCents is quantity × unit price.
func (l Line) TotalCents() int64 { return int64(l.Quantity) * l.UnitPriceCents() }

// Cart is a customer's cart. Its fields change only through its methods,
// which keep the invariants: a checked-out cart never changes again; every
// line has a quantity of 1 to 99; the lines of a cart share one currency.
type Cart struct {
	id            string
	customerEmail string
	status        Status
	orderID       string
	createdAt     time.Time
	updatedAt     time.Time
	checkedOutAt  time.Time
	lines         []Line
}

// NewCart returns an empty open cart. email is optional ("").
func NewCart(id, email string, now time.Time) (*Cart, error) {
	if email != "" {
		if err := ValidateEmail(email); err != nil {
			return nil, err
		}
	}
	return &Cart{id: id, customerEmail: email, status: StatusOpen, createdAt: now, updatedAt: now}, nil
}

// restoreCart rebuilds a cart from the store's rows.
func restoreCart(id, email string, status Status, orderID string, created, updated, checkedOut time.Time, lines []Line) *Cart {
	return &Cart{id: id, customerEmail: email, status: status, orderID: orderID,
		createdAt: created, updatedAt: updated, checkedOutAt: checkedOut, lines: lines}
}

func (c *Cart) ID() string              { return c.id }
func (c *Cart) CustomerEmail() string   { return c.customerEmail }
func (c *Cart) Status() Status          { return c.status }
func (c *Cart) OrderID() string         { return c.orderID }
func (c *Cart) CreatedAt() time.Time    { return c.createdAt }
func (c *Cart) UpdatedAt() time.Time    { return c.updatedAt }
func (c *Cart) CheckedOutAt() time.Time { return c.checkedOutAt }
func (c *Cart) Lines() []Line           { return slices.Clone(c.lines) }

// Currency is the currency of the cart's lines ("" while it is empty).
func (c *Cart) Currency() string {
	for _, l := range c.lines {
		if l.Product != nil {
			return l.Product.Currency
		}
	}
	return ""
}

// TotalCents is the sum of the line totals.
func (c *Cart) TotalCents() int64 {
	var sum int64
	for _, l := range c.lines {
		sum += l.TotalCents()
	}
	return sum
}

func (c *Cart) checkOpen() error {
	if c.status != StatusOpen {
		return fail(ErrConflict, "cart %s is checked out (order %s): it can no longer change", c.id, c.orderID)
	}
	return nil
}

// SetLine sets the quantity of the line of p.SKU at p's current price,
// adding the line if absent. p is nil when Cart's copy does not know sku.
// Setting a line again takes the product's current price as the price the
// customer saw. maxLines bounds the number of lines.
func (c *Cart) SetLine(sku string, p *Product, quantity, maxLines int, now time.Time) (Line, error) {
	if err := c.checkOpen(); err != nil {
		return Line{}, err
	}
	if quantity < MinQuantity || quantity > MaxQuantity {
		return Line{}, fail(ErrInvalid, "quantity %d: want %d to %d", quantity, MinQuantity, MaxQuantity)
	}
	if p == nil {
		return Line{}, fail(ErrRejected, "product %s is not in the catalog (yet)", sku)
	}
	if !p.Active {
		return Line{}, fail(ErrRejected, "product %s is not available: the catalog lists it as inactive", sku)
	}
	for _, l := range c.lines {
		if l.SKU != sku && l.Product != nil && l.Product.Currency != p.Currency {
			return Line{}, fail(ErrRejected, "product %s is priced in %s but the cart's other items are in %s: a cart holds one currency",
				sku, p.Currency, l.Product.Currency)
		}
	}
	i := slices.IndexFunc(c.lines, func(l Line) bool { return l.SKU == sku })
	if i < 0 {
		if len(c.lines) >= maxLines {
			return Line{}, fail(ErrRejected, "the cart has %d lines, the most it may hold: remove one first", len(c.lines))
		}
		c.lines = append(c.lines, Line{SKU: sku, AddedAt: now})
		i = len(c.lines) - 1
	}
	pc := *p
	l := &c.lines[i]
	l.Quantity, l.PriceWhenAddedCents, l.CurrencyWhenAdded, l.Product = quantity, p.PriceCents, p.Currency, &pc
	c.updatedAt = now
	return *l, nil
}

// RemoveLine removes the line of sku.
func (c *Cart) RemoveLine(sku string, now time.Time) error {
	if err := c.checkOpen(); err != nil {
		return err
	}
	i := slices.IndexFunc(c.lines, func(l Line) bool { return l.SKU == sku })
	if i < 0 {
		return fail(ErrNotFound, "cart %s has no line %s", c.id, sku)
	}
	c.lines = slices.Delete(c.lines, i, i+1)
	c.updatedAt = now
	return nil
}

// Checkout is what the customer gives at checkout.
type Checkout struct {
	// CustomerEmail may be empty when the cart has one.
	CustomerEmail   string
	ShippingAddress events.Address
	PaymentToken    string
}

// Validate checks the checkout's fields (not against the cart).
func (in Checkout) Validate() error {
	if in.CustomerEmail != "" {
		if err := ValidateEmail(in.CustomerEmail); err != nil {
			return err
		}
	}
	if err := ValidateAddress(in.ShippingAddress); err != nil {
		return err
	}
	return ValidatePaymentToken(in.PaymentToken)
}

// Checkout turns the open cart into an order request with id orderID, at
// the prices of the lines' products now (the prices the cart shows), and
// freezes it. It refuses an empty cart and a cart with a product that is
// unknown or inactive, or whose lines' currencies differ.
func (c *Cart) Checkout(in Checkout, orderID string, now time.Time) (events.CheckedOutV1, error) {
	if err := c.checkOpen(); err != nil {
		return events.CheckedOutV1{}, err
	}
	if err := in.Validate(); err != nil {
		return events.CheckedOutV1{}, err
	}
	email := in.CustomerEmail
	if email == "" {
		email = c.customerEmail
	}
	if email == "" {
		return events.CheckedOutV1{}, fail(ErrInvalid, "customer_email: required (the cart has none)")
	}
	if len(c.lines) == 0 {
		return events.CheckedOutV1{}, fail(ErrRejected, "cart %s is empty: add an item before checking out", c.id)
	}
	currency := c.Currency()
	items := make([]events.Item, 0, len(c.lines))
	for _, l := range c.lines {
		switch {
		case l.Product == nil:
			return events.CheckedOutV1{}, fail(ErrRejected, "product %s is not in the catalog: remove it from the cart", l.SKU)
		case !l.Product.Active:
			return events.CheckedOutV1{}, fail(ErrRejected, "product %s is no longer available: remove it from the cart", l.SKU)
		case l.Product.Currency != currency:
			return events.CheckedOutV1{}, fail(ErrRejected, "product %s is now priced in %s, other items in %s: a cart holds one currency",
				l.SKU, l.Product.Currency, currency)
		}
		items = append(items, events.Item{SKU: l.SKU, Name: l.Product.Name, Quantity: l.Quantity,
			UnitPriceCents: l.Product.PriceCents, ProductVersion: l.Product.Version})
	}
	c.status, c.orderID, c.customerEmail, c.checkedOutAt, c.updatedAt = StatusCheckedOut, orderID, email, now, now
	return events.CheckedOutV1{
		CartID:          c.id,
		OrderID:         orderID,
		CustomerEmail:   email,
		ShippingAddress: in.ShippingAddress,
		PaymentToken:    in.PaymentToken,
		Currency:        currency,
		Items:           items,
		CheckedOutAt:    now,
	}, nil
}

// ValidateEmail checks an email address, basically: one '@', a local part,
// a domain with a dot, no spaces, at most 254 bytes.
func ValidateEmail(s string) error {
	bad := func(why string) error {
		return fail(ErrInvalid, "customer_email %s: %s; want an address like name@example.com", quote(s), why)
	}
	if len(s) > maxEmailLen {
		return bad(fmt.Sprintf("longer than %d bytes", maxEmailLen))
	}
	if strings.Count(s, "@") != 1 {
		return bad("want exactly one '@'")
	}
	if i := strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }); i >= 0 {
		return bad("contains a space or control character")
	}
	local, domain, _ := strings.Cut(s, "@")
	switch {
	case local == "":
		return bad("nothing before the '@'")
	case len(local) > maxLocalPartLen:
		return bad(fmt.Sprintf("more than %d bytes before the '@'", maxLocalPartLen))
	case !strings.Contains(domain, "."):
		return bad("the domain has no dot")
	case strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.Contains(domain, ".."):
		return bad("the domain has an empty label")
	}
	return nil
}

// ValidateAddress checks a shipping address: name, line1, city and
// postal_code required, line2 optional, country two upper-case letters.
func ValidateAddress(a events.Address) error {
	for _, f := range []struct {
		name, value string
		required    bool
		max         int
	}{
		{"name", a.Name, true, maxAddressField},
		{"line1", a.Line1, true, maxAddressField},
		{"line2", a.Line2, false, maxAddressField},
		{"city", a.City, true, maxAddressField},
		{"postal_code", a.PostalCode, true, maxPostalCodeLen},
	} {
		if err := checkText("shipping_address."+f.name, f.value, f.required, f.max); err != nil {
			return err
		}
	}
	if !countryRE.MatchString(a.Country) {
		return fail(ErrInvalid, "shipping_address.country %s: want an ISO 3166-1 alpha-2 code of two upper-case letters, such as \"DE\"", quote(a.Country))
	}
	return nil
}

// ValidatePaymentToken checks the payment token: required, at most 64
// characters, no spaces or control characters.
func ValidatePaymentToken(s string) error {
	if s == "" {
		return fail(ErrInvalid, "payment_token: required")
	}
	if n := utf8.RuneCountInString(s); n > maxTokenLen {
		return fail(ErrInvalid, "payment_token: %d characters, at most %d", n, maxTokenLen)
	}
	if strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) || r == utf8.RuneError }) >= 0 {
		return fail(ErrInvalid, "payment_token: contains a space, control character or invalid UTF-8")
	}
	return nil
}

func checkText(field, s string, required bool, maxLen int) error {
	if strings.TrimSpace(s) == "" {
		switch {
		case required:
			return fail(ErrInvalid, "%s: required, not blank", field)
		case s != "":
			return fail(ErrInvalid, "%s: blank; leave it out or fill it in", field)
		}
		return nil
	}
	if n := utf8.RuneCountInString(s); n > maxLen || len(s) > maxAddressBytes {
		return fail(ErrInvalid, "%s: %d characters (%d bytes), at most %d characters and %d bytes", field, n, len(s), maxLen, maxAddressBytes)
	}
	if strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) || r == utf8.RuneError }) >= 0 {
		return fail(ErrInvalid, "%s: contains a control character or invalid UTF-8", field)
	}
	return nil
}

// quote quotes s for a message, cut to a readable length.
func quote(s string) string {
	const max = 64
	if utf8.RuneCountInString(s) > max {
		r := []rune(s)
		return fmt.Sprintf("%q…", string(r[:max]))
	}
	return fmt.Sprintf("%q", s)
}
