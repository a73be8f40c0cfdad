package contract_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/bounded-dev/bounded/platform/contract"
)

// exampleEvent builds a producer's example event with raw JSON data.
func exampleEvent(tb testing.TB, typ, data string) contract.Event {
	tb.Helper()
	return MustNew(tb, "/services/catalog", typ, "p-1", json.RawMessage(data))
}

// violations splits a CheckReliances error into its messages.
func violations(err error) []string {
	if err == nil {
		return nil
	}
	return strings.Split(err.Error(), "\n")
}

// The story from the design: catalog v2 splits description into
// short_description and long_description; inventory still reads description.
func TestCheckReliancesCatalogSplit(t *testing.T) {
	const (
		v1           = `{"sku":"A-1","name":"Kettle","description":"1.7 l, steel"}`
		v2Split      = `{"sku":"A-1","name":"Kettle","short_description":"Kettle","long_description":"1.7 l, steel"}`
		v2Deprecated = `{"sku":"A-1","name":"Kettle","short_description":"Kettle","long_description":"1.7 l, steel","description":"1.7 l, steel"}`
	)
	inventory := contract.Relies("inventory", "catalog.product_updated", "sku", "description")
	cart := contract.Relies("cart", "catalog.product_updated", "sku", "name")

	tests := []struct {
		name     string
		examples []string // type=data pairs, split at the first '='
		want     []string
	}{
		{
			name:     "v1 has the field",
			examples: []string{"catalog.product_updated.v1=" + v1},
		},
		{
			name:     "v2 drops the field",
			examples: []string{"catalog.product_updated.v2=" + v2Split},
			want:     []string{`inventory relies on catalog.product_updated.v2 field "description": missing`},
		},
		{
			name:     "v2 keeps the deprecated field",
			examples: []string{"catalog.product_updated.v2=" + v2Deprecated},
		},
		{
			name:     "v1 still published beside a v2 that drops the field",
			examples: []string{"catalog.product_updated.v1=" + v1, "catalog.product_updated.v2=" + v2Split},
			want:     []string{`inventory relies on catalog.product_updated.v2 field "description": missing`},
		},
		{
			name:     "v2 sets the field to null",
			examples: []string{"catalog.product_updated.v2=" + `{"sku":"A-1","name":"Kettle","description":null}`},
			want:     []string{`inventory relies on catalog.product_updated.v2 field "description": null`},
		},
		{
			name:     "empty values are values",
			examples: []string{"catalog.product_updated.v2=" + `{"sku":"","name":"","description":""}`},
		},
		{
			name:     "producer stopped publishing the event",
			examples: []string{"catalog.product_created.v1=" + v1},
			want: []string{
				"inventory relies on catalog.product_updated: no example event of that name is published",
				"cart relies on catalog.product_updated: no example event of that name is published",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var examples []contract.Event
			for _, ex := range tt.examples {
				typ, data, _ := strings.Cut(ex, "=")
				examples = append(examples, exampleEvent(t, typ, data))
			}
			err := contract.CheckReliances(examples, []contract.Reliance{inventory, cart})
			got := violations(err)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("CheckReliances violations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestCheckReliancesPaths(t *testing.T) {
	const order = `{
		"order_id": "o-1",
		"price": {"cents": 0, "currency": "EUR", "discount": null},
		"paid": false,
		"items": [
			{"sku": "A-1", "qty": 1, "options": [{"code": "gift"}]},
			{"sku": "B-2", "qty": 2, "options": [{"code": "wrap"}, {"label": "x"}]}
		],
		"tags": [],
		"matrix": [[{"v": 1}], [{"v": 2}, {"w": 3}]],
		"holes": [{"sku": "A"}, null],
		"note": "n"
	}`
	tests := []struct {
		field string
		want  string // "" means the field holds
	}{
		{field: "order_id"},
		{field: "price.cents"},
		{field: "price.currency"},
		{field: "paid"},
		{field: "items"},
		{field: "items[]"},
		{field: "items[].sku"},
		{field: "items[].qty"},
		{field: "items[].options[]"},
		{field: "matrix[][]"},
		{field: "tags"},
		{field: "price.vat", want: "missing"},
		{field: "price.discount", want: "null"},
		{field: "price.discount.cents", want: "null"},
		{field: "customer.id", want: "missing"},
		{field: "note.text", want: "note is a string, not an object"},
		{field: "items.sku", want: "items is an array, not an object"},
		{field: "price[].cents", want: "price is an object, not an array"},
		{field: "items[].color", want: "missing at items[0].color"},
		{field: "items[].options[].code", want: "missing at items[1].options[1].code"},
		{field: "matrix[][].v", want: "missing at matrix[1][1].v"},
		{field: "tags[]", want: "tags is an empty array, so the example cannot show the field"},
		{field: "tags[].name", want: "tags is an empty array, so the example cannot show the field"},
		{field: "holes[].sku", want: "null at holes[1]"},
		{field: "matrix[][][]", want: "matrix[0][0] is an object, not an array"},
		{field: "Order_ID", want: "missing"},
		{field: "a..b", want: "segment 2 is empty"},
		{field: "", want: "empty path"},
		{field: "[]", want: "segment 1 is empty"},
	}
	example := exampleEvent(t, "orders.order_confirmed.v3", order)
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			err := contract.CheckReliances([]contract.Event{example},
				[]contract.Reliance{contract.Relies("fulfillment", "orders.order_confirmed", tt.field)})
			if tt.want == "" {
				if err != nil {
					t.Errorf("CheckReliances: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("CheckReliances succeeded, want %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("CheckReliances error %q does not contain %q", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), `fulfillment relies on `) || !strings.Contains(err.Error(), `field "`+tt.field+`"`) {
				t.Errorf("error %q does not name the consumer, event and field", err)
			}
		})
	}

	t.Run("root is not an object", func(t *testing.T) {
		err := contract.CheckReliances([]contract.Event{exampleEvent(t, "orders.order_confirmed.v3", `[1]`)},
			[]contract.Reliance{contract.Relies("fulfillment", "orders.order_confirmed", "order_id")})
		if err == nil || !strings.Contains(err.Error(), "the data is an array, not an object") {
			t.Errorf("CheckReliances = %v, want the data is not an object", err)
		}
	})
}

func TestCheckReliancesJoinsEveryViolation(t *testing.T) {
	examples := []contract.Event{
		exampleEvent(t, "orders.order_confirmed.v2", `{"order_id":"o-1"}`),
		exampleEvent(t, "orders.order_confirmed.v3", `{"order_id":"o-1","amount":{"cents":1}}`),
	}
	reliances := []contract.Reliance{
		contract.Relies("payments", "orders.order_confirmed", "order_id", "amount.cents", "amount.currency"),
		contract.Relies("inventory", "orders.order_confirmed", "items[].sku"),
	}
	want := []string{
		`payments relies on orders.order_confirmed.v2 field "amount.cents": missing`,
		`payments relies on orders.order_confirmed.v2 field "amount.currency": missing`,
		`payments relies on orders.order_confirmed.v3 field "amount.currency": missing`,
		`inventory relies on orders.order_confirmed.v2 field "items[].sku": missing`,
		`inventory relies on orders.order_confirmed.v3 field "items[].sku": missing`,
	}
	got := violations(contract.CheckReliances(examples, reliances))
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("violations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestCheckReliancesBadInput(t *testing.T) {
	good := exampleEvent(t, "orders.order_confirmed.v1", `{"order_id":"o-1"}`)
	badJSON := exampleEvent(t, "orders.order_paid.v1", `{}`)
	badJSON.Data = []byte(`{"order_id":`)
	trailing := exampleEvent(t, "orders.order_paid.v1", `{}`)
	trailing.Data = []byte(`{} {}`)
	notJSON := exampleEvent(t, "orders.order_paid.v1", `{}`)
	notJSON.DataContentType = "application/xml"
	badType := exampleEvent(t, "orders.order_paid.v1", `{}`)
	badType.Type = "OrderPaid"

	tests := []struct {
		name      string
		examples  []contract.Event
		reliances []contract.Reliance
		want      string
	}{
		{"example with bad JSON", []contract.Event{good, badJSON}, nil, "example orders.order_paid.v1: data:"},
		{"example with trailing data", []contract.Event{trailing}, nil, "trailing data"},
		{"example not JSON", []contract.Event{notJSON}, nil, `datacontenttype "application/xml" is not JSON`},
		{"example with bad type", []contract.Event{badType}, nil, `example 0: event type "OrderPaid"`},
		{"reliance without consumer", []contract.Event{good}, []contract.Reliance{contract.Relies("", "orders.order_confirmed", "order_id")}, "consumer is empty"},
		{"reliance on invalid name", []contract.Event{good}, []contract.Reliance{contract.Relies("payments", "OrderConfirmed", "order_id")}, `payments relies on "OrderConfirmed"`},
		{
			"reliance names a version",
			[]contract.Event{good},
			[]contract.Reliance{contract.Relies("payments", "orders.order_confirmed.v1", "order_id")},
			`names the event without its version: "orders.order_confirmed"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := contract.CheckReliances(tt.examples, tt.reliances)
			if err == nil {
				t.Fatalf("CheckReliances succeeded, want %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("CheckReliances error %q does not contain %q", err, tt.want)
			}
		})
	}

	if err := contract.CheckReliances(nil, nil); err != nil {
		t.Errorf("CheckReliances(nil, nil) = %v", err)
	}
	if err := contract.CheckReliances([]contract.Event{good}, []contract.Reliance{contract.Relies("payments", "orders.order_confirmed")}); err != nil {
		t.Errorf("reliance without fields on a published event: %v", err)
	}
}
