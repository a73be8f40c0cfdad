package payments_test

import (
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/bounded-dev/bounded/platform/contract"
	"github.com/bounded-dev/bounded/platform/httpapi"
	ordersevents "github.com/bounded-dev/bounded/services/orders/events"
	"github.com/bounded-dev/bounded/services/payments"
)

// FuzzOrderQuery: the query of GET /payments and GET /refunds never panics,
// is rejected only as a 400 (ErrInvalid), and what it accepts is a UUID that
// the same query, re-encoded, yields again.
func FuzzOrderQuery(f *testing.F) {
	for _, seed := range []string{"", "order_id=", "order_id=0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
		"order_id=42", "order_id=a&order_id=b", "order_id=%zz", "x=1", "order_id=0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b&x",
		"order_id=%7B0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b%7D", "order_id=urn:uuid:0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", ";"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return // the handler answers 400 before parseOrderQuery
		}
		id, err := payments.ParseOrderQuery(q)
		if err != nil {
			if !errors.Is(err, httpapi.ErrInvalid) || err.Error() == "" {
				t.Fatalf("%q: error %v is not an ErrInvalid with a message", raw, err)
			}
			return
		}
		if _, perr := uuid.Parse(id); perr != nil || len(id) != 36 {
			t.Fatalf("%q: accepted %q, not a UUID", raw, id)
		}
		again, err := payments.ParseOrderQuery(url.Values{"order_id": {id}})
		if err != nil || again != id {
			t.Fatalf("%q: accepted %q, then %q, %v", raw, id, again, err)
		}
	})
}

// FuzzDecodeOrderEvents: decoding a consumed event (any type name, any
// data) never panics; a decoded order_confirmed either becomes a payment or
// is refused as ErrInvalid (the handler dead-letters it), consistently.
func FuzzDecodeOrderEvents(f *testing.F) {
	good, _ := contract.New(ordersevents.Source, "orders.order_confirmed.v1", "o", ordersevents.OrderConfirmedV1{
		OrderID: "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", PaymentToken: "tok_approve", Currency: "EUR", TotalCents: 100})
	f.Add("orders.order_confirmed.v1", good.Data)
	f.Add("orders.order_confirmed.v1", []byte(`{"order_id":"0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b","total_cents":-1,"currency":"EUR"}`))
	f.Add("orders.order_confirmed.v1", []byte(`{"total_cents":"lots"}`))
	f.Add("orders.order_confirmed.v2", []byte(`{}`))
	f.Add("orders.order_cancelled.v1", []byte(`{"order_id":"x","reason":"out_of_stock"}`))
	f.Add("orders.order_cancelled.v1", []byte(`null`))
	f.Add("orders.nope.v1", []byte(`[`))
	f.Add("garbage", []byte{0xff, 0})
	reg := ordersevents.Registry()
	f.Fuzz(func(t *testing.T, typ string, data []byte) {
		e := contract.Event{ID: "e", Source: ordersevents.Source, Type: typ, Time: time.Now(), Data: data}
		oc, err := contract.DecodeAs[ordersevents.OrderConfirmedV1](reg, e)
		if err == nil {
			p1, err1 := payments.NewPayment(oc.OrderID, oc.PaymentToken, oc.TotalCents, oc.Currency, time.Now())
			_, err2 := payments.NewPayment(oc.OrderID, oc.PaymentToken, oc.TotalCents, oc.Currency, time.Now())
			if (err1 == nil) != (err2 == nil) {
				t.Fatalf("inconsistent: %v vs %v", err1, err2)
			}
			if err1 != nil && !errors.Is(err1, payments.ErrInvalid) {
				t.Fatalf("NewPayment(%+v): %v is not ErrInvalid", oc, err1)
			}
			if err1 == nil && (p1.ID() == "" || (p1.Status() != payments.StatusPending && p1.Status() != payments.StatusCaptured)) {
				t.Fatalf("NewPayment(%+v) = %s %s", oc, p1.ID(), p1.Status())
			}
		}
		_, _ = contract.DecodeAs[ordersevents.OrderCancelledV1](reg, e)
	})
}
