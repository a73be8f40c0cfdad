package cart

import (
	"net/http"
	"time"

	"github.com/bounded-dev/bounded/platform/httpapi"
	"github.com/bounded-dev/bounded/services/cart/events"
)

// routes registers the HTTP API (relative to /cart). openapi.json documents
// it; a test holds the two against each other.
func (s *cartService) routes(mux *httpapi.Mux) {
	mux.Handle("POST /carts", s.handleCreateCart)
	mux.Handle("GET /carts/{id}", s.handleGetCart)
	mux.Handle("PUT /carts/{id}/items/{sku}", s.handleSetItem)
	mux.Handle("DELETE /carts/{id}/items/{sku}", s.handleRemoveItem)
	mux.Handle("POST /carts/{id}/checkout", s.handleCheckout)
}

// Requests.

type createCartRequest struct {
	CustomerEmail string `json:"customer_email"`
}

func (r createCartRequest) validate() error {
	if r.CustomerEmail == "" {
		return nil
	}
	return ValidateEmail(r.CustomerEmail)
}

type setItemRequest struct {
	Quantity *int `json:"quantity"`
}

func (r setItemRequest) validate() error {
	switch {
	case r.Quantity == nil:
		return fail(ErrInvalid, "quantity: required, %d to %d", MinQuantity, MaxQuantity)
	case *r.Quantity < MinQuantity || *r.Quantity > MaxQuantity:
		return fail(ErrInvalid, "quantity %d: want %d to %d (remove a line with DELETE)", *r.Quantity, MinQuantity, MaxQuantity)
	}
	return nil
}

type addressRequest struct {
	Name       string `json:"name"`
	Line1      string `json:"line1"`
	Line2      string `json:"line2"`
	City       string `json:"city"`
	PostalCode string `json:"postal_code"`
	Country    string `json:"country"`
}

type checkoutRequest struct {
	CustomerEmail   string          `json:"customer_email"`
	ShippingAddress *addressRequest `json:"shipping_address"`
	PaymentToken    string          `json:"payment_token"`
}

// checkout validates the request and returns it as the domain's input.
func (r checkoutRequest) checkout() (Checkout, error) {
	if r.ShippingAddress == nil {
		return Checkout{}, fail(ErrInvalid, "shipping_address: required")
	}
	a := r.ShippingAddress
	in := Checkout{
		CustomerEmail: r.CustomerEmail,
		ShippingAddress: events.Address{Name: a.Name, Line1: a.Line1, Line2: a.Line2, City: a.City,
			PostalCode: a.PostalCode, Country: a.Country},
		PaymentToken: r.PaymentToken,
	}
	return in, in.Validate()
}

// Responses.

type itemResponse struct {
	SKU                 string `json:"sku"`
	Name                string `json:"name"`
	Quantity            int    `json:"quantity"`
	UnitPriceCents      int64  `json:"unit_price_cents"`
	PriceWhenAddedCents int64  `json:"price_when_added_cents"`
	PriceChanged        bool   `json:"price_changed"`
	LineTotalCents      int64  `json:"line_total_cents"`
	Available           bool   `json:"available"`
}

type cartResponse struct {
	ID            string         `json:"id"`
	Status        string         `json:"status"`
	CustomerEmail string         `json:"customer_email,omitempty"`
	Items         []itemResponse `json:"items"`
	TotalCents    int64          `json:"total_cents"`
	Currency      string         `json:"currency,omitempty"`
	OrderID       string         `json:"order_id,omitempty"`
	OrderURL      string         `json:"order_url,omitempty"`
	CreatedAt     time.Time      `json:"created_at"`
	UpdatedAt     time.Time      `json:"updated_at"`
	CheckedOutAt  *time.Time     `json:"checked_out_at,omitempty"`
}

type checkoutResponse struct {
	OrderID  string `json:"order_id"`
	CartID   string `json:"cart_id"`
	Status   string `json:"status"`
	OrderURL string `json:"order_url"`
}

// orderURL is where Orders serves the order (its API under /orders).
func orderURL(orderID string) string { return "/orders/orders/" + orderID }

func cartJSON(c *Cart) cartResponse {
	lines := c.Lines()
	out := cartResponse{ID: c.ID(), Status: string(c.Status()), CustomerEmail: c.CustomerEmail(),
		Items: make([]itemResponse, len(lines)), TotalCents: c.TotalCents(), Currency: c.Currency(),
		CreatedAt: c.CreatedAt(), UpdatedAt: c.UpdatedAt()}
	for i, l := range lines {
		out.Items[i] = itemResponse{SKU: l.SKU, Name: l.Name(), Quantity: l.Quantity, UnitPriceCents: l.UnitPriceCents(),
			PriceWhenAddedCents: l.PriceWhenAddedCents, PriceChanged: l.PriceChanged(), LineTotalCents: l.TotalCents(),
			Available: l.Available()}
	}
	if c.Status() == StatusCheckedOut {
		t := c.CheckedOutAt()
		out.OrderID, out.OrderURL, out.CheckedOutAt = c.OrderID(), orderURL(c.OrderID()), &t
	}
	return out
}

// Handlers.

func (s *cartService) handleCreateCart(w http.ResponseWriter, r *http.Request) error {
	var req createCartRequest
	if r.ContentLength != 0 { // no body at all is an empty request
		if err := httpapi.Decode(r, &req); err != nil {
			return err
		}
	}
	if err := req.validate(); err != nil {
		return httpError(err)
	}
	c, err := s.createCart(r.Context(), req.CustomerEmail)
	if err != nil {
		return httpError(err)
	}
	w.Header().Set("Location", "/"+Name+"/carts/"+c.ID())
	return httpapi.WriteJSON(w, http.StatusCreated, cartJSON(c))
}

func (s *cartService) handleGetCart(w http.ResponseWriter, r *http.Request) error {
	c, err := s.cart(r.Context(), r.PathValue("id"))
	if err != nil {
		return httpError(err)
	}
	return httpapi.WriteJSON(w, http.StatusOK, cartJSON(c))
}

// pathSKU reads and checks the {sku} of the path.
func pathSKU(r *http.Request) (string, error) {
	sku := r.PathValue("sku")
	if !ValidSKU(sku) {
		return "", httpapi.Errorf(httpapi.ErrInvalid, "sku %s: want 2 to 32 upper-case letters, digits or '-', not starting with '-'", quote(sku))
	}
	return sku, nil
}

func (s *cartService) handleSetItem(w http.ResponseWriter, r *http.Request) error {
	sku, err := pathSKU(r)
	if err != nil {
		return err
	}
	var req setItemRequest
	if err := httpapi.Decode(r, &req); err != nil {
		return err
	}
	if err := req.validate(); err != nil {
		return httpError(err)
	}
	c, err := s.setLine(r.Context(), r.PathValue("id"), sku, *req.Quantity)
	if err != nil {
		return httpError(err)
	}
	return httpapi.WriteJSON(w, http.StatusOK, cartJSON(c))
}

func (s *cartService) handleRemoveItem(w http.ResponseWriter, r *http.Request) error {
	sku, err := pathSKU(r)
	if err != nil {
		return err
	}
	c, err := s.removeLine(r.Context(), r.PathValue("id"), sku)
	if err != nil {
		return httpError(err)
	}
	return httpapi.WriteJSON(w, http.StatusOK, cartJSON(c))
}

func (s *cartService) handleCheckout(w http.ResponseWriter, r *http.Request) error {
	var req checkoutRequest
	if err := httpapi.Decode(r, &req); err != nil {
		return err
	}
	in, err := req.checkout()
	if err != nil {
		return httpError(err)
	}
	res, err := s.checkout(r.Context(), r.PathValue("id"), in)
	if err != nil {
		return httpError(err)
	}
	status := http.StatusAccepted
	if res.repeated {
		status = http.StatusOK
	}
	return httpapi.WriteJSON(w, status, checkoutResponse{OrderID: res.orderID, CartID: res.cartID,
		Status: string(StatusCheckedOut), OrderURL: orderURL(res.orderID)})
}
