package orders_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/bounded-dev/bounded/services/orders"
	paymentsevents "github.com/bounded-dev/bounded/services/payments/events"
)

var at = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

func newOrder(t testing.TB) *orders.Order {
	t.Helper()
	o, err := orders.PlaceOrder(orders.Checkout{OrderID: "0195a8f2-7c1e-7b3a-9d4e-2f6b8c0a1e37", CartID: "cart-1",
		CustomerEmail: "ada@example.com", Address: orders.Address{Name: "Ada", Line1: "1 Road", City: "London", PostalCode: "N1", Country: "GB"},
		PaymentToken: "tok", Currency: "EUR",
		Lines: []orders.CheckoutLine{{SKU: "KETTLE-17", Name: "Kettle", Quantity: 2, UnitPriceCents: 1500, ProductVersion: 1}}},
		nil, at)
	if err != nil {
		t.Fatal(err)
	}
	if o.Status() != orders.StatusConfirmed || o.TotalCents() != 3000 {
		t.Fatalf("new order: %s, total %d", o.Status(), o.TotalCents())
	}
	return o
}

func transitions(o *orders.Order) []orders.Status {
	var out []orders.Status
	for _, c := range o.Changes() {
		out = append(out, c.To)
	}
	return out
}

// Every order in which the capture, the reservation and the dispatch can
// arrive ends shipped, through paid and reserved, each transition once.
func TestEveryArrivalOrderShips(t *testing.T) {
	steps := map[string]func(o *orders.Order) error{
		"capture":  func(o *orders.Order) error { return o.CapturePayment("pay", at, "c") },
		"reserve":  func(o *orders.Order) error { return o.ConfirmReservation("res", at, "r") },
		"dispatch": func(o *orders.Order) error { return o.DispatchShipment("ship", at, "d") },
	}
	for _, perm := range [][]string{
		{"capture", "reserve", "dispatch"}, {"capture", "dispatch", "reserve"}, {"reserve", "capture", "dispatch"},
		{"reserve", "dispatch", "capture"}, {"dispatch", "capture", "reserve"}, {"dispatch", "reserve", "capture"},
	} {
		o := newOrder(t)
		for _, step := range perm {
			if err := steps[step](o); err != nil {
				t.Fatalf("%v: %s: %v", perm, step, err)
			}
			if err := steps[step](o); err != nil { // a duplicate is a no-op
				t.Fatalf("%v: %s again: %v", perm, step, err)
			}
		}
		want := []orders.Status{orders.StatusConfirmed, orders.StatusPaid, orders.StatusReserved, orders.StatusShipped}
		if got := transitions(o); o.Status() != orders.StatusShipped || !slices.Equal(got, want) {
			t.Errorf("%v: status %s, transitions %v, want %v", perm, o.Status(), got, want)
		}
	}
}

func TestCancellations(t *testing.T) {
	o := newOrder(t)
	if err := o.ConfirmReservation("res", at, "r"); err != nil {
		t.Fatal(err)
	}
	if err := o.DeclinePayment("pay", "card_declined", at); err != nil {
		t.Fatal(err)
	}
	if o.Status() != orders.StatusCancelled || o.CancelReason() != "payment_declined" {
		t.Fatalf("declined: %s %s", o.Status(), o.CancelReason())
	}
	// Late news of a cancelled order changes nothing.
	for _, f := range []func() error{
		func() error { return o.CapturePayment("pay", at, "c") },
		func() error { return o.DeclinePayment("pay", "again", at) },
		func() error { return o.FailReservation("out_of_stock", nil, at) },
	} {
		if err := f(); err != nil {
			t.Fatal(err)
		}
	}
	if o.Paid() || o.Status() != orders.StatusCancelled || len(o.Changes()) != 2 {
		t.Fatalf("after late events: %s paid=%v changes %v", o.Status(), o.Paid(), transitions(o))
	}
	if err := o.DispatchShipment("ship", at, "d"); !errors.Is(err, orders.ErrImpossible) {
		t.Fatalf("dispatch of a cancelled order: %v", err)
	}

	o = newOrder(t)
	if err := o.CapturePayment("pay", at, "c"); err != nil {
		t.Fatal(err)
	}
	if err := o.FailReservation("out_of_stock", []orders.Shortage{{SKU: "KETTLE-17", Requested: 2, Available: 1}}, at); err != nil {
		t.Fatal(err)
	}
	if o.Status() != orders.StatusCancelled || o.CancelDetail() != "out of stock: KETTLE-17 (requested 2, available 1)" {
		t.Fatalf("out of stock: %s %q", o.Status(), o.CancelDetail())
	}
	if c := o.Changes(); c[len(c)-1].From != orders.StatusPaid {
		t.Fatalf("cancelled from %s, want paid", c[len(c)-1].From)
	}

	// A payment declined, then charged after all (and refunded by
	// Payments), its two events applied in the other order: cancelled, as
	// in stream order.
	o = newOrder(t)
	for _, f := range []func() error{
		func() error { return o.ConfirmReservation("res", at, "r") },
		func() error { return o.CapturePayment("pay", at, "c") },
		func() error { return o.DeclinePayment("pay", "gateway_unavailable", at) },
	} {
		if err := f(); err != nil {
			t.Fatal(err)
		}
	}
	if o.Status() != orders.StatusCancelled || o.CancelReason() != "payment_declined" {
		t.Fatalf("capture, then the decline of the same payment: %s %s", o.Status(), o.CancelReason())
	}
}

func TestImpossibleTransitions(t *testing.T) {
	for name, tc := range map[string]struct {
		before []func(o *orders.Order) error
		then   func(o *orders.Order) error
	}{
		"decline after capture of another payment": {
			[]func(o *orders.Order) error{func(o *orders.Order) error { return o.CapturePayment("pay", at, "c") }},
			func(o *orders.Order) error { return o.DeclinePayment("pay-2", "no", at) }},
		"decline after dispatch": {
			[]func(o *orders.Order) error{func(o *orders.Order) error { return o.DispatchShipment("ship", at, "d") }},
			func(o *orders.Order) error { return o.DeclinePayment("pay", "no", at) }},
		"decline of the captured payment after dispatch": {
			[]func(o *orders.Order) error{
				func(o *orders.Order) error { return o.ConfirmReservation("res", at, "r") },
				func(o *orders.Order) error { return o.CapturePayment("pay", at, "c") },
				func(o *orders.Order) error { return o.DispatchShipment("ship", at, "d") }},
			func(o *orders.Order) error { return o.DeclinePayment("pay", "no", at) }},
		"second payment": {
			[]func(o *orders.Order) error{func(o *orders.Order) error { return o.CapturePayment("pay", at, "c") }},
			func(o *orders.Order) error { return o.CapturePayment("pay-2", at, "c") }},
		"failed after confirmed reservation": {
			[]func(o *orders.Order) error{func(o *orders.Order) error { return o.ConfirmReservation("res", at, "r") }},
			func(o *orders.Order) error { return o.FailReservation("out_of_stock", nil, at) }},
		"failed after dispatch": {
			[]func(o *orders.Order) error{func(o *orders.Order) error { return o.DispatchShipment("ship", at, "d") }},
			func(o *orders.Order) error { return o.FailReservation("out_of_stock", nil, at) }},
		"second reservation": {
			[]func(o *orders.Order) error{func(o *orders.Order) error { return o.ConfirmReservation("res", at, "r") }},
			func(o *orders.Order) error { return o.ConfirmReservation("res-2", at, "r") }},
		"second shipment": {
			[]func(o *orders.Order) error{func(o *orders.Order) error { return o.DispatchShipment("ship", at, "d") }},
			func(o *orders.Order) error { return o.DispatchShipment("ship-2", at, "d") }},
	} {
		o := newOrder(t)
		for _, f := range tc.before {
			if err := f(o); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		status, n := o.Status(), len(o.Changes())
		if err := tc.then(o); !errors.Is(err, orders.ErrImpossible) {
			t.Errorf("%s: %v, want ErrImpossible", name, err)
		}
		if o.Status() != status || len(o.Changes()) != n {
			t.Errorf("%s: applied anyway: %s, %v", name, o.Status(), transitions(o))
		}
	}
}

func TestPlaceOrderPrices(t *testing.T) {
	base := orders.Checkout{OrderID: "0195a8f2-7c1e-7b3a-9d4e-2f6b8c0a1e37", CartID: "c", CustomerEmail: "a@b.c",
		Address: orders.Address{Name: "A", Line1: "L", City: "C", PostalCode: "P", Country: "GB"}, PaymentToken: "t", Currency: "EUR"}
	copies := map[string]orders.ProductCopy{
		"NEWER":    {SKU: "NEWER", Name: "Newer", PriceCents: 200, Currency: "EUR", Active: true, Version: 3},
		"SAME":     {SKU: "SAME", Name: "Same", PriceCents: 999, Currency: "EUR", Active: true, Version: 2},
		"OLDER":    {SKU: "OLDER", Name: "Older", PriceCents: 999, Currency: "EUR", Active: true, Version: 1},
		"OFF-NEW":  {SKU: "OFF-NEW", Currency: "EUR", Active: false, Version: 5},
		"OFF-OLD":  {SKU: "OFF-OLD", Currency: "EUR", Active: false, Version: 1},
		"USD-NEW":  {SKU: "USD-NEW", Name: "D", PriceCents: 1, Currency: "USD", Active: true, Version: 5},
		"HUGE-ONE": {SKU: "HUGE-ONE", Name: "H", PriceCents: 1 << 62, Currency: "EUR", Active: true, Version: 9},
	}
	l := func(sku string, version int64) orders.CheckoutLine {
		return orders.CheckoutLine{SKU: sku, Name: "cart " + sku, Quantity: 1, UnitPriceCents: 100, ProductVersion: version}
	}
	for _, tc := range []struct {
		line   orders.CheckoutLine
		price  int64
		status orders.Status
	}{
		{l("NEWER", 2), 200, orders.StatusConfirmed},
		{l("SAME", 2), 100, orders.StatusConfirmed},
		{l("OLDER", 2), 100, orders.StatusConfirmed},
		{l("NONE", 1), 100, orders.StatusConfirmed},
		{l("NONE", 0), 100, orders.StatusCancelled},
		{l("OFF-NEW", 2), 0, orders.StatusCancelled},   // the newer copy prices it; without a name, the cart's stays
		{l("OFF-OLD", 2), 100, orders.StatusConfirmed}, // the cart saw it active later
		{l("USD-NEW", 2), 1, orders.StatusCancelled},
	} {
		c := base
		c.Lines = []orders.CheckoutLine{tc.line}
		o, err := orders.PlaceOrder(c, copies, at)
		if err != nil {
			t.Fatalf("%s: %v", tc.line.SKU, err)
		}
		if o.Status() != tc.status || o.Items()[0].UnitPriceCents != tc.price || o.Items()[0].Name == "" {
			t.Errorf("%s v%d: %s at %d (%q), want %s at %d", tc.line.SKU, tc.line.ProductVersion, o.Status(), o.Items()[0].UnitPriceCents, o.Items()[0].Name, tc.status, tc.price)
		}
	}
	c := base
	c.Lines = []orders.CheckoutLine{l("HUGE-ONE", 1), {SKU: "NONE", Name: "n", Quantity: 10_000, UnitPriceCents: 1 << 62, ProductVersion: 1}}
	if _, err := orders.PlaceOrder(c, copies, at); !errors.Is(err, orders.ErrInvalid) {
		t.Fatalf("an overflowing total: %v", err)
	}
}

func TestCheckoutValidation(t *testing.T) {
	valid := func() orders.Checkout {
		return orders.Checkout{OrderID: "0195a8f2-7c1e-7b3a-9d4e-2f6b8c0a1e37", CartID: "cart-1", CustomerEmail: "ada@example.com",
			Address:      orders.Address{Name: "Ada", Line1: "1 Road", City: "London", PostalCode: "N1", Country: "GB"},
			PaymentToken: "tok", Currency: "EUR",
			Lines: []orders.CheckoutLine{{SKU: "KETTLE-17", Name: "Kettle", Quantity: 1, UnitPriceCents: 1, ProductVersion: 1}}}
	}
	if err := valid().Validate(); err != nil {
		t.Fatal(err)
	}
	for want, breakIt := range map[string]func(c *orders.Checkout){
		"order_id":                  func(c *orders.Checkout) { c.OrderID = "42" },
		"cart_id":                   func(c *orders.Checkout) { c.CartID = "" },
		"customer_email: required":  func(c *orders.Checkout) { c.CustomerEmail = "" },
		"not an email":              func(c *orders.Checkout) { c.CustomerEmail = "ada" },
		"control characters":        func(c *orders.Checkout) { c.CustomerEmail = "a\x00@b.c" },
		"UTF-8":                     func(c *orders.Checkout) { c.Address.City = "\xff" },
		"shipping_address.name":     func(c *orders.Checkout) { c.Address.Name = "" },
		"longer than":               func(c *orders.Checkout) { c.Address.Line2 = strings.Repeat("x", 201) },
		"shipping_address.country":  func(c *orders.Checkout) { c.Address.Country = "gb" },
		"payment_token":             func(c *orders.Checkout) { c.PaymentToken = "" },
		"currency":                  func(c *orders.Checkout) { c.Currency = "eur" },
		"items: 0 lines":            func(c *orders.Checkout) { c.Lines = nil },
		"items[0].sku":              func(c *orders.Checkout) { c.Lines[0].SKU = "k" },
		"on two lines":              func(c *orders.Checkout) { c.Lines = append(c.Lines, c.Lines[0]) },
		"items[0].quantity":         func(c *orders.Checkout) { c.Lines[0].Quantity = 10_001 },
		"items[0].unit_price_cents": func(c *orders.Checkout) { c.Lines[0].UnitPriceCents = -1 },
		"items[0].product_version":  func(c *orders.Checkout) { c.Lines[0].ProductVersion = -1 },
		"items[0].name":             func(c *orders.Checkout) { c.Lines[0].Name = "" },
		"200 characters":            func(c *orders.Checkout) { c.Lines[0].Name = strings.Repeat("κ", 201) },
	} {
		c := valid()
		breakIt(&c)
		err := c.Validate()
		if !errors.Is(err, orders.ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v", want, err)
		}
		if _, err := orders.PlaceOrder(c, nil, at); !errors.Is(err, orders.ErrInvalid) {
			t.Errorf("%s: PlaceOrder: %v", want, err)
		}
	}
}

// TestTakesEveryNameCatalogPublishes: Catalog limits names to 200
// characters, not bytes; a 200-character Greek name (400 bytes) must make an
// order, not a dead letter.
func TestTakesEveryNameCatalogPublishes(t *testing.T) {
	c := orders.Checkout{OrderID: "0195a8f2-7c1e-7b3a-9d4e-2f6b8c0a1e37", CartID: "cart-1", CustomerEmail: "ada@example.com",
		Address:      orders.Address{Name: "Ada", Line1: "1 Road", City: "London", PostalCode: "N1", Country: "GB"},
		PaymentToken: "tok", Currency: "EUR",
		Lines: []orders.CheckoutLine{{SKU: "KETTLE-17", Name: strings.Repeat("κ", 200), Quantity: 1, UnitPriceCents: 1, ProductVersion: 1}}}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	p := orders.ProductCopy{SKU: "AB-1", Name: strings.Repeat("日", 200), PriceCents: 1, Currency: "EUR", Active: true, Version: 1}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestProductCopyValidation(t *testing.T) {
	ok := orders.ProductCopy{SKU: "AB-1", Name: "n", PriceCents: 1, Currency: "EUR", Active: true, Version: 1}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	inactive := ok
	inactive.Active, inactive.Name = false, "" // a withdrawn product may come without a name
	if err := inactive.Validate(); err != nil {
		t.Fatal(err)
	}
	for want, breakIt := range map[string]func(p *orders.ProductCopy){
		"not a SKU": func(p *orders.ProductCopy) { p.SKU = "ab" },
		"currency":  func(p *orders.ProductCopy) { p.Currency = "" },
		"negative":  func(p *orders.ProductCopy) { p.PriceCents = -5 },
		"version":   func(p *orders.ProductCopy) { p.Version = 0 },
		"name":      func(p *orders.ProductCopy) { p.Name = "" },
	} {
		p := ok
		breakIt(&p)
		if err := p.Validate(); !errors.Is(err, orders.ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v", want, err)
		}
	}
}

// A decline cancels the order whatever the gateway's reason says: Payments
// passes the reason on as the gateway gave it (cut to 200 bytes), and a
// decline refused for its wording would be dead-lettered, leaving the order
// confirmed and its stock reserved for good.
func TestDeclineCancelsWhateverTheReason(t *testing.T) {
	for _, reason := range []string{
		"do_not_honor\n(issuer code 05)",
		"declined\tby issuer\x00",
		"\xffinvalid UTF-8",
		strings.Repeat("é", 100), // 200 bytes, as Payments cuts it
	} {
		o := newOrder(t)
		e, err := paymentsevents.NewPaymentDeclined(paymentsevents.PaymentDeclinedV1{PaymentID: "0195a8f3-1b2c-7d4e-8f60-718293a4b5c6",
			OrderID: o.ID(), AmountCents: o.TotalCents(), Currency: "EUR", Reason: reason, Attempts: 1, DeclinedAt: at})
		if err != nil {
			t.Fatal(err)
		}
		if err := orders.ApplyConsumed(e, o, at); err != nil {
			t.Errorf("reason %q: %v", reason, err)
			continue
		}
		if o.Status() != orders.StatusCancelled || o.CancelReason() != "payment_declined" {
			t.Errorf("reason %q: order %s (%s), want cancelled: payment_declined", reason, o.Status(), o.CancelReason())
		}
		if d := o.CancelDetail(); strings.ContainsFunc(d, func(r rune) bool { return r < 0x20 || r == 0x7f }) || !utf8.ValidString(d) {
			t.Errorf("reason %q: detail %q is not storable text", reason, d)
		}
	}
}
