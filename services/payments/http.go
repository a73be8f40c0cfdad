package payments

import (
	"net/http"
	"net/url"
	"time"

	"github.com/bounded-dev/bounded/platform/httpapi"
	"github.com/bounded-dev/bounded/platform/service"
)

func (s *svc) routes(env service.Env) *httpapi.Mux {
	mux := httpapi.NewMux(httpapi.MuxConfig{Logger: env.Logger, AdminToken: env.AdminToken})
	mux.Handle("GET /payments", s.listPayments)
	mux.Handle("GET /payments/{id}", s.getPayment)
	mux.Handle("GET /refunds", s.listRefunds)
	mux.Admin("GET /stats", httpapi.Read(s.stats)) // admin: the business's totals are for its operators
	return mux
}

// Responses. Times are UTC RFC 3339; an absent one (a refund not yet made)
// is null.

type paymentsResponse struct {
	Payments []paymentResponse `json:"payments"`
}

type paymentResponse struct {
	ID             string            `json:"id"`
	OrderID        string            `json:"order_id"`
	Status         PaymentStatus     `json:"status"`
	AmountCents    int64             `json:"amount_cents"`
	Currency       string            `json:"currency"`
	Reason         string            `json:"reason,omitempty"`
	OutcomeUnknown bool              `json:"outcome_unknown"`
	Attempts       []attemptResponse `json:"attempts"`
	ChargeID       *string           `json:"charge_id"`
	Refunds        []refundResponse  `json:"refunds"`
	CreatedAt      time.Time         `json:"created_at"`
	UpdatedAt      time.Time         `json:"updated_at"`
}

type attemptResponse struct {
	N       int       `json:"n"`
	At      time.Time `json:"at"`
	Outcome Outcome   `json:"outcome"`
	Reason  string    `json:"reason,omitempty"`
}

type refundsResponse struct {
	Refunds []refundResponse `json:"refunds"`
}

type refundResponse struct {
	ID          string       `json:"id"`
	PaymentID   string       `json:"payment_id"`
	OrderID     string       `json:"order_id"`
	Status      RefundStatus `json:"status"`
	AmountCents int64        `json:"amount_cents"`
	Currency    string       `json:"currency"`
	Reason      string       `json:"reason"`
	Attempts    int          `json:"attempts"`
	LastError   string       `json:"last_error,omitempty"`
	CreatedAt   time.Time    `json:"created_at"`
	RefundedAt  *time.Time   `json:"refunded_at"`
}

func toPaymentResponse(v *paymentView) paymentResponse {
	p := v.payment
	out := paymentResponse{ID: p.id, OrderID: p.orderID, Status: p.status, AmountCents: p.amountCents,
		Currency: p.currency, Reason: p.reason, OutcomeUnknown: p.OutcomeUnknown(), Attempts: make([]attemptResponse, 0, len(v.attempts)),
		Refunds: make([]refundResponse, 0, len(v.refunds)), CreatedAt: p.createdAt, UpdatedAt: p.updatedAt}
	if p.chargeID != "" {
		out.ChargeID = &p.chargeID
	}
	for _, a := range v.attempts {
		out.Attempts = append(out.Attempts, attemptResponse{N: a.N, At: a.At, Outcome: a.Outcome, Reason: a.Reason})
	}
	for _, r := range v.refunds {
		out.Refunds = append(out.Refunds, toRefundResponse(r))
	}
	return out
}

func toRefundResponse(r *Refund) refundResponse {
	out := refundResponse{ID: r.id, PaymentID: r.paymentID, OrderID: r.orderID, Status: r.status,
		AmountCents: r.amountCents, Currency: r.currency, Reason: r.reason, Attempts: r.attempts,
		LastError: r.lastError, CreatedAt: r.createdAt}
	if !r.refundedAt.IsZero() {
		t := r.refundedAt
		out.RefundedAt = &t
	}
	return out
}

// parseOrderQuery reads the query of GET /payments and GET /refunds: exactly
// one order_id, a UUID, and no other parameter. Errors are ErrInvalid with
// a message that says what is wrong.
func parseOrderQuery(q url.Values) (string, error) {
	for k := range q {
		if k != "order_id" {
			return "", httpapi.Errorf(httpapi.ErrInvalid, "unknown query parameter %q; the only one is order_id", truncate(k, 64))
		}
	}
	ids := q["order_id"]
	switch {
	case len(ids) == 0 || (len(ids) == 1 && ids[0] == ""):
		return "", httpapi.Errorf(httpapi.ErrInvalid, "query parameter order_id is required")
	case len(ids) > 1:
		return "", httpapi.Errorf(httpapi.ErrInvalid, "query parameter order_id is given %d times; give it once", len(ids))
	}
	if err := validOrderID(ids[0]); err != nil {
		return "", httpapi.Errorf(httpapi.ErrInvalid, "query parameter order_id=%q: want a UUID", truncate(ids[0], 64))
	}
	return ids[0], nil
}

// parseQuery parses a request's raw query strictly (a malformed escape is
// a 400, not silently dropped).
func parseQuery(r *http.Request) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, httpapi.Errorf(httpapi.ErrInvalid, "malformed query string: %v", err)
	}
	return q, nil
}

func (s *svc) listPayments(w http.ResponseWriter, r *http.Request) error {
	q, err := parseQuery(r)
	if err != nil {
		return err
	}
	orderID, err := parseOrderQuery(q)
	if err != nil {
		return err
	}
	views, err := readPayments(r.Context(), s.db.Reader(), s.db.Dialect(), "order_id", orderID)
	if err != nil {
		return err
	}
	out := paymentsResponse{Payments: make([]paymentResponse, 0, len(views))}
	for _, v := range views {
		out.Payments = append(out.Payments, toPaymentResponse(v))
	}
	return httpapi.WriteJSON(w, http.StatusOK, out)
}

func (s *svc) getPayment(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	notFound := httpapi.Errorf(httpapi.ErrNotFound, "no payment %q", truncate(id, 64))
	if validOrderID(id) != nil { // payment ids are UUIDs too: anything else is unknown
		return notFound
	}
	views, err := readPayments(r.Context(), s.db.Reader(), s.db.Dialect(), "id", id)
	if err != nil {
		return err
	}
	if len(views) == 0 {
		return notFound
	}
	return httpapi.WriteJSON(w, http.StatusOK, toPaymentResponse(views[0]))
}

func (s *svc) listRefunds(w http.ResponseWriter, r *http.Request) error {
	q, err := parseQuery(r)
	if err != nil {
		return err
	}
	orderID, err := parseOrderQuery(q)
	if err != nil {
		return err
	}
	refunds, err := readRefunds(r.Context(), s.db.Reader(), s.db.Dialect(), "order_id = $1", orderID)
	if err != nil {
		return err
	}
	out := refundsResponse{Refunds: make([]refundResponse, 0, len(refunds))}
	for _, rf := range refunds {
		out.Refunds = append(out.Refunds, toRefundResponse(rf))
	}
	return httpapi.WriteJSON(w, http.StatusOK, out)
}
