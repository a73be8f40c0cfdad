-- +goose Up
-- Cart's read-only copy of the catalog's products (from catalog.product_updated).
-- Times are INTEGER unix milliseconds; booleans INTEGER 0 or 1.
CREATE TABLE products (
    sku         TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    price_cents INTEGER NOT NULL CHECK (price_cents >= 0),
    currency    TEXT NOT NULL,
    active      INTEGER NOT NULL CHECK (active IN (0, 1)),
    version     INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE carts (
    id             TEXT PRIMARY KEY,
    customer_email TEXT NOT NULL DEFAULT '',
    status         TEXT NOT NULL CHECK (status IN ('open', 'checked_out')),
    order_id       TEXT UNIQUE,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    checked_out_at INTEGER,
    -- JSON: the lines as checked out, with the prices paid.
    checkout_lines TEXT,
    CHECK ((status = 'open') = (order_id IS NULL))
) WITHOUT ROWID;

CREATE TABLE cart_items (
    cart_id                TEXT NOT NULL REFERENCES carts (id) ON DELETE CASCADE,
    sku                    TEXT NOT NULL,
    quantity               INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 99),
    price_when_added_cents INTEGER NOT NULL,
    currency_when_added    TEXT NOT NULL,
    added_at               INTEGER NOT NULL,
    PRIMARY KEY (cart_id, sku)
) WITHOUT ROWID;

-- +goose Down
DROP TABLE cart_items;
DROP TABLE carts;
DROP TABLE products;
