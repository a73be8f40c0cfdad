-- +goose Up
-- Slugs and SKUs sort bytewise (COLLATE "C"), as on SQLite, so that paging
-- by sku gives the same pages on both engines.
CREATE TABLE categories (
    slug       TEXT COLLATE "C" PRIMARY KEY,
    name       TEXT NOT NULL,
    version    BIGINT NOT NULL CHECK (version >= 1),
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE products (
    sku               TEXT COLLATE "C" PRIMARY KEY,
    name              TEXT NOT NULL,
    short_description TEXT NOT NULL,
    long_description  TEXT NOT NULL,
    price_cents       BIGINT NOT NULL CHECK (price_cents > 0),
    currency          TEXT NOT NULL,
    category          TEXT COLLATE "C" NOT NULL REFERENCES categories (slug),
    active            BOOLEAN NOT NULL,
    version           BIGINT NOT NULL CHECK (version >= 1),
    updated_at        TIMESTAMPTZ NOT NULL
);

CREATE INDEX products_by_category ON products (category, sku);

-- +goose Down
DROP TABLE products;
DROP TABLE categories;
