package catalog

import (
	"errors"
	"net/http"
	"time"

	"github.com/bounded-dev/bounded/platform/httpapi"
	"github.com/bounded-dev/bounded/services/catalog/events"
)

func (s *catalogService) routes() *httpapi.Mux {
	mux := httpapi.NewMux(httpapi.MuxConfig{Logger: s.env.Logger, AdminToken: s.env.AdminToken})
	mux.Handle("GET /products", s.listProducts)
	mux.Handle("GET /products/{sku}", s.getProduct)
	mux.Admin("PUT /products/{sku}", s.putProductHTTP)
	mux.Handle("GET /categories", s.listCategories)
	mux.Handle("GET /categories/{slug}", s.getCategory)
	mux.Admin("PUT /categories/{slug}", s.putCategoryHTTP)
	return mux
}

// apiError maps the domain's errors to the HTTP edge's kinds; any other
// error stays internal (500, detail logged).
func apiError(err error) error {
	var invalid *ValidationError
	var unknown *UnknownCategoryError
	switch {
	case errors.As(err, &invalid):
		return httpapi.Errorf(httpapi.ErrInvalid, "%s", invalid.Error())
	case errors.As(err, &unknown):
		return httpapi.Errorf(httpapi.ErrUnprocessable, "%s", unknown.Error())
	}
	return err
}

// PutProductRequest is the body of PUT /products/{sku}: the product's whole
// state but its SKU and version.
//
// Old clients (before the description split) send description instead of
// short_description and long_description: the long description is then the
// description and, unless short_description is given too, the short one is
// its first sentence (events.ShortFromDescription). A client may send both
// forms only when they agree: description equal to long_description (as a
// product read from GET, which carries the deprecated description, does).
type PutProductRequest struct {
	Name             string  `json:"name"`
	ShortDescription *string `json:"short_description,omitempty"`
	LongDescription  *string `json:"long_description,omitempty"`
	// Description is deprecated: send LongDescription (and ShortDescription).
	Description *string `json:"description,omitempty"`
	PriceCents  int64   `json:"price_cents"`
	Currency    string  `json:"currency"`
	Category    string  `json:"category"`
	Active      *bool   `json:"active"`
}

// Fields turns the request into the product's fields and validates them
// (all but the category's existence). Errors are *ValidationError.
func (r PutProductRequest) Fields() (ProductFields, error) {
	var p problems
	f := ProductFields{Name: r.Name, PriceCents: r.PriceCents, Currency: r.Currency, Category: r.Category}
	if r.Active == nil {
		p.addf("active", "required: true or false")
	} else {
		f.Active = *r.Active
	}
	switch {
	case r.Description == nil:
		f.ShortDescription, f.LongDescription = deref(r.ShortDescription), deref(r.LongDescription)
	case r.LongDescription != nil && *r.LongDescription != *r.Description:
		p.addf("description", "differs from long_description; description is the deprecated name of long_description: send long_description alone, or both equal")
	default:
		f.LongDescription = *r.Description
		f.ShortDescription = events.ShortFromDescription(f.LongDescription)
		if r.ShortDescription != nil {
			f.ShortDescription = *r.ShortDescription
		}
	}
	f.check(&p)
	return f, p.err()
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// ProductResponse is a product as the API shows it.
type ProductResponse struct {
	SKU              string `json:"sku"`
	Name             string `json:"name"`
	ShortDescription string `json:"short_description"`
	LongDescription  string `json:"long_description"`
	// Description is deprecated (equal to LongDescription), kept for old
	// clients during the deprecation window.
	Description string    `json:"description"`
	PriceCents  int64     `json:"price_cents"`
	Currency    string    `json:"currency"`
	Category    string    `json:"category"`
	Active      bool      `json:"active"`
	Version     int64     `json:"version"`
	UpdatedAt   time.Time `json:"updated_at"`
}

func productResponse(p Product) ProductResponse {
	return ProductResponse{SKU: p.sku, Name: p.f.Name, ShortDescription: p.f.ShortDescription,
		LongDescription: p.f.LongDescription, Description: p.f.LongDescription, PriceCents: p.f.PriceCents,
		Currency: p.f.Currency, Category: p.f.Category, Active: p.f.Active, Version: p.version, UpdatedAt: p.updatedAt}
}

// ProductListResponse is a page of products in SKU order. NextAfter, when
// not null, is the after= of the next page.
type ProductListResponse struct {
	Products  []ProductResponse `json:"products"`
	NextAfter *string           `json:"next_after"`
}

// PutCategoryRequest is the body of PUT /categories/{slug}.
type PutCategoryRequest struct {
	Name string `json:"name"`
}

// CategoryResponse is a category as the API shows it.
type CategoryResponse struct {
	Slug      string    `json:"slug"`
	Name      string    `json:"name"`
	Version   int64     `json:"version"`
	UpdatedAt time.Time `json:"updated_at"`
}

func categoryResponse(c Category) CategoryResponse {
	return CategoryResponse{Slug: c.slug, Name: c.name, Version: c.version, UpdatedAt: c.updatedAt}
}

// CategoryListResponse is a page of categories in slug order.
type CategoryListResponse struct {
	Categories []CategoryResponse `json:"categories"`
	NextAfter  *string            `json:"next_after"`
}

const (
	defaultLimit = 100
	maxLimit     = 500
)

func (s *catalogService) listProducts(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := productFilter{Category: q.Get("category"), After: q.Get("after")}
	var p problems
	if f.Category != "" {
		checkSlug(&p, "query parameter category", f.Category)
	}
	if f.After != "" && !skuRE.MatchString(f.After) {
		p.addf("query parameter after", "%.40q is not a SKU", f.After)
	}
	switch a := q.Get("active"); a {
	case "":
	case "true", "false":
		active := a == "true"
		f.Active = &active
	default:
		p.addf("query parameter active", "%.20q, want true or false", a)
	}
	if err := p.err(); err != nil {
		return apiError(err)
	}
	limit, err := httpapi.QueryInt(r, "limit", defaultLimit, 1, maxLimit)
	if err != nil {
		return err
	}
	f.Limit = limit + 1 // one more tells whether there is a next page
	ps, err := s.store.products(r.Context(), f)
	if err != nil {
		return err
	}
	out := ProductListResponse{Products: make([]ProductResponse, 0, min(len(ps), limit))}
	if len(ps) > limit {
		ps = ps[:limit]
		next := ps[limit-1].sku
		out.NextAfter = &next
	}
	for _, p := range ps {
		out.Products = append(out.Products, productResponse(p))
	}
	return httpapi.WriteJSON(w, http.StatusOK, out)
}

func (s *catalogService) getProduct(w http.ResponseWriter, r *http.Request) error {
	sku := r.PathValue("sku")
	if ValidateSKU(sku) != nil {
		// No product has such a SKU. Not asking the database also keeps
		// bytes PostgreSQL refuses in text (NUL, invalid UTF-8) from
		// turning a 404 into a 500.
		return httpapi.Errorf(httpapi.ErrNotFound, "no product with SKU %.40q", sku)
	}
	p, found, err := s.store.product(r.Context(), s.env.DB, sku, false)
	if err != nil {
		return err
	}
	if !found {
		return httpapi.Errorf(httpapi.ErrNotFound, "no product with SKU %.40q", sku)
	}
	return httpapi.WriteJSON(w, http.StatusOK, productResponse(p))
}

func (s *catalogService) putProductHTTP(w http.ResponseWriter, r *http.Request) error {
	sku := r.PathValue("sku")
	if err := ValidateSKU(sku); err != nil {
		return apiError(err)
	}
	var req PutProductRequest
	if err := httpapi.Decode(r, &req); err != nil {
		return err
	}
	f, err := req.Fields()
	if err != nil {
		return apiError(err)
	}
	p, created, err := s.putProduct(r.Context(), sku, f)
	if err != nil {
		return apiError(err)
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return httpapi.WriteJSON(w, status, productResponse(p))
}

func (s *catalogService) listCategories(w http.ResponseWriter, r *http.Request) error {
	after := r.URL.Query().Get("after")
	if after != "" {
		var p problems
		checkSlug(&p, "query parameter after", after)
		if err := p.err(); err != nil {
			return apiError(err)
		}
	}
	limit, err := httpapi.QueryInt(r, "limit", defaultLimit, 1, maxLimit)
	if err != nil {
		return err
	}
	cs, err := s.store.categories(r.Context(), after, limit+1)
	if err != nil {
		return err
	}
	out := CategoryListResponse{Categories: make([]CategoryResponse, 0, min(len(cs), limit))}
	if len(cs) > limit {
		cs = cs[:limit]
		next := cs[limit-1].slug
		out.NextAfter = &next
	}
	for _, c := range cs {
		out.Categories = append(out.Categories, categoryResponse(c))
	}
	return httpapi.WriteJSON(w, http.StatusOK, out)
}

func (s *catalogService) getCategory(w http.ResponseWriter, r *http.Request) error {
	slug := r.PathValue("slug")
	if ValidateSlug(slug) != nil { // no category has it (and see getProduct)
		return httpapi.Errorf(httpapi.ErrNotFound, "no category with slug %.70q", slug)
	}
	c, found, err := s.store.category(r.Context(), s.env.DB, slug, false)
	if err != nil {
		return err
	}
	if !found {
		return httpapi.Errorf(httpapi.ErrNotFound, "no category with slug %.70q", slug)
	}
	return httpapi.WriteJSON(w, http.StatusOK, categoryResponse(c))
}

func (s *catalogService) putCategoryHTTP(w http.ResponseWriter, r *http.Request) error {
	slug := r.PathValue("slug")
	if err := ValidateSlug(slug); err != nil {
		return apiError(err)
	}
	var req PutCategoryRequest
	if err := httpapi.Decode(r, &req); err != nil {
		return err
	}
	c, created, err := s.putCategory(r.Context(), slug, req.Name)
	if err != nil {
		return apiError(err)
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return httpapi.WriteJSON(w, status, categoryResponse(c))
}
