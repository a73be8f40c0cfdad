package contract_test

import (
	"encoding/json"
	"fmt"

	"github.com/bounded-dev/bounded/platform/contract"
)

func ExampleCheckReliances() {
	// The catalog's contract test: one example per published event type.
	updated, _ := contract.New("/services/catalog", "catalog.product_updated.v2", "p-1", map[string]any{
		"sku":               "A-1",
		"short_description": "Kettle",
		"long_description":  "1.7 l, stainless steel",
	})
	// Reliances published by the consumers.
	reliances := []contract.Reliance{
		contract.Relies("cart", "catalog.product_updated", "sku"),
		contract.Relies("inventory", "catalog.product_updated", "sku", "description"),
	}
	fmt.Println(contract.CheckReliances([]contract.Event{updated}, reliances))
	// Output:
	// inventory relies on catalog.product_updated.v2 field "description": missing
}

func ExampleRegistry_Decode() {
	type productV1 struct {
		Description string `json:"description"`
	}
	type productV2 struct {
		Short string `json:"short_description"`
		Long  string `json:"long_description"`
	}
	r := contract.NewRegistry()
	contract.Register[productV1](r, "catalog.product_updated", 1)
	contract.Register[productV2](r, "catalog.product_updated", 2)
	r.Upcaster("catalog.product_updated", 1, func(data []byte) ([]byte, error) {
		var v1 productV1
		if err := json.Unmarshal(data, &v1); err != nil {
			return nil, err
		}
		return json.Marshal(productV2{Short: v1.Description, Long: v1.Description})
	})

	old, _ := contract.New("/services/catalog", "catalog.product_updated.v1", "p-1", productV1{Description: "Kettle"})
	v, err := r.Decode(old)
	fmt.Printf("%T %+v %v\n", v, v, err)
	// Output:
	// contract_test.productV2 {Short:Kettle Long:Kettle} <nil>
}
