package fulfillment

import (
	"errors"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/bounded-dev/bounded/platform/httpapi"
)

// routes is the service's HTTP API, relative to /fulfillment (see
// openapi.json).
func (s *fulfillment) routes() *httpapi.Mux {
	mux := httpapi.NewMux(httpapi.MuxConfig{Logger: s.log, AdminToken: s.env.AdminToken})
	mux.Handle("GET /shipments", s.listShipments)
	mux.Admin("GET /stats", httpapi.Read(s.stats)) // admin: the business's totals are for its operators
	mux.Handle("GET /shipments/{id}", s.getShipment)
	mux.Handle("GET /packaging-rules", s.listRules)
	mux.Admin("PUT /packaging-rules/{name}", s.putRule)
	mux.Admin("DELETE /packaging-rules/{name}", s.deleteRule)
	return mux
}

type lineResponse struct {
	SKU      string `json:"sku"`
	Quantity int    `json:"quantity"`
}

type addressResponse struct {
	Name       string `json:"name"`
	Line1      string `json:"line1"`
	Line2      string `json:"line2,omitempty"`
	City       string `json:"city"`
	PostalCode string `json:"postal_code"`
	Country    string `json:"country"`
}

type shipmentResponse struct {
	ID      string `json:"id"`
	OrderID string `json:"order_id"`
	Status  string `json:"status"`
	Package string `json:"package"`
	// Unpackable: no packaging rule fits; it will not be dispatched.
	Unpackable      bool            `json:"unpackable"`
	Items           []lineResponse  `json:"items"`
	ShippingAddress addressResponse `json:"shipping_address"`
	CreatedAt       time.Time       `json:"created_at"`
	DispatchedAt    *time.Time      `json:"dispatched_at"`
	CancelledAt     *time.Time      `json:"cancelled_at"`
	// CancelledAfterDispatchAt: the order was cancelled after this shipment
	// was dispatched (a conflict; it stays dispatched).
	CancelledAfterDispatchAt *time.Time `json:"cancelled_after_dispatch_at"`
}

type shipmentsResponse struct {
	Shipments []shipmentResponse `json:"shipments"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func toShipmentResponse(s Shipment) shipmentResponse {
	items := make([]lineResponse, len(s.Items))
	for i, l := range s.Items {
		items[i] = lineResponse(l)
	}
	return shipmentResponse{
		ID: s.ID, OrderID: s.OrderID, Status: string(s.Status), Package: s.Package, Unpackable: s.Unpackable(),
		Items: items, ShippingAddress: addressResponse(s.Address),
		CreatedAt: s.Created, DispatchedAt: optTime(s.Dispatched), CancelledAt: optTime(s.Cancelled),
		CancelledAfterDispatchAt: optTime(s.CancelledAfterDispatch),
	}
}

// Query limits of GET /shipments.
const (
	defaultListLimit = 50
	maxListLimit     = 500
)

// shipmentQuery validates GET /shipments' query: order_id or status is
// required (the list is never the whole table).
func shipmentQuery(r *http.Request) (shipmentFilter, error) {
	q := r.URL.Query()
	f := shipmentFilter{OrderID: q.Get("order_id"), Status: Status(q.Get("status"))}
	if f.OrderID == "" && f.Status == "" {
		return f, httpapi.Errorf(httpapi.ErrInvalid, "query: give order_id (an order's shipments) or status (created, dispatched or cancelled)")
	}
	if f.OrderID != "" {
		if err := checkOrderID(f.OrderID); err != nil {
			return f, httpapi.Errorf(httpapi.ErrInvalid, "query parameter order_id: %v", err)
		}
	}
	if f.Status != "" && !f.Status.Valid() {
		return f, httpapi.Errorf(httpapi.ErrInvalid, "query parameter status=%q: want created, dispatched or cancelled", f.Status)
	}
	switch u := q.Get("unpackable"); u {
	case "", "false":
	case "true":
		f.Unpackable = true
	default:
		return f, httpapi.Errorf(httpapi.ErrInvalid, "query parameter unpackable=%q: want true or false", u)
	}
	var err error
	f.Limit, err = httpapi.QueryInt(r, "limit", defaultListLimit, 1, maxListLimit)
	return f, err
}

func (s *fulfillment) listShipments(w http.ResponseWriter, r *http.Request) error {
	f, err := shipmentQuery(r)
	if err != nil {
		return err
	}
	list, err := listShipments(r.Context(), s.env.DB, f)
	if err != nil {
		return err
	}
	out := shipmentsResponse{Shipments: make([]shipmentResponse, len(list))}
	for i, sh := range list {
		out.Shipments[i] = toShipmentResponse(sh)
	}
	return httpapi.WriteJSON(w, http.StatusOK, out)
}

func (s *fulfillment) getShipment(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	notFound := httpapi.Errorf(httpapi.ErrNotFound, "no shipment %q", id)
	if _, err := uuid.Parse(id); err != nil || len(id) > maxIDLen {
		return notFound // not an id this service makes: unknown
	}
	sh, err := shipmentByID(r.Context(), s.env.DB, id)
	switch {
	case errors.Is(err, errNotFound):
		return notFound
	case err != nil:
		return err
	}
	return httpapi.WriteJSON(w, http.StatusOK, toShipmentResponse(sh))
}

type ruleResponse struct {
	Name     string `json:"name"`
	MaxItems int64  `json:"max_items"`
	Priority int    `json:"priority"`
}

type rulesResponse struct {
	// PackagingRules are in the order they are tried.
	PackagingRules []ruleResponse `json:"packaging_rules"`
}

func toRuleResponse(r PackagingRule) ruleResponse {
	return ruleResponse{Name: r.name, MaxItems: r.maxItems, Priority: r.priority}
}

func (s *fulfillment) listRules(w http.ResponseWriter, r *http.Request) error {
	rules, err := listRules(r.Context(), s.env.DB)
	if err != nil {
		return err
	}
	out := rulesResponse{PackagingRules: make([]ruleResponse, len(rules))}
	for i, rule := range rules {
		out.PackagingRules[i] = toRuleResponse(rule)
	}
	return httpapi.WriteJSON(w, http.StatusOK, out)
}

// ruleRequest is the body of PUT /packaging-rules/{name}.
type ruleRequest struct {
	MaxItems *int64 `json:"max_items"`
	Priority *int   `json:"priority"` // default 0
}

// validateRuleRequest checks PUT /packaging-rules/{name}'s name and body
// and returns the rule, or an error of kind ErrInvalid saying what is
// wrong.
func validateRuleRequest(name string, req ruleRequest) (PackagingRule, error) {
	if req.MaxItems == nil {
		return PackagingRule{}, httpapi.Errorf(httpapi.ErrInvalid, "max_items: required, an integer from 1 to %d", maxQuantity)
	}
	priority := 0
	if req.Priority != nil {
		priority = *req.Priority
	}
	rule, err := NewPackagingRule(name, *req.MaxItems, priority)
	if err != nil {
		return PackagingRule{}, httpapi.Errorf(httpapi.ErrInvalid, "%v", err)
	}
	return rule, nil
}

// putRule creates (201) or replaces (200) a packaging rule. Shipments
// created before keep their package.
func (s *fulfillment) putRule(w http.ResponseWriter, r *http.Request) error {
	var req ruleRequest
	if err := httpapi.Decode(r, &req); err != nil {
		return err
	}
	rule, err := validateRuleRequest(r.PathValue("name"), req)
	if err != nil {
		return err
	}
	created, err := putRule(r.Context(), s.env.DB, rule)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return httpapi.WriteJSON(w, status, toRuleResponse(rule))
}

func (s *fulfillment) deleteRule(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	err := deleteRule(r.Context(), s.env.DB, name)
	switch {
	case errors.Is(err, errNotFound):
		return httpapi.Errorf(httpapi.ErrNotFound, "no packaging rule %q", name)
	case errors.Is(err, errLastRule):
		return httpapi.Errorf(httpapi.ErrConflict, "packaging rule %q is the last one: shipments need at least one rule; add another before deleting it", name)
	case err != nil:
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
