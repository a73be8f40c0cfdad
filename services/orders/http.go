package orders

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bounded-dev/bounded/platform/httpapi"
)

// routes serves the API (under /orders; see openapi.json). Every route but
// the totals (admin) is public: orders are read here, changed only by events.
func (s *orderService) routes(mux *httpapi.Mux) {
	mux.Admin("GET /stats", httpapi.Read(s.store.stats)) // admin: the business's totals are for its operators
	mux.Handle("GET /orders", s.handleList)
	mux.Handle("GET /orders/{id}", s.handleGet)
	mux.Handle("GET /orders/{id}/page", s.handlePage)
}

// Response types (snake_case JSON), separate from the domain and the rows.

type addressJSON struct {
	Name       string `json:"name"`
	Line1      string `json:"line1"`
	Line2      string `json:"line2,omitempty"`
	City       string `json:"city"`
	PostalCode string `json:"postal_code"`
	Country    string `json:"country"`
}

type itemJSON struct {
	SKU            string `json:"sku"`
	Name           string `json:"name"`
	Quantity       int    `json:"quantity"`
	UnitPriceCents int64  `json:"unit_price_cents"`
	LineTotalCents int64  `json:"line_total_cents"`
}

type historyJSON struct {
	Status string    `json:"status"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason"`
}

type orderJSON struct {
	ID              string        `json:"id"`
	Status          string        `json:"status"`
	CancelReason    string        `json:"cancel_reason,omitempty"`
	CancelDetail    string        `json:"cancel_detail,omitempty"`
	CustomerEmail   string        `json:"customer_email"`
	ShippingAddress addressJSON   `json:"shipping_address"`
	Currency        string        `json:"currency"`
	Items           []itemJSON    `json:"items"`
	TotalCents      int64         `json:"total_cents"`
	Paid            bool          `json:"paid"`
	Reserved        bool          `json:"reserved"`
	PaymentID       string        `json:"payment_id,omitempty"`
	ReservationID   string        `json:"reservation_id,omitempty"`
	ShipmentID      string        `json:"shipment_id,omitempty"`
	History         []historyJSON `json:"history"`
	CreatedAt       time.Time     `json:"created_at"`
	UpdatedAt       time.Time     `json:"updated_at"`
}

func orderToJSON(o *Order) orderJSON {
	a := o.ShippingAddress()
	out := orderJSON{ID: o.ID(), Status: string(o.Status()), CancelReason: o.CancelReason(), CancelDetail: o.CancelDetail(),
		CustomerEmail:   o.CustomerEmail(),
		ShippingAddress: addressJSON{Name: a.Name, Line1: a.Line1, Line2: a.Line2, City: a.City, PostalCode: a.PostalCode, Country: a.Country},
		Currency:        o.Currency(), Items: make([]itemJSON, len(o.Items())), TotalCents: o.TotalCents(),
		Paid: o.Paid(), Reserved: o.Reserved(), PaymentID: o.PaymentID(), ReservationID: o.ReservationID(), ShipmentID: o.ShipmentID(),
		History: make([]historyJSON, len(o.History())), CreatedAt: o.CreatedAt(), UpdatedAt: o.UpdatedAt()}
	for i, it := range o.Items() {
		out.Items[i] = itemJSON{SKU: it.SKU, Name: it.Name, Quantity: it.Quantity, UnitPriceCents: it.UnitPriceCents, LineTotalCents: it.LineTotalCents()}
	}
	for i, t := range o.History() {
		out.History[i] = historyJSON{Status: string(t.To), At: t.At, Reason: t.Reason}
	}
	return out
}

// orderSummaryJSON is an order in a list: no items, no history.
type orderSummaryJSON struct {
	ID            string    `json:"id"`
	Status        string    `json:"status"`
	CancelReason  string    `json:"cancel_reason,omitempty"`
	CustomerEmail string    `json:"customer_email"`
	Currency      string    `json:"currency"`
	TotalCents    int64     `json:"total_cents"`
	Paid          bool      `json:"paid"`
	Reserved      bool      `json:"reserved"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

type orderListJSON struct {
	Orders []orderSummaryJSON `json:"orders"`
	Count  int                `json:"count"`
}

// orderID reads the {id} path value: an order id, or 404 (an id that is
// not a UUID names no order; the detail says it is malformed).
func orderID(r *http.Request) (string, error) {
	id, err := ParseOrderID(r.PathValue("id"))
	if err != nil {
		return "", httpapi.Errorf(httpapi.ErrNotFound, "no order %q: order ids are UUIDs", r.PathValue("id"))
	}
	return id, nil
}

func (s *orderService) loadOrder(ctx context.Context, id string) (*Order, error) {
	o, err := s.store.order(ctx, id)
	if errors.Is(err, errNoOrder) {
		return nil, httpapi.Errorf(httpapi.ErrNotFound, "no order %s", id)
	}
	return o, err
}

func (s *orderService) handleGet(w http.ResponseWriter, r *http.Request) error {
	id, err := orderID(r)
	if err != nil {
		return err
	}
	o, err := s.loadOrder(r.Context(), id)
	if err != nil {
		return err
	}
	return httpapi.WriteJSON(w, http.StatusOK, orderToJSON(o))
}

// List limits.
const (
	defaultListLimit = 50
	maxListLimit     = 500
)

// parseListQuery reads GET /orders' query string: status, customer_email
// and limit (1 to 500, default 50), each at most once; empty values are
// absent ones. Anything else is an ErrInvalid error that says what is wrong.
func parseListQuery(raw string) (listFilter, error) {
	f := listFilter{Limit: defaultListLimit}
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return f, httpapi.Errorf(httpapi.ErrInvalid, "malformed query string: %v", err)
	}
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	slices.Sort(keys) // the first problem reported is always the same one
	for _, k := range keys {
		vs := vals[k]
		if len(vs) > 1 {
			return f, httpapi.Errorf(httpapi.ErrInvalid, "query parameter %s: given %d times; give it once", k, len(vs))
		}
		v := vs[0]
		switch k {
		case "status":
			if v == "" {
				continue
			}
			if !slices.Contains(statuses, Status(v)) {
				return f, httpapi.Errorf(httpapi.ErrInvalid, "query parameter status=%q: want one of %s", v, statusList())
			}
			f.Status = Status(v)
		case "customer_email":
			if v == "" {
				continue
			}
			if err := checkEmail("customer_email", v); err != nil {
				return f, httpapi.Errorf(httpapi.ErrInvalid, "query parameter %s", strings.TrimPrefix(err.Error(), ErrInvalid.Error()+": "))
			}
			f.CustomerEmail = v
		case "limit":
			if v == "" {
				continue
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > maxListLimit {
				return f, httpapi.Errorf(httpapi.ErrInvalid, "query parameter limit=%q: want an integer from 1 to %d", v, maxListLimit)
			}
			f.Limit = n
		default:
			return f, httpapi.Errorf(httpapi.ErrInvalid, "unknown query parameter %q; known: status, customer_email, limit", k)
		}
	}
	return f, nil
}

func statusList() string {
	names := make([]string, len(statuses))
	for i, st := range statuses {
		names[i] = string(st)
	}
	return strings.Join(names, ", ")
}

func (s *orderService) handleList(w http.ResponseWriter, r *http.Request) error {
	f, err := parseListQuery(r.URL.RawQuery)
	if err != nil {
		return err
	}
	list, err := s.store.listOrders(r.Context(), f)
	if err != nil {
		return err
	}
	out := orderListJSON{Orders: make([]orderSummaryJSON, len(list)), Count: len(list)}
	for i, o := range list {
		out.Orders[i] = orderSummaryJSON{ID: o.ID(), Status: string(o.Status()), CancelReason: o.CancelReason(),
			CustomerEmail: o.CustomerEmail(), Currency: o.Currency(), TotalCents: o.TotalCents(), Paid: o.Paid(),
			Reserved: o.Reserved(), CreatedAt: o.CreatedAt(), UpdatedAt: o.UpdatedAt()}
	}
	return httpapi.WriteJSON(w, http.StatusOK, out)
}

// The order page (API composition): the order, Payments' view of its
// payments and Fulfillment's of its shipments, fetched concurrently from
// their APIs (Payments' GET /payments?order_id= answers {"payments":[...]},
// Fulfillment's GET /shipments?order_id= {"shipments":[...]}). The answers
// are decoded leniently into the local types below (unknown fields are
// ignored; an id is read as "id" or "<thing>_id"; a payment's attempts as a
// list or a count), then shown in the page's own types.

// paymentsAnswer is what Payments' GET /payments?order_id= answers.
type paymentsAnswer struct {
	Payments []struct {
		ID          string       `json:"id"`
		PaymentID   string       `json:"payment_id"`
		Status      string       `json:"status"`
		AmountCents int64        `json:"amount_cents"`
		Currency    string       `json:"currency"`
		Reason      string       `json:"reason"`
		Attempts    peerAttempts `json:"attempts"`
		Refunds     []struct {
			ID          string     `json:"id"`
			RefundID    string     `json:"refund_id"`
			Status      string     `json:"status"`
			AmountCents int64      `json:"amount_cents"`
			Reason      string     `json:"reason"`
			RefundedAt  *time.Time `json:"refunded_at"`
		} `json:"refunds"`
	} `json:"payments"`
}

type peerAttempt struct {
	N       int        `json:"n"`
	At      *time.Time `json:"at"`
	Outcome string     `json:"outcome"`
	Reason  string     `json:"reason"`
}

// peerAttempts reads a payment's attempts as a list of attempts or as a
// count of them (then only their numbers are known).
type peerAttempts []peerAttempt

func (a *peerAttempts) UnmarshalJSON(b []byte) error {
	var n int
	if err := json.Unmarshal(b, &n); err == nil {
		if n < 0 || n > 1000 {
			return fmt.Errorf("attempts: %d", n)
		}
		*a = make(peerAttempts, n)
		for i := range *a {
			(*a)[i].N = i + 1
		}
		return nil
	}
	var list []peerAttempt
	if err := json.Unmarshal(b, &list); err != nil {
		return err
	}
	*a = list
	return nil
}

// shipmentsAnswer is what Fulfillment's GET /shipments?order_id= answers.
type shipmentsAnswer struct {
	Shipments []struct {
		ID           string     `json:"id"`
		ShipmentID   string     `json:"shipment_id"`
		Status       string     `json:"status"`
		Package      string     `json:"package"`
		DispatchedAt *time.Time `json:"dispatched_at"`
		CancelledAt  *time.Time `json:"cancelled_at"`
	} `json:"shipments"`
}

type pageAttemptJSON struct {
	N       int        `json:"n"`
	At      *time.Time `json:"at,omitempty"`
	Outcome string     `json:"outcome,omitempty"`
	Reason  string     `json:"reason,omitempty"`
}

type pageRefundJSON struct {
	ID          string     `json:"id,omitempty"`
	Status      string     `json:"status,omitempty"`
	AmountCents int64      `json:"amount_cents"`
	Reason      string     `json:"reason,omitempty"`
	RefundedAt  *time.Time `json:"refunded_at,omitempty"`
}

type pagePaymentJSON struct {
	ID          string            `json:"id,omitempty"`
	Status      string            `json:"status"`
	AmountCents int64             `json:"amount_cents"`
	Currency    string            `json:"currency,omitempty"`
	Reason      string            `json:"reason,omitempty"`
	Attempts    []pageAttemptJSON `json:"attempts"`
	Refunds     []pageRefundJSON  `json:"refunds"`
}

type pageShipmentJSON struct {
	ID           string     `json:"id,omitempty"`
	Status       string     `json:"status"`
	Package      string     `json:"package,omitempty"`
	DispatchedAt *time.Time `json:"dispatched_at,omitempty"`
	CancelledAt  *time.Time `json:"cancelled_at,omitempty"`
}

// orderPageJSON is the order page. Payments or Shipments is null when
// that peer could not be asked; Unavailable names those peers.
type orderPageJSON struct {
	Order       orderJSON          `json:"order"`
	Payments    []pagePaymentJSON  `json:"payments"`
	Shipments   []pageShipmentJSON `json:"shipments"`
	Unavailable []string           `json:"unavailable"`
}

func paymentsPart(ans paymentsAnswer) []pagePaymentJSON {
	out := make([]pagePaymentJSON, len(ans.Payments))
	for i, p := range ans.Payments {
		pp := pagePaymentJSON{ID: cmp.Or(p.ID, p.PaymentID), Status: p.Status, AmountCents: p.AmountCents, Currency: p.Currency,
			Reason: p.Reason, Attempts: make([]pageAttemptJSON, len(p.Attempts)), Refunds: make([]pageRefundJSON, len(p.Refunds))}
		for j, a := range p.Attempts {
			pp.Attempts[j] = pageAttemptJSON{N: a.N, At: a.At, Outcome: a.Outcome, Reason: a.Reason}
		}
		for j, rf := range p.Refunds {
			pp.Refunds[j] = pageRefundJSON{ID: cmp.Or(rf.ID, rf.RefundID), Status: rf.Status, AmountCents: rf.AmountCents, Reason: rf.Reason, RefundedAt: rf.RefundedAt}
		}
		out[i] = pp
	}
	return out
}

func shipmentsPart(ans shipmentsAnswer) []pageShipmentJSON {
	out := make([]pageShipmentJSON, len(ans.Shipments))
	for i, sh := range ans.Shipments {
		out[i] = pageShipmentJSON{ID: cmp.Or(sh.ID, sh.ShipmentID), Status: sh.Status, Package: sh.Package,
			DispatchedAt: sh.DispatchedAt, CancelledAt: sh.CancelledAt}
	}
	return out
}

func (s *orderService) handlePage(w http.ResponseWriter, r *http.Request) error {
	id, err := orderID(r)
	if err != nil {
		return err
	}
	o, err := s.loadOrder(r.Context(), id)
	if err != nil {
		return err
	}
	page := orderPageJSON{Order: orderToJSON(o), Unavailable: []string{}}
	var (
		pay             paymentsAnswer
		ship            shipmentsAnswer
		payErr, shipErr error
		wg              sync.WaitGroup
		byOrder         = "?order_id=" + url.QueryEscape(id)
	)
	wg.Go(func() { payErr = s.peer(r.Context(), "payments", "/payments"+byOrder, &pay) })
	wg.Go(func() { shipErr = s.peer(r.Context(), "fulfillment", "/shipments"+byOrder, &ship) })
	wg.Wait()
	if payErr != nil {
		page.Unavailable = append(page.Unavailable, "payments")
	} else {
		page.Payments = paymentsPart(pay)
	}
	if shipErr != nil {
		page.Unavailable = append(page.Unavailable, "fulfillment")
	} else {
		page.Shipments = shipmentsPart(ship)
	}
	return httpapi.WriteJSON(w, http.StatusOK, page)
}

// peer asks another service, within the configured timeout. A failure is
// logged here, once, and shown on the page as the peer being unavailable.
func (s *orderService) peer(ctx context.Context, name, path string, v any) error {
	if s.env.Peers == nil {
		return errors.New("no peers configured")
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.PeerTimeout)
	defer cancel()
	err := s.env.Peers.Get(ctx, name, path, v)
	if err != nil && s.env.Logger != nil {
		s.env.Logger.Warn("order page: peer unavailable", "peer", name, "path", path, "err", err)
	}
	return err
}
