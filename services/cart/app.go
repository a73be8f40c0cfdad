package cart

import (
	"context"
	"time"

	"github.com/bounded-dev/bounded/platform/sqldb"
	"github.com/bounded-dev/bounded/services/cart/events"
)

// The service's commands and queries. Each command is one transaction;
// every error is a domain *Error (shown to the client) or an internal one.

// now is the service's clock, in UTC and at the millisecond, the precision
// both dialects keep.
func (s *cartService) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Millisecond) }

// createCart opens a new cart, with the customer's email when given.
func (s *cartService) createCart(ctx context.Context, email string) (*Cart, error) {
	id, err := newID()
	if err != nil {
		return nil, err
	}
	c, err := NewCart(id, email, s.now())
	if err != nil {
		return nil, err
	}
	if err := s.env.DB.Transact(ctx, func(tx *sqldb.Tx) error { return s.store.insertCart(ctx, tx, c) }); err != nil {
		return nil, err
	}
	return c, nil
}

// cart reads a cart, outside any transaction.
func (s *cartService) cart(ctx context.Context, id string) (*Cart, error) {
	return s.store.cart(ctx, s.env.DB, id, false)
}

// update runs fn on cart id in a transaction, the cart locked against
// concurrent changes, and returns the cart as fn left it.
func (s *cartService) update(ctx context.Context, id string, fn func(tx *sqldb.Tx, c *Cart) error) (*Cart, error) {
	var c *Cart
	err := s.env.DB.Transact(ctx, func(tx *sqldb.Tx) error {
		var err error
		if c, err = s.store.cart(ctx, tx, id, true); err != nil {
			return err
		}
		return fn(tx, c)
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// setLine sets the quantity of sku in cart id, at the product's current
// price, adding the line if absent.
func (s *cartService) setLine(ctx context.Context, id, sku string, quantity int) (*Cart, error) {
	return s.update(ctx, id, func(tx *sqldb.Tx, c *Cart) error {
		if err := c.checkOpen(); err != nil {
			return err // before reading the product: 409 wins over 422
		}
		p, err := s.store.product(ctx, tx, sku)
		if err != nil {
			return err
		}
		l, err := c.SetLine(sku, p, quantity, s.cfg.MaxLines, s.now())
		if err != nil {
			return err
		}
		return s.store.saveLine(ctx, tx, c, l)
	})
}

// removeLine removes the line of sku from cart id.
func (s *cartService) removeLine(ctx context.Context, id, sku string) (*Cart, error) {
	return s.update(ctx, id, func(tx *sqldb.Tx, c *Cart) error {
		if err := c.RemoveLine(sku, s.now()); err != nil {
			return err
		}
		return s.store.deleteLine(ctx, tx, c, sku)
	})
}

// checkoutResult is the order a checkout made, or had made already.
type checkoutResult struct {
	cartID, orderID string
	// repeated: the cart was checked out before; nothing was done now.
	repeated bool
}

// checkout checks cart id out at the prices of Cart's product copy now, and
// records cart.checked_out in the same transaction. A cart checked out
// already answers with its order (an idempotent retry), without a second
// order.
func (s *cartService) checkout(ctx context.Context, id string, in Checkout) (checkoutResult, error) {
	var res checkoutResult
	_, err := s.update(ctx, id, func(tx *sqldb.Tx, c *Cart) error {
		if c.Status() == StatusCheckedOut {
			res = checkoutResult{cartID: c.ID(), orderID: c.OrderID(), repeated: true}
			return nil
		}
		orderID, err := newID()
		if err != nil {
			return err
		}
		data, err := c.Checkout(in, orderID, s.now())
		if err != nil {
			return err
		}
		e, err := events.NewCheckedOut(data)
		if err != nil {
			return err
		}
		if err := s.store.markCheckedOut(ctx, tx, c); err != nil {
			return err
		}
		if err := s.env.Outbox.Record(ctx, tx, e); err != nil {
			return err
		}
		tx.AfterCommit(s.metrics.checkouts.Inc)
		res = checkoutResult{cartID: c.ID(), orderID: orderID}
		return nil
	})
	return res, err
}
