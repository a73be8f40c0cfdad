package catalog

import (
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/bounded-dev/bounded/services/catalog/events"
)

// Limits of the domain. Lengths are in characters (Unicode code points).
const (
	MaxCategoryName     = 100
	MaxProductName      = 200
	MaxShortDescription = events.MaxShortDescription // 280
	MaxLongDescription  = 4000
	MinPriceCents       = 1
	MaxPriceCents       = 1_000_000_000
)

var (
	skuRE      = regexp.MustCompile(`^[A-Z0-9][A-Z0-9-]{1,31}$`)
	slugRE     = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)
	currencyRE = regexp.MustCompile(`^[A-Z]{3}$`)
)

// ValidationError says what is wrong with an input: one problem per field,
// each "field: problem". The HTTP edge answers it with 400.
type ValidationError struct {
	Problems []string
}

func (e *ValidationError) Error() string { return strings.Join(e.Problems, "; ") }

// UnknownCategoryError: a product names a category that does not exist.
// The HTTP edge answers it with 422.
type UnknownCategoryError struct {
	Slug string
}

func (e *UnknownCategoryError) Error() string {
	return fmt.Sprintf("category: %q does not exist; create it first (PUT /categories/%s)", e.Slug, e.Slug)
}

// problems collects the problems of one input.
type problems []string

func (p *problems) addf(field, format string, args ...any) {
	*p = append(*p, field+": "+fmt.Sprintf(format, args...))
}

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return &ValidationError{Problems: p}
}

// ValidateSKU reports a SKU that is not ^[A-Z0-9][A-Z0-9-]{1,31}$.
func ValidateSKU(sku string) error {
	var p problems
	checkSKU(&p, sku)
	return p.err()
}

// ValidateSlug reports a category slug that is not ^[a-z0-9][a-z0-9-]{0,63}$.
func ValidateSlug(slug string) error {
	var p problems
	checkSlug(&p, "slug", slug)
	return p.err()
}

func checkSKU(p *problems, sku string) {
	if !skuRE.MatchString(sku) {
		p.addf("sku", "%.40q is not a SKU: 2 to 32 of A-Z, 0-9 and '-', not starting with '-'", sku)
	}
}

func checkSlug(p *problems, field, slug string) {
	switch {
	case slug == "":
		p.addf(field, "required")
	case !slugRE.MatchString(slug):
		p.addf(field, "%.70q is not a slug: 1 to 64 of a-z, 0-9 and '-', not starting with '-'", slug)
	}
}

// checkName: required (not blank), at most max characters, one line.
func checkName(p *problems, field, s string, max int) {
	switch {
	case strings.TrimSpace(s) == "":
		p.addf(field, "required")
	case !utf8.ValidString(s):
		p.addf(field, "not valid UTF-8")
	case utf8.RuneCountInString(s) > max:
		p.addf(field, "%d characters, at most %d", utf8.RuneCountInString(s), max)
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		p.addf(field, "contains a control character (a name is one line of text)")
	}
}

// checkText: optional, at most max characters; line breaks and tabs allowed.
func checkText(p *problems, field, s string, max int) {
	switch {
	case !utf8.ValidString(s):
		p.addf(field, "not valid UTF-8")
	case utf8.RuneCountInString(s) > max:
		p.addf(field, "%d characters, at most %d", utf8.RuneCountInString(s), max)
	case strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' }) >= 0:
		p.addf(field, "contains a control character other than a line break or tab")
	}
}

// now is the time a change is stamped with: UTC, in milliseconds, which
// both engines store exactly.
func now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

// Category is the Category aggregate: a slug, which never changes, and a
// name. Its version starts at 1 and grows by one with every change.
type Category struct {
	slug      string
	name      string
	version   int64
	updatedAt time.Time
}

// NewCategory returns a new category (version 1), or a *ValidationError.
func NewCategory(slug, name string, at time.Time) (Category, error) {
	var p problems
	checkSlug(&p, "slug", slug)
	checkName(&p, "name", name, MaxCategoryName)
	if err := p.err(); err != nil {
		return Category{}, err
	}
	return Category{slug: slug, name: name, version: 1, updatedAt: at}, nil
}

// Rename returns the category with name; changed is false, and c returned
// as it is, when the name is the same.
func (c Category) Rename(name string, at time.Time) (next Category, changed bool, err error) {
	var p problems
	checkName(&p, "name", name, MaxCategoryName)
	if err := p.err(); err != nil {
		return c, false, err
	}
	if name == c.name {
		return c, false, nil
	}
	return Category{slug: c.slug, name: name, version: c.version + 1, updatedAt: at}, true, nil
}

func (c Category) Slug() string         { return c.slug }
func (c Category) Name() string         { return c.name }
func (c Category) Version() int64       { return c.version }
func (c Category) UpdatedAt() time.Time { return c.updatedAt }

// Event returns the category_updated payload of c.
func (c Category) Event() events.CategoryUpdatedV1 {
	return events.CategoryUpdatedV1{Slug: c.slug, Name: c.name, Version: c.version}
}

// ProductFields are what a client sets of a product: everything but its
// SKU (its identity) and version.
type ProductFields struct {
	Name             string
	ShortDescription string
	LongDescription  string
	PriceCents       int64
	Currency         string
	Category         string // an existing category's slug
	Active           bool
}

// Validate reports every field that breaks a rule as a *ValidationError. It
// cannot know whether the category exists; the store checks that.
func (f ProductFields) Validate() error {
	var p problems
	f.check(&p)
	return p.err()
}

func (f ProductFields) check(p *problems) {
	checkName(p, "name", f.Name, MaxProductName)
	checkText(p, "short_description", f.ShortDescription, MaxShortDescription)
	checkText(p, "long_description", f.LongDescription, MaxLongDescription)
	if f.PriceCents < MinPriceCents || f.PriceCents > MaxPriceCents {
		p.addf("price_cents", "%d, want %d to %d", f.PriceCents, MinPriceCents, MaxPriceCents)
	}
	if !currencyRE.MatchString(f.Currency) {
		p.addf("currency", "%.20q is not an ISO 4217 code (three upper-case letters, e.g. EUR)", f.Currency)
	}
	checkSlug(p, "category", f.Category)
}

// Product is the Product aggregate. Its version starts at 1 and grows by
// one with every change; a replacement that changes nothing keeps it.
type Product struct {
	sku       string
	f         ProductFields
	version   int64
	updatedAt time.Time
}

// NewProduct returns a new product (version 1), or a *ValidationError.
func NewProduct(sku string, f ProductFields, at time.Time) (Product, error) {
	var p problems
	checkSKU(&p, sku)
	f.check(&p)
	if err := p.err(); err != nil {
		return Product{}, err
	}
	return Product{sku: sku, f: f, version: 1, updatedAt: at}, nil
}

// Replace returns the product with fields f; changed is false, and p
// returned as it is, when f is what p has.
func (p Product) Replace(f ProductFields, at time.Time) (next Product, changed bool, err error) {
	if err := f.Validate(); err != nil {
		return p, false, err
	}
	if f == p.f {
		return p, false, nil
	}
	return Product{sku: p.sku, f: f, version: p.version + 1, updatedAt: at}, true, nil
}

func (p Product) SKU() string           { return p.sku }
func (p Product) Fields() ProductFields { return p.f }
func (p Product) Version() int64        { return p.version }
func (p Product) UpdatedAt() time.Time  { return p.updatedAt }

// State is the product's whole state as its events carry it.
func (p Product) State() events.ProductState {
	return events.ProductState{SKU: p.sku, Name: p.f.Name, ShortDescription: p.f.ShortDescription,
		LongDescription: p.f.LongDescription, PriceCents: p.f.PriceCents, Currency: p.f.Currency,
		Category: p.f.Category, Active: p.f.Active, Version: p.version}
}
