package orders_test

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/bounded-dev/bounded/platform/contract"
	"github.com/bounded-dev/bounded/platform/httpapi"
	cartevents "github.com/bounded-dev/bounded/services/cart/events"
	catalogevents "github.com/bounded-dev/bounded/services/catalog/events"
	"github.com/bounded-dev/bounded/services/orders"
)

// FuzzListQuery: GET /orders' query parsing never panics, rejects with
// ErrInvalid (a 400), and what it accepts is in range.
func FuzzListQuery(f *testing.F) {
	for _, s := range []string{"", "limit=1", "limit=500&status=paid", "customer_email=a%40b.c", "status=", "limit=%zz",
		"status=new", "x=1", "limit=1&limit=2", "customer_email=%00@x", "limit=-0", "limit=+5", ";", "&&=&"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := orders.ParseListQuery(raw)
		if err != nil {
			if !errors.Is(err, httpapi.ErrInvalid) || err.Error() == "" {
				t.Fatalf("%q: error %v is not ErrInvalid with a message", raw, err)
			}
			return
		}
		if q.Limit < 1 || q.Limit > 500 {
			t.Fatalf("%q: limit %d accepted", raw, q.Limit)
		}
		if q.Status != "" && !slices.Contains(orders.Statuses, q.Status) {
			t.Fatalf("%q: status %q accepted", raw, q.Status)
		}
		again, err := orders.ParseListQuery(raw)
		if err != nil || again != q {
			t.Fatalf("%q: parsed %+v, then %+v, %v", raw, q, again, err)
		}
	})
}

// FuzzCheckedOut: any cart.checked_out payload either fails to decode,
// fails validation (ErrInvalid), or becomes an order whose lines and total
// agree with it. Never a panic.
func FuzzCheckedOut(f *testing.F) {
	good, _ := json.Marshal(cartevents.CheckedOutV1{CartID: "c", OrderID: "0195a8f2-7c1e-7b3a-9d4e-2f6b8c0a1e37",
		CustomerEmail: "a@b.c", ShippingAddress: cartevents.Address{Name: "A", Line1: "L", City: "C", PostalCode: "P", Country: "GB"},
		PaymentToken: "t", Currency: "EUR", Items: []cartevents.Item{{SKU: "AB", Name: "n", Quantity: 2, UnitPriceCents: 5, ProductVersion: 1}}})
	f.Add(good)
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"items":[{"sku":"AB","quantity":-1}]}`))
	f.Add([]byte(`{"order_id":"0195a8f2-7c1e-7b3a-9d4e-2f6b8c0a1e37","items":[{"unit_price_cents":9223372036854775807,"quantity":10000}]}`))
	copies := map[string]orders.ProductCopy{"AB": {SKU: "AB", Name: "Ab", PriceCents: 7, Currency: "EUR", Active: true, Version: 2}}
	f.Fuzz(func(t *testing.T, data []byte) {
		e := contract.Event{ID: "x", Source: cartevents.Source, Type: "cart.checked_out.v1", Time: time.Now(), Data: data}
		c, err := contract.DecodeAs[cartevents.CheckedOutV1](cartevents.Registry(), e)
		if err != nil {
			return
		}
		o, err := orders.PlaceOrder(orders.CheckoutFromEvent(c), copies, time.Now())
		if err != nil {
			if !errors.Is(err, orders.ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		if len(o.Items()) != len(c.Items) {
			t.Fatalf("%d items from %d lines", len(o.Items()), len(c.Items))
		}
		var total int64
		for _, it := range o.Items() {
			if it.UnitPriceCents < 0 || it.Name == "" {
				t.Fatalf("item %+v", it)
			}
			total += it.LineTotalCents()
		}
		if total != o.TotalCents() || total < 0 {
			t.Fatalf("total %d, lines sum to %d", o.TotalCents(), total)
		}
		if s := o.Status(); s != orders.StatusConfirmed && s != orders.StatusCancelled {
			t.Fatalf("new order in status %s", s)
		}
	})
}

// FuzzProductUpdated: any catalog.product_updated payload, of either
// version, decodes or not, and its copy validates or not, without a panic.
func FuzzProductUpdated(f *testing.F) {
	f.Add(true, []byte(`{"sku":"AB-1","name":"n","price_cents":5,"currency":"EUR","active":true,"version":2}`))
	f.Add(false, []byte(`{"sku":"AB-1","description":"d","price_cents":5,"currency":"EUR","version":1}`))
	f.Add(true, []byte(`{"sku":"ab","price_cents":-1}`))
	f.Add(false, []byte(`[`))
	f.Fuzz(func(t *testing.T, v2 bool, data []byte) {
		typ := "catalog.product_updated.v1"
		if v2 {
			typ = "catalog.product_updated.v2"
		}
		e := contract.Event{ID: "x", Source: catalogevents.Source, Type: typ, Time: time.Now(), Data: data}
		p, err := contract.DecodeAs[catalogevents.ProductUpdatedV2](catalogevents.Registry(), e)
		if err != nil {
			return
		}
		cp := orders.ProductCopyFromEvent(p)
		if err := cp.Validate(); err != nil && !errors.Is(err, orders.ErrInvalid) {
			t.Fatalf("error %v is not ErrInvalid", err)
		}
	})
}

// FuzzOrderEvents: any Payments, Inventory or Fulfillment event applied to
// an order, in any sequence, decodes or not and applies or not (ErrInvalid,
// ErrImpossible, or a decoding error), and the order keeps the state
// machine's invariants.
func FuzzOrderEvents(f *testing.F) {
	types := []string{"payments.payment_captured.v1", "payments.payment_declined.v1", "inventory.reservation_confirmed.v1",
		"inventory.reservation_failed.v1", "fulfillment.shipment_dispatched.v1"}
	const id = `"order_id":"0195a8f2-7c1e-7b3a-9d4e-2f6b8c0a1e37"`
	f.Add([]byte{0, 2, 4}, []byte(`{`+id+`,"payment_id":"p","reservation_id":"r","shipment_id":"s"}`))
	f.Add([]byte{4, 2, 0, 1}, []byte(`{`+id+`,"payment_id":"p","reservation_id":"r","shipment_id":"s"}`))
	f.Add([]byte{3, 0}, []byte(`{`+id+`,"shortages":[{"sku":"A","requested":1}],"payment_id":"p"}`))
	f.Add([]byte{1}, []byte(`{`+id+`,"reason":"\u0000"}`))
	f.Add([]byte{0}, []byte(`{"order_id":7}`))
	f.Fuzz(func(t *testing.T, kinds []byte, data []byte) {
		o := newOrder(t)
		if len(kinds) > 16 {
			kinds = kinds[:16]
		}
		for _, k := range kinds {
			typ := types[int(k)%len(types)]
			before, n := o.Status(), len(o.Changes())
			err := orders.ApplyConsumed(contract.Event{ID: "x", Source: "/x", Type: typ, Time: time.Now(), Data: data}, o, time.Now())
			if err != nil {
				if o.Status() != before || len(o.Changes()) != n {
					t.Fatalf("%s failed (%v) but changed the order", typ, err)
				}
				if !errors.Is(err, orders.ErrInvalid) && !errors.Is(err, orders.ErrImpossible) && !errors.Is(err, contract.ErrMalformed) {
					t.Fatalf("%s: unexpected error %v", typ, err)
				}
			}
			checkInvariants(t, o)
		}
	})
}

// checkInvariants holds for every order: each status has what it needs,
// and the transitions chain from one status to the next along the state
// machine's edges.
func checkInvariants(t *testing.T, o *orders.Order) {
	t.Helper()
	switch o.Status() {
	case orders.StatusPaid:
		if !o.Paid() || o.Reserved() {
			t.Fatalf("paid: paid=%v reserved=%v", o.Paid(), o.Reserved())
		}
	case orders.StatusReserved:
		if !o.Paid() || !o.Reserved() || o.ShipmentID() != "" {
			t.Fatalf("reserved: paid=%v reserved=%v shipment=%q", o.Paid(), o.Reserved(), o.ShipmentID())
		}
	case orders.StatusShipped:
		if !o.Paid() || !o.Reserved() || o.ShipmentID() == "" {
			t.Fatalf("shipped without everything: paid=%v reserved=%v", o.Paid(), o.Reserved())
		}
	case orders.StatusCancelled:
		if o.CancelReason() == "" || o.CancelDetail() == "" {
			t.Fatal("cancelled without a reason")
		}
	}
	edges := map[orders.Status][]orders.Status{
		orders.StatusNew:       {orders.StatusConfirmed, orders.StatusCancelled},
		orders.StatusConfirmed: {orders.StatusPaid, orders.StatusCancelled},
		orders.StatusPaid:      {orders.StatusReserved, orders.StatusCancelled},
		orders.StatusReserved:  {orders.StatusShipped},
	}
	prev := orders.StatusNew
	for _, c := range o.Changes() {
		if c.From != prev || !slices.Contains(edges[c.From], c.To) {
			t.Fatalf("transition %s → %s after %s", c.From, c.To, prev)
		}
		prev = c.To
	}
	if prev != o.Status() {
		t.Fatalf("last transition to %s, status %s", prev, o.Status())
	}
}

func TestListQueryDefaults(t *testing.T) {
	for raw, want := range map[string]orders.ListQuery{
		"":                                 {Limit: 50},
		"status=&customer_email=&limit=":   {Limit: 50},
		"status=paid&limit=500":            {Status: orders.StatusPaid, Limit: 500},
		"customer_email=ada%40example.com": {CustomerEmail: "ada@example.com", Limit: 50},
	} {
		got, err := orders.ParseListQuery(raw)
		if err != nil || got != want {
			t.Errorf("%q: %+v, %v; want %+v", raw, got, err, want)
		}
	}
}
