package inventory

import (
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/bounded-dev/bounded/platform/httpapi"
	"github.com/bounded-dev/bounded/platform/sqldb"
	"github.com/bounded-dev/bounded/services/inventory/events"
)

// routes serves Inventory's API (under /inventory on the host).
func (s *svc) routes() *httpapi.Mux {
	mux := httpapi.NewMux(httpapi.MuxConfig{Logger: s.env.Logger, AdminToken: s.env.AdminToken})
	mux.Handle("GET /stock", s.listStock)
	mux.Handle("GET /stock/{sku}", s.getStock)
	mux.Admin("PUT /stock/{sku}", s.putStock)
	mux.Handle("GET /reservations", s.getReservations)
	mux.Handle("GET /purchase-orders", s.listPurchaseOrders)
	mux.Handle("GET /purchase-orders/{id}", s.getPurchaseOrder)
	mux.Admin("POST /purchase-orders/{id}/receive", s.receivePurchaseOrder)
	mux.Admin("GET /stats", httpapi.Read(s.stats)) // admin: the business's totals are for its operators
	return mux
}

// --- request and response types (JSON, snake_case), apart from the domain's

// stockRequest is the body of PUT /stock/{sku}. Every field is required
// (pointers tell a missing field from a zero).
type stockRequest struct {
	OnHand          *int64 `json:"on_hand"`
	ReorderPoint    *int64 `json:"reorder_point"`
	ReorderQuantity *int64 `json:"reorder_quantity"`
}

// settings validates the request. Errors are of kind httpapi.ErrInvalid.
func (r stockRequest) settings() (StockSettings, error) {
	var missing []string
	if r.OnHand == nil {
		missing = append(missing, "on_hand")
	}
	if r.ReorderPoint == nil {
		missing = append(missing, "reorder_point")
	}
	if r.ReorderQuantity == nil {
		missing = append(missing, "reorder_quantity")
	}
	if len(missing) > 0 {
		return StockSettings{}, httpapi.Errorf(httpapi.ErrInvalid, "request body: missing %v; send on_hand (>= 0), reorder_point (>= 0) and reorder_quantity (>= 1)", missing)
	}
	s, err := NewStockSettings(*r.OnHand, *r.ReorderPoint, *r.ReorderQuantity)
	if err != nil {
		return StockSettings{}, httpapi.Errorf(httpapi.ErrInvalid, "request body: %v", err)
	}
	return s, nil
}

type stockJSON struct {
	SKU             string  `json:"sku"`
	OnHand          int64   `json:"on_hand"`
	Reserved        int64   `json:"reserved"`
	Available       int64   `json:"available"`
	ReorderPoint    int64   `json:"reorder_point"`
	ReorderQuantity int64   `json:"reorder_quantity"`
	Name            *string `json:"name"`            // from Inventory's product copy; null when no product event arrived
	Description     *string `json:"description"`     // likewise
	Active          *bool   `json:"active"`          // likewise
	ProductVersion  *int64  `json:"product_version"` // likewise
	UpdatedAt       string  `json:"updated_at"`
}

func toStockJSON(v stockView) stockJSON {
	j := stockJSON{SKU: v.SKU, OnHand: v.OnHand, Reserved: v.Reserved, Available: v.Available(), ReorderPoint: v.ReorderPoint,
		ReorderQuantity: v.ReorderQuantity, UpdatedAt: rfc3339(v.UpdatedAt)}
	if p := v.Product; p != nil {
		j.Name, j.Description, j.Active, j.ProductVersion = &p.Name, &p.Description, &p.Active, &p.Version
	}
	return j
}

type stockListJSON struct {
	Items     []stockJSON `json:"items"`
	NextAfter *string     `json:"next_after"` // pass as ?after= for the next page; null on the last
}

type lineJSON struct {
	SKU      string `json:"sku"`
	Quantity int64  `json:"quantity"`
}

type reservationJSON struct {
	ID            string     `json:"id"`
	OrderID       string     `json:"order_id"`
	Status        string     `json:"status"`
	Items         []lineJSON `json:"items"`
	ShipmentID    string     `json:"shipment_id,omitempty"`
	ReleaseReason string     `json:"release_reason,omitempty"`
	CreatedAt     string     `json:"created_at"`
	UpdatedAt     string     `json:"updated_at"`
}

type failureJSON struct {
	OrderID   string            `json:"order_id"`
	Reason    string            `json:"reason"`
	Shortages []events.Shortage `json:"shortages"`
	FailedAt  string            `json:"failed_at"`
}

type reservationsJSON struct {
	Reservations []reservationJSON `json:"reservations"`
	// Failure is set when the order could not be reserved (nothing was).
	Failure *failureJSON `json:"failure"`
}

type purchaseOrderJSON struct {
	ID             string   `json:"id"`
	SKU            string   `json:"sku"`
	Quantity       int64    `json:"quantity"`
	Status         string   `json:"status"`
	Name           string   `json:"name"`
	Description    string   `json:"description"`
	Missing        []string `json:"missing"`
	ProductVersion int64    `json:"product_version"`
	Attempts       int      `json:"attempts"`
	LastError      string   `json:"last_error"`
	NextAttemptAt  *string  `json:"next_attempt_at"` // when a retrying order is sent again
	CreatedAt      string   `json:"created_at"`
	UpdatedAt      string   `json:"updated_at"`
	SentAt         *string  `json:"sent_at"`
	ReceivedAt     *string  `json:"received_at"`
}

func toPOJSON(po PurchaseOrder) purchaseOrderJSON {
	j := purchaseOrderJSON{ID: po.ID, SKU: po.SKU, Quantity: po.Quantity, Status: string(po.Status), Name: po.Name,
		Description: po.Description, Missing: po.Missing, ProductVersion: po.ProductVersion, Attempts: po.Attempts,
		LastError: po.LastError, CreatedAt: rfc3339(po.CreatedAt), UpdatedAt: rfc3339(po.UpdatedAt),
		SentAt: rfc3339Ptr(po.SentAt), ReceivedAt: rfc3339Ptr(po.ReceivedAt)}
	if j.Missing == nil {
		j.Missing = []string{}
	}
	if po.Status == PORetrying || po.Status == POPending {
		j.NextAttemptAt = rfc3339Ptr(&po.NextAttemptAt)
	}
	return j
}

type purchaseOrderListJSON struct {
	PurchaseOrders []purchaseOrderJSON `json:"purchase_orders"`
	NextAfter      *string             `json:"next_after"`
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func rfc3339Ptr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := rfc3339(*t)
	return &s
}

// --- input

func pathSKU(r *http.Request) (string, error) {
	sku := r.PathValue("sku")
	if err := checkSKU(sku); err != nil {
		return "", httpapi.Errorf(httpapi.ErrInvalid, "path: %v", err)
	}
	return sku, nil
}

func pathPOID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if _, err := uuid.Parse(id); err != nil || len(id) != 36 {
		return "", httpapi.Errorf(httpapi.ErrInvalid, "purchase order id %q: want a UUID such as 0195a3c4-1b2c-7d3e-8f40-5a6b7c8d9e0f", id)
	}
	return id, nil
}

// --- handlers

func (s *svc) listStock(w http.ResponseWriter, r *http.Request) error {
	limit, err := httpapi.QueryInt(r, "limit", defaultPage, 1, maxPage)
	if err != nil {
		return err
	}
	after := r.URL.Query().Get("after")
	if after != "" {
		if err := checkSKU(after); err != nil {
			return httpapi.Errorf(httpapi.ErrInvalid, "query parameter after: %v", err)
		}
	}
	views, err := s.st.listStock(r.Context(), s.env.DB.Reader(), after, limit+1)
	if err != nil {
		return err
	}
	out := stockListJSON{Items: []stockJSON{}}
	if len(views) > limit {
		views = views[:limit]
		out.NextAfter = &views[limit-1].SKU
	}
	for _, v := range views {
		out.Items = append(out.Items, toStockJSON(v))
	}
	return httpapi.WriteJSON(w, http.StatusOK, out)
}

func (s *svc) getStock(w http.ResponseWriter, r *http.Request) error {
	sku, err := pathSKU(r)
	if err != nil {
		return err
	}
	v, ok, err := s.st.stockView(r.Context(), s.env.DB.Reader(), sku)
	if err != nil {
		return err
	}
	if !ok {
		return httpapi.Errorf(httpapi.ErrNotFound, "no stock item for SKU %s; an admin creates one with PUT /inventory/stock/%s", sku, sku)
	}
	return httpapi.WriteJSON(w, http.StatusOK, toStockJSON(v))
}

// putStock creates or sets a SKU's stock and publishes the adjustment.
func (s *svc) putStock(w http.ResponseWriter, r *http.Request) error {
	sku, err := pathSKU(r)
	if err != nil {
		return err
	}
	var req stockRequest
	if err := httpapi.Decode(r, &req); err != nil {
		return err
	}
	set, err := req.settings()
	if err != nil {
		return err
	}
	ctx, t := r.Context(), now()
	var created bool
	var view stockView
	err = s.env.DB.Transact(ctx, func(tx *sqldb.Tx) error {
		before, after, err := s.st.setStock(ctx, tx, sku, set, t)
		if err != nil {
			return err
		}
		created = before == nil
		var dOnHand int64
		if before != nil {
			dOnHand = after.OnHand - before.OnHand
		} else {
			dOnHand = after.OnHand
		}
		ev, err := stockChanged(after, dOnHand, 0, events.StockAdjustment, "", t)
		if err != nil {
			return err
		}
		if view, _, err = s.st.stockView(ctx, tx, sku); err != nil {
			return err
		}
		s.wakeIfLow(tx, after)
		return s.env.Outbox.Record(ctx, tx, ev)
	})
	var below errBelowReserved
	switch {
	case errors.As(err, &below):
		return httpapi.Errorf(httpapi.ErrConflict, "%v", below)
	case errors.Is(err, errConcurrent):
		return httpapi.Errorf(httpapi.ErrConflict, "stock item %s: %v", sku, err)
	case err != nil:
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return httpapi.WriteJSON(w, status, toStockJSON(view))
}

func (s *svc) getReservations(w http.ResponseWriter, r *http.Request) error {
	orderID := r.URL.Query().Get("order_id")
	if orderID == "" || len(orderID) > maxIDLength {
		return httpapi.Errorf(httpapi.ErrInvalid, "query parameter order_id: required, 1 to %d characters (the order's id)", maxIDLength)
	}
	if !utf8.ValidString(orderID) || strings.ContainsRune(orderID, 0) {
		// PostgreSQL refuses such text: asking it would answer 500.
		return httpapi.Errorf(httpapi.ErrInvalid, "query parameter order_id: not valid UTF-8, or holds NUL")
	}
	ctx, db := r.Context(), s.env.DB.Reader()
	res, err := s.st.reservation(ctx, db, orderID)
	if err != nil {
		return err
	}
	fail, err := s.st.failure(ctx, db, orderID)
	if err != nil {
		return err
	}
	out := reservationsJSON{Reservations: []reservationJSON{}}
	if res != nil {
		j := reservationJSON{ID: res.ID, OrderID: res.OrderID, Status: string(res.Status), Items: []lineJSON{},
			ShipmentID: res.ShipmentID, ReleaseReason: res.ReleaseReason, CreatedAt: rfc3339(res.CreatedAt), UpdatedAt: rfc3339(res.UpdatedAt)}
		for _, l := range res.Lines {
			j.Items = append(j.Items, lineJSON(l))
		}
		out.Reservations = append(out.Reservations, j)
	}
	if fail != nil {
		out.Failure = &failureJSON{OrderID: fail.OrderID, Reason: fail.Reason, Shortages: shortagesOrEmpty(fail.Shortages), FailedAt: rfc3339(fail.FailedAt)}
	}
	return httpapi.WriteJSON(w, http.StatusOK, out)
}

func (s *svc) listPurchaseOrders(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := poFilter{After: q.Get("after")}
	var err error
	if f.Limit, err = httpapi.QueryInt(r, "limit", defaultPage, 1, maxPage); err != nil {
		return err
	}
	if st := q.Get("status"); st != "" {
		if f.Status, err = parsePOStatus(st); err != nil {
			return httpapi.Errorf(httpapi.ErrInvalid, "query parameter status: %v", err)
		}
	}
	if f.SKU = q.Get("sku"); f.SKU != "" {
		if err := checkSKU(f.SKU); err != nil {
			return httpapi.Errorf(httpapi.ErrInvalid, "query parameter sku: %v", err)
		}
	}
	if f.After != "" {
		if _, err := uuid.Parse(f.After); err != nil || len(f.After) != 36 {
			return httpapi.Errorf(httpapi.ErrInvalid, "query parameter after %q: want a purchase order id (a UUID)", f.After)
		}
	}
	want := f.Limit
	f.Limit++
	pos, err := s.st.purchaseOrders(r.Context(), s.env.DB.Reader(), f)
	if err != nil {
		return err
	}
	out := purchaseOrderListJSON{PurchaseOrders: []purchaseOrderJSON{}}
	if len(pos) > want {
		pos = pos[:want]
		out.NextAfter = &pos[want-1].ID
	}
	for _, po := range pos {
		out.PurchaseOrders = append(out.PurchaseOrders, toPOJSON(po))
	}
	return httpapi.WriteJSON(w, http.StatusOK, out)
}

func (s *svc) getPurchaseOrder(w http.ResponseWriter, r *http.Request) error {
	id, err := pathPOID(r)
	if err != nil {
		return err
	}
	po, ok, err := s.st.purchaseOrder(r.Context(), s.env.DB.Reader(), id)
	if err != nil {
		return err
	}
	if !ok {
		return httpapi.Errorf(httpapi.ErrNotFound, "no purchase order %s", id)
	}
	return httpapi.WriteJSON(w, http.StatusOK, toPOJSON(po))
}

// receivePurchaseOrder books a sent purchase order's goods into stock.
func (s *svc) receivePurchaseOrder(w http.ResponseWriter, r *http.Request) error {
	id, err := pathPOID(r)
	if err != nil {
		return err
	}
	ctx, t := r.Context(), now()
	var po PurchaseOrder
	var state error // the reason it cannot be received, if any
	err = s.env.DB.Transact(ctx, func(tx *sqldb.Tx) error {
		var ok bool
		var err error
		if po, ok, err = s.st.receivePO(ctx, tx, id, t); err != nil {
			return err
		}
		if !ok {
			have, found, err := s.st.purchaseOrder(ctx, tx, id)
			switch {
			case err != nil:
				return err
			case !found:
				state = httpapi.Errorf(httpapi.ErrNotFound, "no purchase order %s", id)
			default:
				state = httpapi.Errorf(httpapi.ErrConflict, "purchase order %s is %s; only a sent purchase order can be received", id, have.Status)
			}
			return nil
		}
		item, ok, err := s.st.moveStock(ctx, tx, po.SKU, po.Quantity, 0, t)
		if err != nil {
			return err
		}
		if !ok {
			return errors.New("receive purchase order " + id + ": the stock item of " + po.SKU + " is gone")
		}
		ev, err := stockChanged(item, po.Quantity, 0, events.StockPurchaseOrderReceived, po.ID, t)
		if err != nil {
			return err
		}
		// Still low after the delivery: the job opens the next order.
		s.wakeIfLow(tx, item)
		tx.AfterCommit(s.m.poReceived.Inc)
		return s.env.Outbox.Record(ctx, tx, ev)
	})
	if err != nil {
		return err
	}
	if state != nil {
		return state
	}
	return httpapi.WriteJSON(w, http.StatusOK, toPOJSON(po))
}
