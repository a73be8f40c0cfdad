package catalog

import (
	"context"
	"errors"
	"fmt"

	"github.com/bounded-dev/bounded/platform/sqldb"
	"github.com/bounded-dev/bounded/services/catalog/events"
)

// The commands: each change of an aggregate and its event commit in one
// transaction, so no change goes unpublished and nothing is published that
// did not happen.

// errConcurrentCreate: another transaction created the same aggregate
// between this one's read and its insert; running again sees it.
var errConcurrentCreate = errors.New("created concurrently")

// transact runs fn in a transaction, again (up to three times in all) when
// it lost a race to create the same aggregate.
func (s *catalogService) transact(ctx context.Context, fn func(tx *sqldb.Tx) error) error {
	var err error
	for range 3 {
		if err = s.env.DB.Transact(ctx, fn); !errors.Is(err, errConcurrentCreate) {
			return err
		}
	}
	return err
}

// putProduct creates or replaces the product sku with f and records
// product_updated (in the configured version) in the same transaction. A
// replacement that changes nothing writes and records nothing. Errors: a
// *ValidationError, an *UnknownCategoryError, or the database's.
func (s *catalogService) putProduct(ctx context.Context, sku string, f ProductFields) (p Product, created bool, err error) {
	at := now()
	if _, err := NewProduct(sku, f, at); err != nil {
		return Product{}, false, err // every rule but the category's existence, before any I/O
	}
	err = s.transact(ctx, func(tx *sqldb.Tx) error {
		created = false
		cur, found, err := s.store.product(ctx, tx, sku, true)
		if err != nil {
			return err
		}
		var next Product
		if found {
			var changed bool
			if next, changed, err = cur.Replace(f, at); err != nil || !changed {
				p = cur
				return err
			}
		} else if next, err = NewProduct(sku, f, at); err != nil {
			return err
		}
		if !found || next.f.Category != cur.f.Category {
			ok, err := s.store.categoryExists(ctx, tx, f.Category)
			if err != nil {
				return err
			}
			if !ok {
				return &UnknownCategoryError{Slug: f.Category}
			}
		}
		if found {
			err = s.store.updateProduct(ctx, tx, next)
		} else {
			var inserted bool
			if inserted, err = s.store.insertProduct(ctx, tx, next); err == nil && !inserted {
				return errConcurrentCreate
			}
		}
		if err != nil {
			return err
		}
		e, err := events.NewProductUpdated(s.cfg.ProductEventVersion, next.State())
		if err != nil {
			return fmt.Errorf("product %s: event: %w", sku, err)
		}
		if err := s.env.Outbox.Record(ctx, tx, e); err != nil {
			return err
		}
		change := "updated"
		if !found {
			change = "created"
		}
		tx.AfterCommit(func() { s.changes.WithLabelValues(change).Inc() })
		p, created = next, !found
		return nil
	})
	if err != nil {
		return Product{}, false, err
	}
	return p, created, nil
}

// putCategory creates or renames the category slug and records
// category_updated in the same transaction. A rename to the same name
// writes and records nothing. Errors: a *ValidationError or the database's.
func (s *catalogService) putCategory(ctx context.Context, slug, name string) (c Category, created bool, err error) {
	at := now()
	if _, err := NewCategory(slug, name, at); err != nil {
		return Category{}, false, err
	}
	err = s.transact(ctx, func(tx *sqldb.Tx) error {
		created = false
		cur, found, err := s.store.category(ctx, tx, slug, true)
		if err != nil {
			return err
		}
		var next Category
		if found {
			var changed bool
			if next, changed, err = cur.Rename(name, at); err != nil || !changed {
				c = cur
				return err
			}
			err = s.store.updateCategory(ctx, tx, next)
		} else {
			if next, err = NewCategory(slug, name, at); err != nil {
				return err
			}
			var inserted bool
			if inserted, err = s.store.insertCategory(ctx, tx, next); err == nil && !inserted {
				return errConcurrentCreate
			}
		}
		if err != nil {
			return err
		}
		e, err := events.NewCategoryUpdated(next.Event())
		if err != nil {
			return fmt.Errorf("category %s: event: %w", slug, err)
		}
		if err := s.env.Outbox.Record(ctx, tx, e); err != nil {
			return err
		}
		c, created = next, !found
		return nil
	})
	if err != nil {
		return Category{}, false, err
	}
	return c, created, nil
}
