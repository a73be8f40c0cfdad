-- +goose Up
-- Orders' copy of Catalog's products (event-carried state): the newest
-- version seen of each. Read when a checkout becomes an order.
CREATE TABLE products (
    sku         text    PRIMARY KEY,
    name        text    NOT NULL,
    price_cents bigint  NOT NULL,
    currency    text    NOT NULL,
    active      boolean NOT NULL,
    version     bigint  NOT NULL
);

-- The Order aggregate. payment_id, reservation_id and shipment_id are ''
-- until the payment is captured, the stock reserved, the shipment dispatched.
CREATE TABLE orders (
    id               text        PRIMARY KEY,
    cart_id          text        NOT NULL,
    customer_email   text        NOT NULL,
    ship_name        text        NOT NULL,
    ship_line1       text        NOT NULL,
    ship_line2       text        NOT NULL,
    ship_city        text        NOT NULL,
    ship_postal_code text        NOT NULL,
    ship_country     text        NOT NULL,
    currency         text        NOT NULL,
    total_cents      bigint      NOT NULL,
    status           text        NOT NULL,
    cancel_reason    text        NOT NULL DEFAULT '',
    cancel_detail    text        NOT NULL DEFAULT '',
    payment_id       text        NOT NULL DEFAULT '',
    reservation_id   text        NOT NULL DEFAULT '',
    shipment_id      text        NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);
-- GET /orders lists newest first, optionally by status or customer.
CREATE INDEX orders_created ON orders (created_at, id);
CREATE INDEX orders_status_created ON orders (status, created_at, id);
CREATE INDEX orders_customer_created ON orders (customer_email, created_at, id);

-- OrderItem: the lines, with the price at the time of ordering.
CREATE TABLE order_items (
    order_id         text    NOT NULL REFERENCES orders (id),
    line_no          integer NOT NULL,
    sku              text    NOT NULL,
    name             text    NOT NULL,
    quantity         integer NOT NULL,
    unit_price_cents bigint  NOT NULL,
    PRIMARY KEY (order_id, line_no)
);

-- The status history: one row per transition, in order of id.
CREATE TABLE order_history (
    id       bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id text        NOT NULL REFERENCES orders (id),
    status   text        NOT NULL,
    at       timestamptz NOT NULL,
    reason   text        NOT NULL
);
CREATE INDEX order_history_order ON order_history (order_id, id);

-- +goose Down
DROP TABLE order_history;
DROP TABLE order_items;
DROP TABLE orders;
DROP TABLE products;
