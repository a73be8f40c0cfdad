package payments_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/bounded-dev/bounded/platform/contract"
	"github.com/bounded-dev/bounded/platform/servicetest"
	"github.com/bounded-dev/bounded/platform/sqldb"
	"github.com/bounded-dev/bounded/platform/testenv"
	ordersevents "github.com/bounded-dev/bounded/services/orders/events"
	"github.com/bounded-dev/bounded/services/payments"
	"github.com/bounded-dev/bounded/services/payments/events"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// shop is Payments running on a harness with a gateway the test can see.
type shop struct {
	*servicetest.Harness
	sim *payments.Simulator
}

// start runs Payments on dialect d with cfg; a nil Gateway becomes a fresh
// Simulator (returned), and an unset backoff or VerifyAfter a short one.
func start(t *testing.T, d sqldb.Dialect, cfg payments.Config, sim *payments.Simulator) *shop {
	t.Helper()
	if sim == nil {
		sim = payments.NewSimulator(payments.SimulatorConfig{})
	}
	if cfg.Gateway == nil {
		cfg.Gateway = sim
	}
	if cfg.RetryBackoff == 0 {
		cfg.RetryBackoff, cfg.MaxRetryBackoff = 10*time.Millisecond, 40*time.Millisecond
	}
	if cfg.VerifyAfter == 0 {
		cfg.VerifyAfter = 10 * time.Millisecond
	}
	return &shop{Harness: servicetest.Start(t, d, payments.Spec(cfg)), sim: sim}
}

func newOrderID(t testing.TB) string {
	t.Helper()
	id, err := uuid.NewV7()
	if err != nil {
		t.Fatal(err)
	}
	return id.String()
}

// confirm injects orders.order_confirmed for a new order of total cents,
// paid with token, and returns the order id.
func (s *shop) confirm(t *testing.T, token string, total int64) string {
	t.Helper()
	id := newOrderID(t)
	s.confirmOrder(t, id, token, total)
	return id
}

func (s *shop) confirmOrder(t *testing.T, orderID, token string, total int64) {
	t.Helper()
	s.Inject(t, servicetest.Event(t, ordersevents.Source, contract.TypeName(ordersevents.OrderConfirmed, 1), orderID,
		ordersevents.OrderConfirmedV1{OrderID: orderID, CartID: newOrderID(t), CustomerEmail: "ada@example.com",
			ShippingAddress: ordersevents.Address{Name: "Ada", Line1: "1 Main St", City: "Paris", PostalCode: "75001", Country: "FR"},
			PaymentToken:    token, Currency: "EUR", TotalCents: total, ConfirmedAt: time.Now().UTC(),
			Items: []ordersevents.Item{{SKU: "KETTLE-1", Name: "Kettle", Quantity: 1, UnitPriceCents: total}}}))
}

func (s *shop) cancel(t *testing.T, orderID, reason string) {
	t.Helper()
	s.Inject(t, servicetest.Event(t, ordersevents.Source, contract.TypeName(ordersevents.OrderCancelled, 1), orderID,
		ordersevents.OrderCancelledV1{OrderID: orderID, Reason: reason, PreviousStatus: "confirmed", TotalCents: 1,
			Currency: "EUR", CancelledAt: time.Now().UTC()}))
}

// handled is how many orders events Payments has applied.
func (s *shop) handled(t *testing.T) float64 {
	t.Helper()
	return s.Metric(t, "bounded_inbox_handled_total", "service", "payments")
}

// waitHandled waits until Payments has applied n orders events in all.
func (s *shop) waitHandled(t *testing.T, n float64) {
	t.Helper()
	servicetest.Eventually(t, 15*time.Second, fmt.Sprintf("%v events handled", n), func() bool { return s.handled(t) >= n })
}

// The API's JSON, decoded independently of the service's own types.
type attempt struct {
	N       int       `json:"n"`
	At      time.Time `json:"at"`
	Outcome string    `json:"outcome"`
	Reason  string    `json:"reason"`
}

type refund struct {
	ID          string     `json:"id"`
	PaymentID   string     `json:"payment_id"`
	OrderID     string     `json:"order_id"`
	Status      string     `json:"status"`
	AmountCents int64      `json:"amount_cents"`
	Currency    string     `json:"currency"`
	Reason      string     `json:"reason"`
	Attempts    int        `json:"attempts"`
	LastError   string     `json:"last_error"`
	CreatedAt   time.Time  `json:"created_at"`
	RefundedAt  *time.Time `json:"refunded_at"`
}

type payment struct {
	ID          string    `json:"id"`
	OrderID     string    `json:"order_id"`
	Status      string    `json:"status"`
	AmountCents int64     `json:"amount_cents"`
	Currency    string    `json:"currency"`
	Reason      string    `json:"reason"`
	Unknown     bool      `json:"outcome_unknown"`
	Attempts    []attempt `json:"attempts"`
	ChargeID    *string   `json:"charge_id"`
	Refunds     []refund  `json:"refunds"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// payments returns the order's payments as the API lists them.
func (s *shop) payments(t *testing.T, orderID string) []payment {
	t.Helper()
	var out struct {
		Payments []payment `json:"payments"`
	}
	s.MustJSON(t, "GET", "/payments/payments?order_id="+orderID, nil, false, http.StatusOK, &out)
	if out.Payments == nil {
		t.Fatalf("GET /payments?order_id=%s: payments is null, want a list", orderID)
	}
	return out.Payments
}

// waitStatus waits until the order has one payment in status and returns it.
func (s *shop) waitStatus(t *testing.T, orderID, status string) payment {
	t.Helper()
	var last []payment
	servicetest.Eventually(t, 15*time.Second, "payment of "+orderID+" "+status, func() bool {
		last = s.payments(t, orderID)
		return len(last) == 1 && last[0].Status == status
	})
	return last[0]
}

// waitEvent waits for a Payments event about the order and decodes it.
func waitEvent[T any](t *testing.T, s *shop, name, orderID string) (contract.Event, T) {
	t.Helper()
	e := s.WaitPublished(t, name, func(e contract.Event) bool { return e.Subject == orderID })
	v, err := contract.DecodeAs[T](events.Registry(), e)
	if err != nil {
		t.Fatalf("%s: %v", e.Type, err)
	}
	return e, v
}

// publishedAbout counts the events of type name published about the order.
func (s *shop) publishedAbout(name, orderID string) int {
	n := 0
	for _, e := range s.Published(name) {
		if e.Subject == orderID {
			n++
		}
	}
	return n
}

// gate is a Gateway that holds Charge calls for chosen tokens until the
// test releases them, then passes them to the Simulator: the test's way to
// have a gateway call in flight at a chosen moment.
type gate struct {
	*payments.Simulator
	token   string
	entered chan string // payment ids, as calls arrive
	release chan struct{}
	once    sync.Once
}

func newGate(sim *payments.Simulator, token string) *gate {
	return &gate{Simulator: sim, token: token, entered: make(chan string, 16), release: make(chan struct{})}
}

func (g *gate) Charge(ctx context.Context, req payments.ChargeRequest) (payments.Charge, error) {
	if req.Token == g.token {
		g.entered <- req.IdempotencyKey
		select {
		case <-g.release:
		case <-ctx.Done():
			return payments.Charge{}, ctx.Err()
		}
	}
	return g.Simulator.Charge(ctx, req)
}

func (g *gate) open() { g.once.Do(func() { close(g.release) }) }
