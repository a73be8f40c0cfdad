package events

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/bounded-dev/bounded/platform/contract"
)

// The builders below are the only way Catalog makes its events: the service
// calls them to record what it publishes, and Examples calls them to show
// the consumers' contract test (CheckReliances) what is published. A change
// to a payload is therefore a change to the examples, and a change that
// drops a field a consumer relies on fails events_test.go, in Catalog's
// build, before it can reach the consumer.

// ProductVersions are the versions of product_updated Catalog can publish,
// oldest first. A deployment publishes one of them (the service's
// Config.ProductEventVersion); Examples holds one example of each, because
// every one of them may be on the wire.
func ProductVersions() []int { return []int{1, 2} }

// MaxShortDescription is the longest short description, in characters.
const MaxShortDescription = 280

// ProductState is a product's whole state, from which every version of
// product_updated is built.
type ProductState struct {
	SKU              string
	Name             string
	ShortDescription string
	LongDescription  string
	PriceCents       int64
	Currency         string
	Category         string
	Active           bool
	Version          int64
}

// ProductUpdatedPayload returns the payload of product_updated in version
// version for p: a ProductUpdatedV1 or a ProductUpdatedV2.
//
// v1 was published before the description split: its description is the
// long description. v2 carries both descriptions and, for the deprecation
// window, the deprecated description equal to the long one (Inventory reads
// it: see its Reliances).
func ProductUpdatedPayload(version int, p ProductState) (any, error) {
	switch version {
	case 1:
		return ProductUpdatedV1{SKU: p.SKU, Name: p.Name, Description: p.LongDescription, PriceCents: p.PriceCents,
			Currency: p.Currency, Category: p.Category, Active: p.Active, Version: p.Version}, nil
	case 2:
		return ProductUpdatedV2{SKU: p.SKU, Name: p.Name, ShortDescription: p.ShortDescription,
			LongDescription: p.LongDescription, Description: p.LongDescription, PriceCents: p.PriceCents,
			Currency: p.Currency, Category: p.Category, Active: p.Active, Version: p.Version}, nil
	}
	return nil, fmt.Errorf("%s: version %d is not published; want one of %v", ProductUpdated, version, ProductVersions())
}

// NewProductUpdated returns the product_updated event of version version
// for p; its subject is the SKU.
func NewProductUpdated(version int, p ProductState) (contract.Event, error) {
	payload, err := ProductUpdatedPayload(version, p)
	if err != nil {
		return contract.Event{}, err
	}
	return contract.New(Source, contract.TypeName(ProductUpdated, version), p.SKU, payload)
}

// NewCategoryUpdated returns the category_updated event for c; its subject
// is the slug.
func NewCategoryUpdated(c CategoryUpdatedV1) (contract.Event, error) {
	return contract.New(Source, contract.TypeName(CategoryUpdated, 1), c.Slug, c)
}

// ShortFromDescription derives a short description from a (long)
// description: its first sentence (up to the first '.', '!' or '?' that
// ends a word, or the first line break), cut to MaxShortDescription
// characters at a word boundary with an ellipsis. The Catalog API applies it
// to old clients that send only a description, and the v1→v2 upcaster to old
// events, so both give the same short description.
func ShortFromDescription(description string) string {
	s := strings.TrimLeftFunc(description, unicode.IsSpace)
	end := len(s)
	for i, r := range s {
		if r == '\n' || r == '\r' {
			end = i
			break
		}
		if r == '.' || r == '!' || r == '?' {
			next := i + utf8.RuneLen(r)
			if next == len(s) {
				break
			}
			if nr, _ := utf8.DecodeRuneInString(s[next:]); unicode.IsSpace(nr) {
				end = next
				break
			}
		}
	}
	s = strings.TrimRightFunc(s[:end], unicode.IsSpace)
	if utf8.RuneCountInString(s) <= MaxShortDescription {
		return s
	}
	runes := []rune(s)[:MaxShortDescription-1] // room for the ellipsis
	// Cut at the last space, unless that would lose more than half.
	for i := len(runes) - 1; i > len(runes)/2; i-- {
		if unicode.IsSpace(runes[i]) {
			runes = runes[:i]
			break
		}
	}
	return strings.TrimRightFunc(string(runes), unicode.IsSpace) + "…"
}

// exampleProduct is the product every product_updated example is built
// from. Its descriptions differ and are non-empty, so an example shows
// which description each field carries.
var exampleProduct = ProductState{
	SKU:              "MUG-STONE-350",
	Name:             "Stoneware mug, 350 ml",
	ShortDescription: "Hand-glazed stoneware mug for coffee and tea.",
	LongDescription: "Hand-glazed stoneware mug for coffee and tea. Holds 350 ml, " +
		"dishwasher and microwave safe. Each glaze varies slightly.",
	PriceCents: 1490,
	Currency:   "EUR",
	Category:   "kitchen",
	Active:     true,
	Version:    3,
}

// Examples returns one example of every event Catalog may publish, in every
// version it may publish: product_updated v1 and v2 and category_updated
// v1. They are built by the same functions the service uses.
//
// It panics if an example cannot be built: that is a bug in this package,
// which its tests catch.
func Examples() []contract.Event {
	var out []contract.Event
	for _, v := range ProductVersions() {
		out = append(out, must(NewProductUpdated(v, exampleProduct)))
	}
	out = append(out, must(NewCategoryUpdated(CategoryUpdatedV1{Slug: "kitchen", Name: "Kitchen", Version: 2})))
	return out
}

func must(e contract.Event, err error) contract.Event {
	if err != nil {
		panic("catalog events: example: " + err.Error())
	}
	return e
}

// Reliances are the fields of other services' events Catalog reads: none,
// since Catalog consumes nothing. It exists so that every service's events
// package answers the same question.
func Reliances() []contract.Reliance { return nil }
