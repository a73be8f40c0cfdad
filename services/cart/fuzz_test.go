package cart_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/bounded-dev/bounded/platform/contract"
	"github.com/bounded-dev/bounded/platform/httpapi"
	"github.com/bounded-dev/bounded/services/cart"
	catalogevents "github.com/bounded-dev/bounded/services/catalog/events"
)

// checkDecoder holds a request decoder (strict JSON + validation) to its
// contract on arbitrary input: no panic; the same answer every time; an
// error is a client error (400/413) with a message; and an accepted request
// survives a round trip (encoded again, it is accepted as the same value).
func checkDecoder(t *testing.T, decode func([]byte) (any, error), body []byte) {
	v, err := decode(body)
	v2, err2 := decode(body)
	if (err == nil) != (err2 == nil) || !reflect.DeepEqual(v, v2) {
		t.Fatalf("two decodings of %q differ: %v / %v", body, err, err2)
	}
	if err != nil {
		if !errors.Is(err, httpapi.ErrInvalid) && !errors.Is(err, httpapi.ErrTooLarge) && !errors.Is(err, cart.ErrInvalid) {
			t.Fatalf("%q: error %v is not a client error", body, err)
		}
		if err.Error() == "" {
			t.Fatalf("%q: empty error message", body)
		}
		return
	}
	again, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("%q: re-encode %#v: %v", body, v, err)
	}
	v3, err := decode(again)
	if err != nil {
		t.Fatalf("%q accepted, its re-encoding %s refused: %v", body, again, err)
	}
	if !reflect.DeepEqual(v, v3) {
		t.Fatalf("%q: round trip changed %#v into %#v", body, v, v3)
	}
}

func FuzzCreateCartRequest(f *testing.F) {
	for _, s := range []string{``, `{}`, `{"customer_email":"ada@example.com"}`, `{"customer_email":""}`,
		`{"customer_email":"a@b"}`, `{"customer_email":"a@@b.c"}`, `{"customer_email":7}`, `{"x":1}`, `null`, `[]`,
		`{"customer_email":"ada@example.com"} x`, `{"Customer_Email":"ada@example.com"}`, "{\"customer_email\":\"\xff@a.b\"}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) { checkDecoder(t, cart.DecodeCreateCartRequest, body) })
}

func FuzzSetItemRequest(f *testing.F) {
	for _, s := range []string{`{"quantity":1}`, `{"quantity":99}`, `{"quantity":0}`, `{"quantity":100}`, `{"quantity":-1}`,
		`{"quantity":1.5}`, `{"quantity":"1"}`, `{"quantity":null}`, `{}`, `{"quantity":1e2}`, `{"quantity":9223372036854775808}`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) { checkDecoder(t, cart.DecodeSetItemRequest, body) })
}

func FuzzCheckoutRequest(f *testing.F) {
	valid := `{"customer_email":"ada@example.com","shipping_address":{"name":"Ada","line1":"1 Main St","city":"London","postal_code":"SW1","country":"GB"},"payment_token":"tok_visa"}`
	for _, s := range []string{valid, ``, `{}`, `{"shipping_address":null,"payment_token":"t"}`,
		`{"shipping_address":{"name":"Ada","line1":"1","line2":" ","city":"L","postal_code":"1","country":"GB"},"payment_token":"t"}`,
		`{"shipping_address":{"name":"Ada","line1":"1","city":"L","postal_code":"1","country":"gb"},"payment_token":"t"}`,
		`{"shipping_address":{"name":"Ada","line1":"1","city":"L","postal_code":"1","country":"GB"},"payment_token":"tok visa"}`,
		`{"shipping_address":{"name":"Ada\u0000","line1":"1","city":"L","postal_code":"1","country":"GB"},"payment_token":"t"}`,
		`{"shipping_address":{"name":"Ada","line1":"1","city":"L","postal_code":"1","country":"GB"},"payment_token":"\ufffd"}`,
		`{"customer_email":"ada@x","shipping_address":{},"payment_token":""}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) { checkDecoder(t, cart.DecodeCheckoutRequest, body) })
}

// FuzzProductUpdated decodes arbitrary catalog.product_updated payloads (v1,
// upcast, and v2) as Cart's consumer does, and validates them as its
// handler does: no panic; a decoding error is a permanent contract error;
// a product Cart accepts is one it can store.
func FuzzProductUpdated(f *testing.F) {
	v2, _ := json.Marshal(product("KETTLE-17", "Kettle", 3999, "EUR", 4))
	v1, _ := json.Marshal(catalogevents.ProductUpdatedV1{SKU: "KETTLE-17", Name: "Kettle", Description: "d", PriceCents: 1, Currency: "EUR", Active: true, Version: 1})
	for _, s := range [][]byte{v2, v1, []byte(`{}`), []byte(`null`), []byte(`[]`), []byte(`{"sku":"A1","price_cents":"1"}`),
		[]byte(`{"sku":"A1","name":"n","price_cents":-1,"currency":"EUR","active":true,"version":1}`),
		[]byte(`{"sku":"A1","name":"n","price_cents":1,"currency":"EUR","active":true,"version":9223372036854775807}`),
		[]byte(`{"version":1e400}`), []byte(`{`)} {
		f.Add(uint8(1), s)
		f.Add(uint8(2), s)
	}
	reg := catalogevents.Registry()
	f.Fuzz(func(t *testing.T, version uint8, data []byte) {
		e := contract.Event{ID: "e1", Source: catalogevents.Source, Type: contract.TypeName(catalogevents.ProductUpdated, int(version%3)+1),
			Subject: "KETTLE-17", Time: time.Now(), Data: data}
		got, err := contract.DecodeAs[catalogevents.ProductUpdatedV2](reg, e)
		if err != nil {
			if !errors.Is(err, contract.ErrMalformed) && !errors.Is(err, contract.ErrUnknownVersion) {
				t.Fatalf("decode %s %q: %v is not a contract error (it would be retried, not dead-lettered)", e.Type, data, err)
			}
			return
		}
		p, err := cart.ProductFromEvent(got)
		if err != nil {
			return
		}
		if !cart.ValidSKU(p.SKU) || p.PriceCents < 0 || p.Version < 1 || len(p.Currency) != 3 || (p.Active && p.Name == "") {
			t.Fatalf("accepted a product Cart cannot keep: %+v", p)
		}
		if p2, err := cart.ProductFromEvent(got); err != nil || p2 != p {
			t.Fatalf("validation not deterministic: %+v %v", p2, err)
		}
	})
}
