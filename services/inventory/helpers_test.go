package inventory_test

import (
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
	catalogevents "github.com/bounded-dev/bounded/services/catalog/events"
	fulfillmentevents "github.com/bounded-dev/bounded/services/fulfillment/events"
	"github.com/bounded-dev/bounded/services/inventory"
	"github.com/bounded-dev/bounded/services/inventory/events"
	ordersevents "github.com/bounded-dev/bounded/services/orders/events"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// shop is Inventory running on one dialect, with the supplier simulator it
// sends to, and the events injected into it so far.
type shop struct {
	*servicetest.Harness
	supplier *inventory.SupplierSimulator

	mu       sync.Mutex
	injected map[string]bool // event ids
}

func start(t *testing.T, d sqldb.Dialect) *shop {
	t.Helper()
	sup := inventory.NewSupplierSimulator()
	h := servicetest.Start(t, d, inventory.Spec(inventory.Config{Supplier: sup,
		RetryBackoff: func(int) time.Duration { return 100 * time.Millisecond }}))
	return &shop{Harness: h, supplier: sup, injected: map[string]bool{}}
}

// inject publishes e to Inventory as its producer would.
func (s *shop) inject(t testing.TB, e contract.Event) contract.Event {
	t.Helper()
	s.Inject(t, e)
	s.mu.Lock()
	s.injected[e.ID] = true
	s.mu.Unlock()
	return e
}

// settle waits until Inventory's consumers have dealt with every event
// injected so far (applied, found duplicate, or dead-lettered).
func (s *shop) settle(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	want := float64(len(s.injected))
	s.mu.Unlock()
	servicetest.Eventually(t, 20*time.Second, fmt.Sprintf("inventory to handle %v events", want), func() bool {
		return s.done(t) >= want
	})
}

func (s *shop) done(t testing.TB) float64 {
	return s.Metric(t, "bounded_inbox_handled_total", "service", "inventory") +
		s.Metric(t, "bounded_inbox_duplicates_total", "service", "inventory") +
		s.Metric(t, "bounded_inbox_dead_letters_total", "service", "inventory")
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// productV1 injects a product as Catalog published it before the
// description split.
func (s *shop) productV1(t testing.TB, sku, name, description string, version int64) {
	t.Helper()
	s.inject(t, servicetest.Event(t, catalogevents.Source, contract.TypeName(catalogevents.ProductUpdated, 1), sku,
		catalogevents.ProductUpdatedV1{SKU: sku, Name: name, Description: description, PriceCents: 1299, Currency: "EUR",
			Category: "kitchen", Active: true, Version: version}))
}

// productV2 injects a product as Catalog publishes it now: short and long
// descriptions, and the deprecated description (equal to the long one).
func (s *shop) productV2(t testing.TB, sku, name, short, long string, version int64, active bool) {
	t.Helper()
	s.inject(t, servicetest.Event(t, catalogevents.Source, contract.TypeName(catalogevents.ProductUpdated, 2), sku,
		catalogevents.ProductUpdatedV2{SKU: sku, Name: name, ShortDescription: short, LongDescription: long, Description: long,
			PriceCents: 1299, Currency: "EUR", Category: "kitchen", Active: active, Version: version}))
}

func orderConfirmed(t testing.TB, orderID string, lines ...events.Line) contract.Event {
	t.Helper()
	items := make([]ordersevents.Item, len(lines))
	var total int64
	for i, l := range lines {
		items[i] = ordersevents.Item{SKU: l.SKU, Name: "Item " + l.SKU, Quantity: l.Quantity, UnitPriceCents: 500}
		total += 500 * int64(l.Quantity)
	}
	return servicetest.Event(t, ordersevents.Source, contract.TypeName(ordersevents.OrderConfirmed, 1), orderID,
		ordersevents.OrderConfirmedV1{
			OrderID:         orderID,
			CartID:          newID(),
			CustomerEmail:   "ada@example.com",
			ShippingAddress: ordersevents.Address{Name: "Ada", Line1: "1 Loop St", City: "Cape Town", PostalCode: "8001", Country: "ZA"},
			PaymentToken:    "tok_visa",
			Currency:        "EUR",
			Items:           items,
			TotalCents:      total,
			ConfirmedAt:     time.Now().UTC(),
		})
}

func (s *shop) confirm(t testing.TB, orderID string, lines ...events.Line) {
	t.Helper()
	s.inject(t, orderConfirmed(t, orderID, lines...))
}

func (s *shop) cancel(t testing.TB, orderID, reason string) {
	t.Helper()
	s.inject(t, servicetest.Event(t, ordersevents.Source, contract.TypeName(ordersevents.OrderCancelled, 1), orderID,
		ordersevents.OrderCancelledV1{OrderID: orderID, Reason: reason, PreviousStatus: "confirmed", TotalCents: 1000,
			Currency: "EUR", CancelledAt: time.Now().UTC()}))
}

func dispatched(t testing.TB, orderID, shipmentID string, lines ...events.Line) contract.Event {
	items := make([]fulfillmentevents.Line, len(lines))
	for i, l := range lines {
		items[i] = fulfillmentevents.Line{SKU: l.SKU, Quantity: l.Quantity}
	}
	return servicetest.Event(t, fulfillmentevents.Source, contract.TypeName(fulfillmentevents.ShipmentDispatched, 1), orderID,
		fulfillmentevents.ShipmentDispatchedV1{ShipmentID: shipmentID, OrderID: orderID, Package: "small-box", Items: items,
			DispatchedAt: time.Now().UTC()})
}

// stock is GET /stock/{sku}'s answer.
type stock struct {
	SKU             string  `json:"sku"`
	OnHand          int     `json:"on_hand"`
	Reserved        int     `json:"reserved"`
	Available       int     `json:"available"`
	ReorderPoint    int     `json:"reorder_point"`
	ReorderQuantity int     `json:"reorder_quantity"`
	Name            *string `json:"name"`
	Description     *string `json:"description"`
	Active          *bool   `json:"active"`
	ProductVersion  *int64  `json:"product_version"`
	UpdatedAt       string  `json:"updated_at"`
}

func (s *shop) putStock(t testing.TB, sku string, onHand, reorderPoint, reorderQuantity int) stock {
	t.Helper()
	var out stock
	r := s.Do(t, "PUT", "/inventory/stock/"+sku, map[string]int{"on_hand": onHand, "reorder_point": reorderPoint,
		"reorder_quantity": reorderQuantity}, true)
	if r.Status != http.StatusOK && r.Status != http.StatusCreated {
		t.Fatalf("PUT stock %s: %d %s", sku, r.Status, r.Body)
	}
	r.Decode(t, &out)
	return out
}

func (s *shop) stock(t testing.TB, sku string) stock {
	t.Helper()
	var out stock
	s.MustJSON(t, "GET", "/inventory/stock/"+sku, nil, false, http.StatusOK, &out)
	return out
}

// purchaseOrder is a purchase order as the API shows it.
type purchaseOrder struct {
	ID            string   `json:"id"`
	SKU           string   `json:"sku"`
	Quantity      int      `json:"quantity"`
	Status        string   `json:"status"`
	Name          string   `json:"name"`
	Description   string   `json:"description"`
	Missing       []string `json:"missing"`
	Attempts      int      `json:"attempts"`
	LastError     string   `json:"last_error"`
	NextAttemptAt *string  `json:"next_attempt_at"`
	SentAt        *string  `json:"sent_at"`
	ReceivedAt    *string  `json:"received_at"`
}

func (s *shop) purchaseOrders(t testing.TB, query string) []purchaseOrder {
	t.Helper()
	var out struct {
		PurchaseOrders []purchaseOrder `json:"purchase_orders"`
		NextAfter      *string         `json:"next_after"`
	}
	s.MustJSON(t, "GET", "/inventory/purchase-orders"+query, nil, false, http.StatusOK, &out)
	return out.PurchaseOrders
}

// waitPO waits until sku has a purchase order in status, and returns it.
func (s *shop) waitPO(t testing.TB, sku, status string) purchaseOrder {
	t.Helper()
	var found purchaseOrder
	servicetest.Eventually(t, 20*time.Second, "a "+status+" purchase order for "+sku, func() bool {
		for _, po := range s.purchaseOrders(t, "?sku="+sku+"&status="+status) {
			found = po
			return true
		}
		return false
	})
	return found
}

// decode decodes e's data into v.
func decode[T any](t testing.TB, e contract.Event) T {
	t.Helper()
	v, err := contract.DecodeAs[T](events.Registry(), e)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// publishedData returns the data of every published event of name.
func publishedData[T any](t testing.TB, s *shop, name string, match func(T) bool) []T {
	t.Helper()
	var out []T
	for _, e := range s.Published(name) {
		v := decode[T](t, e)
		if match == nil || match(v) {
			out = append(out, v)
		}
	}
	return out
}

func line(sku string, q int) events.Line { return events.Line{SKU: sku, Quantity: q} }

type contractEvent = contract.Event
