package reporting

import (
	"net/http"
	"net/mail"
	"slices"
	"strings"
	"time"

	"github.com/bounded-dev/bounded/platform/httpapi"
)

// Reports lists the reports GET /reports/{name} answers, in the order
// `bounded report` shows them.
var Reports = []string{"sales-by-day", "sales-by-product", "sales-by-category", "funnel", "payments",
	"lead-time", "stockouts", "purchase-orders"}

// routes is the service's HTTP API, relative to /reporting (see
// openapi.json).
func (s *reporting) routes() *httpapi.Mux {
	mux := httpapi.NewMux(httpapi.MuxConfig{Logger: s.log, AdminToken: s.env.AdminToken})
	mux.Handle("GET /reports", s.listReports)
	mux.Handle("GET /reports/{name}", s.whenBuilt(s.report))
	mux.Handle("GET /order-history", s.whenBuilt(s.orderHistory))
	mux.Handle("GET /watermarks", s.whenBuilt(s.watermarks))
	mux.Admin("POST /admin/rebuild", s.postRebuild)
	mux.Admin("GET /admin/rebuild", s.getRebuild)
	mux.Admin("GET /admin/rebuild/{id}", s.getRebuild)
	mux.Admin("GET /totals", s.getTotals)
	mux.Admin("GET /admin/export", s.listExports)
	mux.Admin("GET /admin/export/{table}", s.whenBuilt(s.exportTable))
	return mux
}

// defaultLimit is the rows a report answers with when no limit is given.
const defaultLimit = 50

// reportQuery is a report's query: the period and the row limit.
type reportQuery struct {
	period
	limit int
}

// parseQuery reads from, to and limit, refusing any other parameter (a
// typo would otherwise silently give the unfiltered report).
func (s *reporting) parseQuery(r *http.Request, allowed ...string) (reportQuery, error) {
	var q reportQuery
	vals := r.URL.Query()
	for k := range vals {
		if !slices.Contains(allowed, k) {
			return q, httpapi.Errorf(httpapi.ErrInvalid, "unknown query parameter %q; this report takes %s", k, strings.Join(allowed, ", "))
		}
		if len(vals[k]) > 1 {
			return q, httpapi.Errorf(httpapi.ErrInvalid, "query parameter %s given %d times", k, len(vals[k]))
		}
	}
	for _, p := range []struct {
		name string
		t    *time.Time
	}{{"from", &q.From}, {"to", &q.To}} {
		v := vals.Get(p.name)
		if v == "" {
			continue
		}
		t, err := time.Parse(time.DateOnly, v)
		if err != nil {
			return q, httpapi.Errorf(httpapi.ErrInvalid, "query parameter %s=%q: want a date YYYY-MM-DD (UTC)", p.name, v)
		}
		*p.t = t
	}
	if !q.From.IsZero() && !q.To.IsZero() && q.To.Before(q.From) {
		return q, httpapi.Errorf(httpapi.ErrInvalid, "the period is empty: to (%s) is before from (%s)", vals.Get("to"), vals.Get("from"))
	}
	var err error
	q.limit, err = httpapi.QueryInt(r, "limit", defaultLimit, 1, s.cfg.MaxLimit)
	return q, err
}

// reportResponse wraps every report: its name, its period and its figures.
type reportResponse struct {
	Report string `json:"report"`
	From   string `json:"from,omitempty"`
	To     string `json:"to,omitempty"`
	// AsOf is when the report was computed; the watermarks say how far
	// the warehouse had got by then.
	AsOf time.Time `json:"as_of"`
	Data any       `json:"data"`
}

func (s *reporting) report(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if !slices.Contains(Reports, name) {
		return httpapi.Errorf(httpapi.ErrNotFound, "no report %q; the reports are %s", name, strings.Join(Reports, ", "))
	}
	allowed := []string{"from", "to"}
	switch name {
	case "sales-by-day", "sales-by-product", "sales-by-category", "stockouts", "purchase-orders":
		allowed = append(allowed, "limit")
	}
	q, err := s.parseQuery(r, allowed...)
	if err != nil {
		return err
	}
	ctx, db := r.Context(), s.env.DB
	var data any
	switch name {
	case "sales-by-day":
		data, err = wrapRows(sales(ctx, db, byDay, q.period, q.limit))
	case "sales-by-product":
		data, err = wrapRows(sales(ctx, db, byProduct, q.period, q.limit))
	case "sales-by-category":
		data, err = wrapRows(sales(ctx, db, byCategory, q.period, q.limit))
	case "funnel":
		data, err = funnel(ctx, db, q.period)
	case "payments":
		data, err = payments(ctx, db, q.period)
	case "lead-time":
		var lt []LeadTime
		lt, err = leadTimes(ctx, db, q.period)
		data = map[string]any{"measures": lt}
	case "stockouts":
		data, err = stockouts(ctx, db, q.period, q.limit)
	case "purchase-orders":
		data, err = purchaseOrders(ctx, db, q.period, q.limit)
	}
	if err != nil {
		return err
	}
	out := reportResponse{Report: name, AsOf: time.Now().UTC(), Data: data}
	if !q.From.IsZero() {
		out.From = q.From.Format(time.DateOnly)
	}
	if !q.To.IsZero() {
		out.To = q.To.Format(time.DateOnly)
	}
	return httpapi.WriteJSON(w, http.StatusOK, out)
}

func wrapRows(rows []SalesRow, err error) (any, error) {
	return map[string]any{"rows": rows}, err
}

func (s *reporting) listReports(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.parseQuery(r); err != nil {
		return err
	}
	return httpapi.WriteJSON(w, http.StatusOK, map[string]any{"reports": Reports})
}

type historyResponse struct {
	CustomerEmail string         `json:"customer_email"`
	AsOf          time.Time      `json:"as_of"`
	Orders        []HistoryOrder `json:"orders"`
}

func (s *reporting) orderHistory(w http.ResponseWriter, r *http.Request) error {
	q, err := s.parseQuery(r, "customer_email", "limit")
	if err != nil {
		return err
	}
	email := r.URL.Query().Get("customer_email")
	if email == "" {
		return httpapi.Errorf(httpapi.ErrInvalid, "query parameter customer_email is required")
	}
	if a, err := mail.ParseAddress(email); err != nil || a.Address != strings.TrimSpace(email) || len(email) > 254 {
		return httpapi.Errorf(httpapi.ErrInvalid, "query parameter customer_email=%q: not an email address", email)
	}
	orders, err := orderHistory(r.Context(), s.env.DB, email, q.limit)
	if err != nil {
		return err
	}
	return httpapi.WriteJSON(w, http.StatusOK, historyResponse{CustomerEmail: normalEmail(email), AsOf: time.Now().UTC(), Orders: orders})
}

func (s *reporting) watermarks(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.parseQuery(r); err != nil {
		return err
	}
	ws, err := watermarks(r.Context(), s.env.DB)
	if err != nil {
		return err
	}
	return httpapi.WriteJSON(w, http.StatusOK, map[string]any{"as_of": time.Now().UTC(), "streams": ws})
}
