-- +goose Up
-- Times are INTEGER unix milliseconds (UTC).

-- Orders' copy of Catalog's products (event-carried state): the newest
-- version seen of each. Read when a checkout becomes an order.
CREATE TABLE products (
    sku         TEXT    PRIMARY KEY,
    name        TEXT    NOT NULL,
    price_cents INTEGER NOT NULL,
    currency    TEXT    NOT NULL,
    active      INTEGER NOT NULL, -- 0 or 1
    version     INTEGER NOT NULL
) WITHOUT ROWID;

-- The Order aggregate. payment_id, reservation_id and shipment_id are ''
-- until the payment is captured, the stock reserved, the shipment dispatched.
CREATE TABLE orders (
    id               TEXT    PRIMARY KEY,
    cart_id          TEXT    NOT NULL,
    customer_email   TEXT    NOT NULL,
    ship_name        TEXT    NOT NULL,
    ship_line1       TEXT    NOT NULL,
    ship_line2       TEXT    NOT NULL,
    ship_city        TEXT    NOT NULL,
    ship_postal_code TEXT    NOT NULL,
    ship_country     TEXT    NOT NULL,
    currency         TEXT    NOT NULL,
    total_cents      INTEGER NOT NULL,
    status           TEXT    NOT NULL,
    cancel_reason    TEXT    NOT NULL DEFAULT '',
    cancel_detail    TEXT    NOT NULL DEFAULT '',
    payment_id       TEXT    NOT NULL DEFAULT '',
    reservation_id   TEXT    NOT NULL DEFAULT '',
    shipment_id      TEXT    NOT NULL DEFAULT '',
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
) WITHOUT ROWID;
-- GET /orders lists newest first, optionally by status or customer.
CREATE INDEX orders_created ON orders (created_at, id);
CREATE INDEX orders_status_created ON orders (status, created_at, id);
CREATE INDEX orders_customer_created ON orders (customer_email, created_at, id);

-- OrderItem: the lines, with the price at the time of ordering.
CREATE TABLE order_items (
    order_id         TEXT    NOT NULL REFERENCES orders (id),
    line_no          INTEGER NOT NULL,
    sku              TEXT    NOT NULL,
    name             TEXT    NOT NULL,
    quantity         INTEGER NOT NULL,
    unit_price_cents INTEGER NOT NULL,
    PRIMARY KEY (order_id, line_no)
) WITHOUT ROWID;

-- The status history: one row per transition, in order of id.
CREATE TABLE order_history (
    id       INTEGER PRIMARY KEY,
    order_id TEXT    NOT NULL REFERENCES orders (id),
    status   TEXT    NOT NULL,
    at       INTEGER NOT NULL,
    reason   TEXT    NOT NULL
);
CREATE INDEX order_history_order ON order_history (order_id, id);

-- +goose Down
DROP TABLE order_history;
DROP TABLE order_items;
DROP TABLE orders;
DROP TABLE products;
