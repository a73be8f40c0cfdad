package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/bounded-dev/bounded/platform/sqldb"
)

// store is Catalog's SQL. Every statement is written for PostgreSQL ($N)
// and rebound for SQLite. Times are timestamptz on PostgreSQL and INTEGER
// unix milliseconds on SQLite; booleans BOOLEAN and 0/1.
type store struct {
	db *sqldb.DB
}

// querier is what both a transaction and the read pool offer.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (s *store) q(query string) string { return s.db.Dialect().Rebind(query) }

// forUpdate locks the row read in a transaction on PostgreSQL; SQLite has
// one writer, so its transactions are serial already.
func (s *store) forUpdate() string {
	if s.db.Dialect() == sqldb.Postgres {
		return " FOR UPDATE"
	}
	return ""
}

func (s *store) timeArg(t time.Time) any {
	if s.db.Dialect() == sqldb.SQLite {
		return t.UnixMilli()
	}
	return t
}

// categoryRow is a row of categories.
type categoryRow struct {
	Slug      string
	Name      string
	Version   int64
	UpdatedAt time.Time
}

func (r categoryRow) category() Category {
	return Category{slug: r.Slug, name: r.Name, version: r.Version, updatedAt: r.UpdatedAt}
}

const categoryCols = `slug, name, version, updated_at`

func scanCategory(sc interface{ Scan(...any) error }) (categoryRow, error) {
	var r categoryRow
	err := sc.Scan(&r.Slug, &r.Name, &r.Version, sqldb.TimeCol{T: &r.UpdatedAt})
	return r, err
}

// category reads one category; lock takes its row lock (in a transaction).
func (s *store) category(ctx context.Context, q querier, slug string, lock bool) (Category, bool, error) {
	query := `SELECT ` + categoryCols + ` FROM categories WHERE slug = $1`
	if lock {
		query += s.forUpdate()
	}
	r, err := scanCategory(q.QueryRowContext(ctx, s.q(query), slug))
	if errors.Is(err, sql.ErrNoRows) {
		return Category{}, false, nil
	}
	if err != nil {
		return Category{}, false, fmt.Errorf("read category %s: %w", slug, err)
	}
	return r.category(), true, nil
}

func (s *store) categoryExists(ctx context.Context, tx *sqldb.Tx, slug string) (bool, error) {
	var one int
	err := tx.QueryRowContext(ctx, s.q(`SELECT 1 FROM categories WHERE slug = $1`), slug).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("check category %s: %w", slug, err)
	}
	return true, nil
}

// insertCategory inserts c unless its slug exists (a concurrent create);
// inserted says which.
func (s *store) insertCategory(ctx context.Context, tx *sqldb.Tx, c Category) (inserted bool, err error) {
	res, err := tx.ExecContext(ctx, s.q(`INSERT INTO categories (`+categoryCols+`) VALUES ($1, $2, $3, $4)
		ON CONFLICT (slug) DO NOTHING`), c.slug, c.name, c.version, s.timeArg(c.updatedAt))
	if err != nil {
		return false, fmt.Errorf("insert category %s: %w", c.slug, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func (s *store) updateCategory(ctx context.Context, tx *sqldb.Tx, c Category) error {
	_, err := tx.ExecContext(ctx, s.q(`UPDATE categories SET name = $2, version = $3, updated_at = $4 WHERE slug = $1`),
		c.slug, c.name, c.version, s.timeArg(c.updatedAt))
	if err != nil {
		return fmt.Errorf("update category %s: %w", c.slug, err)
	}
	return nil
}

// categories lists up to limit categories after the slug after, by slug.
func (s *store) categories(ctx context.Context, after string, limit int) ([]Category, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+categoryCols+` FROM categories WHERE slug > $1 ORDER BY slug LIMIT $2`), after, limit)
	if err != nil {
		return nil, fmt.Errorf("list categories: %w", err)
	}
	defer rows.Close()
	var out []Category
	for rows.Next() {
		r, err := scanCategory(rows)
		if err != nil {
			return nil, fmt.Errorf("list categories: %w", err)
		}
		out = append(out, r.category())
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list categories: %w", err)
	}
	return out, nil
}

// productRow is a row of products.
type productRow struct {
	SKU              string
	Name             string
	ShortDescription string
	LongDescription  string
	PriceCents       int64
	Currency         string
	Category         string
	Active           bool
	Version          int64
	UpdatedAt        time.Time
}

func (r productRow) product() Product {
	return Product{sku: r.SKU, f: ProductFields{Name: r.Name, ShortDescription: r.ShortDescription,
		LongDescription: r.LongDescription, PriceCents: r.PriceCents, Currency: r.Currency,
		Category: r.Category, Active: r.Active}, version: r.Version, updatedAt: r.UpdatedAt}
}

const productCols = `sku, name, short_description, long_description, price_cents, currency, category, active, version, updated_at`

func scanProduct(sc interface{ Scan(...any) error }) (productRow, error) {
	var r productRow
	err := sc.Scan(&r.SKU, &r.Name, &r.ShortDescription, &r.LongDescription, &r.PriceCents, &r.Currency,
		&r.Category, &r.Active, &r.Version, sqldb.TimeCol{T: &r.UpdatedAt})
	return r, err
}

func (s *store) productArgs(p Product) []any {
	return []any{p.sku, p.f.Name, p.f.ShortDescription, p.f.LongDescription, p.f.PriceCents, p.f.Currency,
		p.f.Category, p.f.Active, p.version, s.timeArg(p.updatedAt)}
}

// product reads one product; lock takes its row lock (in a transaction).
func (s *store) product(ctx context.Context, q querier, sku string, lock bool) (Product, bool, error) {
	query := `SELECT ` + productCols + ` FROM products WHERE sku = $1`
	if lock {
		query += s.forUpdate()
	}
	r, err := scanProduct(q.QueryRowContext(ctx, s.q(query), sku))
	if errors.Is(err, sql.ErrNoRows) {
		return Product{}, false, nil
	}
	if err != nil {
		return Product{}, false, fmt.Errorf("read product %s: %w", sku, err)
	}
	return r.product(), true, nil
}

// insertProduct inserts p unless its SKU exists (a concurrent create);
// inserted says which.
func (s *store) insertProduct(ctx context.Context, tx *sqldb.Tx, p Product) (inserted bool, err error) {
	res, err := tx.ExecContext(ctx, s.q(`INSERT INTO products (`+productCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (sku) DO NOTHING`), s.productArgs(p)...)
	if err != nil {
		return false, fmt.Errorf("insert product %s: %w", p.sku, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func (s *store) updateProduct(ctx context.Context, tx *sqldb.Tx, p Product) error {
	_, err := tx.ExecContext(ctx, s.q(`UPDATE products SET name = $2, short_description = $3, long_description = $4,
		price_cents = $5, currency = $6, category = $7, active = $8, version = $9, updated_at = $10 WHERE sku = $1`),
		s.productArgs(p)...)
	if err != nil {
		return fmt.Errorf("update product %s: %w", p.sku, err)
	}
	return nil
}

// productFilter selects products; zero fields select all.
type productFilter struct {
	Category string
	Active   *bool
	After    string // SKUs greater than this one
	Limit    int
}

// products lists the products f selects, by SKU (bytewise on both engines).
func (s *store) products(ctx context.Context, f productFilter) ([]Product, error) {
	where := []string{"sku > $1"}
	args := []any{f.After}
	if f.Category != "" {
		args = append(args, f.Category)
		where = append(where, "category = $"+strconv.Itoa(len(args)))
	}
	if f.Active != nil {
		args = append(args, *f.Active)
		where = append(where, "active = $"+strconv.Itoa(len(args)))
	}
	args = append(args, f.Limit)
	query := `SELECT ` + productCols + ` FROM products WHERE ` + strings.Join(where, " AND ") +
		` ORDER BY sku LIMIT $` + strconv.Itoa(len(args))
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("list products: %w", err)
	}
	defer rows.Close()
	var out []Product
	for rows.Next() {
		r, err := scanProduct(rows)
		if err != nil {
			return nil, fmt.Errorf("list products: %w", err)
		}
		out = append(out, r.product())
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list products: %w", err)
	}
	return out, nil
}

// productCounts counts the products, active and inactive.
func (s *store) productCounts(ctx context.Context) (active, inactive int64, err error) {
	rows, err := s.db.QueryContext(ctx, `SELECT active, COUNT(*) FROM products GROUP BY active`)
	if err != nil {
		return 0, 0, fmt.Errorf("count products: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var a bool
		var n int64
		if err := rows.Scan(&a, &n); err != nil {
			return 0, 0, fmt.Errorf("count products: %w", err)
		}
		if a {
			active = n
		} else {
			inactive = n
		}
	}
	return active, inactive, rows.Err()
}
