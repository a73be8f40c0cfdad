package events_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/bounded-dev/bounded/platform/contract"
	"github.com/bounded-dev/bounded/platform/testenv"
	cart "github.com/bounded-dev/bounded/services/cart/events"
	"github.com/bounded-dev/bounded/services/catalog/events"
	fulfillment "github.com/bounded-dev/bounded/services/fulfillment/events"
	inventory "github.com/bounded-dev/bounded/services/inventory/events"
	orders "github.com/bounded-dev/bounded/services/orders/events"
	payments "github.com/bounded-dev/bounded/services/payments/events"
	reporting "github.com/bounded-dev/bounded/services/reporting/events"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// consumerReliances are the reliances every other service of the shop
// declares on Catalog's events (Cart, Orders and Inventory read
// product_updated; Fulfillment and Payments nothing of Catalog's today, but
// they are asked, so that a reliance they add is checked at once). A new
// service's Reliances belongs here too. Reliances on other producers' events
// are left out: those producers check them.
func consumerReliances() []contract.Reliance {
	var all []contract.Reliance
	for _, rs := range [][]contract.Reliance{cart.Reliances(), orders.Reliances(), inventory.Reliances(),
		fulfillment.Reliances(), payments.Reliances(), reporting.Reliances()} {
		all = append(all, rs...)
	}
	var out []contract.Reliance
	for _, r := range all {
		if producer, _, _ := strings.Cut(r.Event, "."); producer == "catalog" {
			out = append(out, r)
		}
	}
	return out
}

// TestConsumersReliancesHold is the check that keeps the incident from
// shipping: every field another service reads from Catalog's events must be
// in every version Catalog may publish. A Catalog change that drops one (the
// deprecated description Inventory's purchase orders still read) fails here,
// in Catalog's build, instead of emptying the shelves.
func TestConsumersReliancesHold(t *testing.T) {
	rel := consumerReliances()
	if !slices.ContainsFunc(rel, func(r contract.Reliance) bool {
		return r.Consumer == "inventory" && r.Event == events.ProductUpdated && slices.Contains(r.Fields, "description")
	}) {
		t.Fatalf("Inventory's reliance on %s description is not among the checked reliances %v", events.ProductUpdated, rel)
	}
	for _, consumer := range []string{"cart", "orders", "inventory", "reporting"} {
		if !slices.ContainsFunc(rel, func(r contract.Reliance) bool { return r.Consumer == consumer }) {
			t.Errorf("%s consumes %s but declares no reliance on it", consumer, events.ProductUpdated)
		}
	}
	if err := contract.CheckReliances(events.Examples(), rel); err != nil {
		t.Fatalf("a consumer relies on a field Catalog does not publish:\n%v", err)
	}
	if err := checkPopulated(events.Examples(), rel); err != nil {
		t.Fatalf("a consumer relies on a field Catalog publishes empty:\n%v", err)
	}
}

// TestIncidentRemovingDescriptionFailsTheBuild replays the incident: a
// developer removes the deprecated description from product_updated (from
// v2, the version published now, and from v1, should a deployment still
// publish it). The contract check must fail and name Inventory and the
// field; if this test fails, TestConsumersReliancesHold no longer protects
// Inventory.
func TestIncidentRemovingDescriptionFailsTheBuild(t *testing.T) {
	for _, version := range events.ProductVersions() {
		t.Run(fmt.Sprintf("v%d", version), func(t *testing.T) {
			ex := withData(t, events.Examples(), contract.TypeName(events.ProductUpdated, version), func(m map[string]any) {
				delete(m, "description")
			})
			err := contract.CheckReliances(ex, consumerReliances())
			if err == nil {
				t.Fatal("CheckReliances passed product_updated without description, which Inventory relies on")
			}
			for _, want := range []string{"inventory", `"description"`, "missing"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("the error does not name %s: %v", want, err)
				}
			}
		})
	}
}

// TestIncidentEmptyDescriptionFailsTheBuild: the quieter form of the same
// change keeps the key but stops filling it (Description: ""). The
// toolkit's CheckReliances takes "" as a value, so checkPopulated adds what
// it cannot know: Catalog's examples have every relied-upon string filled.
func TestIncidentEmptyDescriptionFailsTheBuild(t *testing.T) {
	ex := withData(t, events.Examples(), contract.TypeName(events.ProductUpdated, 2), func(m map[string]any) {
		m["description"] = ""
	})
	err := checkPopulated(ex, consumerReliances())
	if err == nil || !strings.Contains(err.Error(), "inventory") || !strings.Contains(err.Error(), `"description"`) {
		t.Fatalf("checkPopulated = %v, want an error naming inventory and description", err)
	}
}

// TestConsumersCannotRelyOnWhatIsNotPublished: the check also fails a
// reliance on a field no version carries, so it is not vacuous.
func TestConsumersCannotRelyOnWhatIsNotPublished(t *testing.T) {
	bogus := contract.Relies("someone", events.ProductUpdated, "weight_grams")
	if err := contract.CheckReliances(events.Examples(), append(consumerReliances(), bogus)); err == nil ||
		!strings.Contains(err.Error(), "weight_grams") {
		t.Fatalf("CheckReliances = %v, want an error about weight_grams", err)
	}
}

// checkPopulated reports every relied-upon field that is an empty string in
// an example: an example that publishes "" cannot show that the field is
// filled.
func checkPopulated(examples []contract.Event, reliances []contract.Reliance) error {
	var problems []string
	for _, e := range examples {
		name, _, err := contract.ParseType(e.Type)
		if err != nil {
			return err
		}
		var data map[string]any
		if err := json.Unmarshal(e.Data, &data); err != nil {
			return fmt.Errorf("example %s: %w", e.Type, err)
		}
		for _, r := range reliances {
			if r.Event != name {
				continue
			}
			for _, f := range r.Fields {
				if v, ok := data[f].(string); ok && v == "" { // Catalog's events are flat
					problems = append(problems, fmt.Sprintf("%s relies on %s field %q: empty in the example", r.Consumer, e.Type, f))
				}
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "\n"))
	}
	return nil
}

// withData returns a copy of examples in which the data of the example of
// type typ went through edit.
func withData(t *testing.T, examples []contract.Event, typ string, edit func(map[string]any)) []contract.Event {
	t.Helper()
	out := slices.Clone(examples)
	found := false
	for i, e := range out {
		if e.Type != typ {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(e.Data, &m); err != nil {
			t.Fatal(err)
		}
		edit(m)
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		out[i].Data, found = b, true
	}
	if !found {
		t.Fatalf("no example of %s", typ)
	}
	return out
}

// Examples hold every type Catalog may publish, each once, valid and
// decodable.
func TestExamplesCoverEveryPublishedType(t *testing.T) {
	var want []string
	for _, v := range events.ProductVersions() {
		want = append(want, contract.TypeName(events.ProductUpdated, v))
	}
	want = append(want, contract.TypeName(events.CategoryUpdated, 1))
	var got []string
	reg := events.Registry()
	for _, e := range events.Examples() {
		got = append(got, e.Type)
		if err := e.Validate(); err != nil {
			t.Errorf("example %s: %v", e.Type, err)
		}
		if _, err := reg.Decode(e); err != nil {
			t.Errorf("example %s does not decode: %v", e.Type, err)
		}
		if e.Source != events.Source || e.Subject == "" {
			t.Errorf("example %s: source %q subject %q", e.Type, e.Source, e.Subject)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("example types %v, want %v", got, want)
	}
	if !slices.Equal(reg.Types(), want) {
		t.Fatalf("registry types %v, want %v (a registered version without an example is not checked)", reg.Types(), want)
	}
}

// The v1 example upcasts to exactly the v2 example: the example product's
// short description is the first sentence of its long one, so nothing is
// lost, and the deprecated description equals the long one in both.
func TestV1UpcastsToTheV2View(t *testing.T) {
	reg := events.Registry()
	views := map[string]events.ProductUpdatedV2{}
	for _, e := range events.Examples() {
		if name, _, _ := contract.ParseType(e.Type); name != events.ProductUpdated {
			continue
		}
		v, err := contract.DecodeAs[events.ProductUpdatedV2](reg, e)
		if err != nil {
			t.Fatal(err)
		}
		if v.Description == "" || v.Description != v.LongDescription {
			t.Errorf("%s: description %q, long description %q: want both, equal", e.Type, v.Description, v.LongDescription)
		}
		views[e.Type] = v
	}
	v1, v2 := views["catalog.product_updated.v1"], views["catalog.product_updated.v2"]
	if v1 != v2 {
		t.Fatalf("v1 decodes to\n%+v\nv2 to\n%+v", v1, v2)
	}
}

func TestProductUpdatedRefusesUnknownVersions(t *testing.T) {
	for _, v := range []int{0, 3, -1} {
		if _, err := events.NewProductUpdated(v, events.ProductState{SKU: "AB"}); err == nil {
			t.Errorf("version %d built", v)
		}
	}
}

func TestShortFromDescription(t *testing.T) {
	long := strings.Repeat("word ", 100) // 500 characters, no sentence end
	tests := []struct{ in, want string }{
		{"", ""},
		{"   ", ""},
		{"One sentence.", "One sentence."},
		{"First one. Second one.", "First one."},
		{"  Leading space! Then more.", "Leading space!"},
		{"Is it? Yes.", "Is it?"},
		{"Version 1.5 is here. More.", "Version 1.5 is here."},
		{"First line\nsecond line.", "First line"},
		{"No end", "No end"},
		{"Ends with dot.", "Ends with dot."},
		{"Trailing space. ", "Trailing space."},
		{long, strings.TrimSpace(strings.Repeat("word ", 55)) + "…"},
		{strings.Repeat("ä", 300), strings.Repeat("ä", 279) + "…"},
	}
	for _, tt := range tests {
		got := events.ShortFromDescription(tt.in)
		if got != tt.want {
			t.Errorf("ShortFromDescription(%.40q) = %q, want %q", tt.in, got, tt.want)
		}
		if n := utf8.RuneCountInString(got); n > events.MaxShortDescription {
			t.Errorf("ShortFromDescription(%.40q) has %d characters", tt.in, n)
		}
	}
}

// FuzzDecodeProductUpdated: decoding arbitrary data as either version of
// product_updated never panics, and whatever decodes gives the V2 view
// Catalog promises: the deprecated description equals the long one, and a
// v1 payload's short description is derived within its limit.
func FuzzDecodeProductUpdated(f *testing.F) {
	for _, e := range events.Examples() {
		if _, v, _ := contract.ParseType(e.Type); strings.HasPrefix(e.Type, events.ProductUpdated) {
			f.Add(v, e.Data)
		}
	}
	f.Add(1, []byte(`{"description":"A. B.","version":1}`))
	f.Add(2, []byte(`{"description":"x","long_description":"x","short_description":""}`))
	f.Add(1, []byte(`null`))
	f.Add(1, []byte(`{"description":7}`))
	f.Add(3, []byte(`{}`))
	f.Add(1, []byte(`{"description":"`+strings.Repeat("é ", 400)+`"}`))
	reg := events.Registry()
	f.Fuzz(func(t *testing.T, version int, data []byte) {
		e := contract.Event{ID: "x", Source: events.Source, Type: contract.TypeName(events.ProductUpdated, version),
			DataContentType: contract.ContentTypeJSON, Data: data}
		v, err := contract.DecodeAs[events.ProductUpdatedV2](reg, e)
		if err != nil {
			return
		}
		if version != 1 {
			return // a v2 payload is taken as it comes
		}
		if v.Description != v.LongDescription {
			t.Fatalf("v1 upcast: description %q, long %q", v.Description, v.LongDescription)
		}
		if n := utf8.RuneCountInString(v.ShortDescription); n > events.MaxShortDescription {
			t.Fatalf("v1 upcast: short description of %d characters", n)
		}
		if v.ShortDescription != events.ShortFromDescription(v.LongDescription) {
			t.Fatalf("v1 upcast: short %q is not derived from %q", v.ShortDescription, v.LongDescription)
		}
	})
}
