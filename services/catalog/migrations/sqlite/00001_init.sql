-- +goose Up
-- Times are INTEGER unix milliseconds (UTC); active is 0 or 1.
CREATE TABLE categories (
    slug       TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    version    INTEGER NOT NULL CHECK (version >= 1),
    updated_at INTEGER NOT NULL
);

CREATE TABLE products (
    sku               TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    short_description TEXT NOT NULL,
    long_description  TEXT NOT NULL,
    price_cents       INTEGER NOT NULL CHECK (price_cents > 0),
    currency          TEXT NOT NULL,
    category          TEXT NOT NULL REFERENCES categories (slug),
    active            INTEGER NOT NULL CHECK (active IN (0, 1)),
    version           INTEGER NOT NULL CHECK (version >= 1),
    updated_at        INTEGER NOT NULL
);

CREATE INDEX products_by_category ON products (category, sku);

-- +goose Down
DROP TABLE products;
DROP TABLE categories;
