package inventory

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// SupplierOrder is a purchase order as the supplier receives it.
type SupplierOrder struct {
	ID          string // the purchase order's id: the supplier's idempotency key
	SKU         string
	Name        string
	Description string
	Quantity    int64
}

// ErrRejected marks a supplier's refusal of a purchase order: sending the
// same order again will not help.
var ErrRejected = errors.New("rejected by the supplier")

// Supplier is where complete purchase orders go.
//
// PlaceOrder returns nil once the supplier has accepted po; an error
// wrapping ErrRejected when the supplier refuses it (the purchase order
// becomes rejected); any other error when the outcome is unknown or the
// supplier is unavailable (the purchase order is sent again after a
// backoff). It must be idempotent per po.ID: after a lost answer or a crash
// the same order is sent again, and must not be delivered twice. Inventory
// never calls it inside a database transaction, and only with a complete
// order. It must be safe for concurrent use and honour ctx.
type Supplier interface {
	PlaceOrder(ctx context.Context, po SupplierOrder) error
}

var _ Supplier = (*SupplierSimulator)(nil)

// SupplierSimulator is the bundled Supplier. It records every order it
// accepts, and refuses (with ErrRejected) any order lacking a name or a
// description — recording those separately, so that a test can prove that
// nothing incomplete was ever sent. Tests can also make it fail for a while
// or refuse a SKU. It is safe for concurrent use.
//
// Its memory is its process's: replicas of Inventory with the default
// supplier have a simulator each. That is harmless, and is kept so: the
// simulator's records are read only by tests, and a replica claims a
// purchase order before sending it, so only a replica that dies during the
// call makes another send the order again, to its own simulator, which
// accepts it a second time where a real supplier (one service, deduping by
// id) would not. Tests that run replicas give them one SupplierSimulator,
// as they would have one supplier.
type SupplierSimulator struct {
	mu       sync.Mutex
	accepted []SupplierOrder
	refused  []SupplierOrder // incomplete orders it was sent
	seen     map[string]bool
	failNext int
	rejects  map[string]string // SKU → reason
}

// NewSupplierSimulator returns a simulator that accepts every complete order.
func NewSupplierSimulator() *SupplierSimulator {
	return &SupplierSimulator{seen: map[string]bool{}, rejects: map[string]string{}}
}

// PlaceOrder implements Supplier.
func (s *SupplierSimulator) PlaceOrder(ctx context.Context, po SupplierOrder) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failNext > 0 {
		s.failNext--
		return errors.New("supplier simulator: temporarily unavailable (503)")
	}
	var missing []string
	if strings.TrimSpace(po.Name) == "" {
		missing = append(missing, "name")
	}
	if strings.TrimSpace(po.Description) == "" {
		missing = append(missing, "description")
	}
	if len(missing) > 0 {
		s.refused = append(s.refused, po)
		return fmt.Errorf("%w: purchase order %s for %s lacks %s", ErrRejected, po.ID, po.SKU, strings.Join(missing, " and "))
	}
	if reason, ok := s.rejects[po.SKU]; ok {
		return fmt.Errorf("%w: purchase order %s for %s: %s", ErrRejected, po.ID, po.SKU, reason)
	}
	if s.seen[po.ID] {
		return nil // idempotent: the same order again is no new order
	}
	s.seen[po.ID] = true
	s.accepted = append(s.accepted, po)
	return nil
}

// Received returns the orders the simulator accepted, in order, each once.
func (s *SupplierSimulator) Received() []SupplierOrder {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SupplierOrder(nil), s.accepted...)
}

// Refused returns the incomplete orders it was sent (and refused). In a
// correct Inventory it is always empty.
func (s *SupplierSimulator) Refused() []SupplierOrder {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SupplierOrder(nil), s.refused...)
}

// FailNext makes the next n calls fail as if the supplier were unavailable.
func (s *SupplierSimulator) FailNext(n int) {
	s.mu.Lock()
	s.failNext = n
	s.mu.Unlock()
}

// RejectSKU makes the simulator refuse orders for sku with reason; an empty
// reason lifts the refusal.
func (s *SupplierSimulator) RejectSKU(sku, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if reason == "" {
		delete(s.rejects, sku)
		return
	}
	s.rejects[sku] = reason
}
