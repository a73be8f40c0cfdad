-- +goose Up
-- Times are INTEGER unix milliseconds (UTC).
-- Inventory's own copy of each product, fed by catalog.product_updated
-- (event-carried state). Purchase orders take their name and description
-- from here, never from Catalog's database.
CREATE TABLE products (
    sku         TEXT        PRIMARY KEY,
    name        TEXT        NOT NULL,
    description TEXT        NOT NULL,
    active      INTEGER     NOT NULL,
    version     INTEGER     NOT NULL CHECK (version >= 1),
    updated_at  INTEGER     NOT NULL
);

-- Stock per SKU. The CHECKs hold the invariant 0 <= reserved <= on_hand
-- whatever the Go code does; the updates that move stock are conditional
-- on it as well, so a violation is an error, never a negative shelf.
CREATE TABLE stock_items (
    sku              TEXT        PRIMARY KEY,
    on_hand          INTEGER     NOT NULL CHECK (on_hand >= 0),
    reserved         INTEGER     NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    reorder_point    INTEGER     NOT NULL CHECK (reorder_point >= 0),
    reorder_quantity INTEGER     NOT NULL CHECK (reorder_quantity >= 1),
    updated_at       INTEGER     NOT NULL,
    CONSTRAINT stock_reserved_within_on_hand CHECK (reserved <= on_hand)
);

-- One reservation per order (reserved, then released or consumed).
CREATE TABLE reservations (
    id             TEXT        PRIMARY KEY,
    order_id       TEXT        NOT NULL UNIQUE,
    status         TEXT        NOT NULL CHECK (status IN ('reserved', 'released', 'consumed')),
    shipment_id    TEXT        NOT NULL DEFAULT '',
    release_reason TEXT        NOT NULL DEFAULT '',
    created_at     INTEGER     NOT NULL,
    updated_at     INTEGER     NOT NULL
);

CREATE TABLE reservation_lines (
    reservation_id TEXT   NOT NULL REFERENCES reservations (id),
    sku            TEXT   NOT NULL,
    quantity       INTEGER NOT NULL CHECK (quantity >= 1),
    PRIMARY KEY (reservation_id, sku)
);

-- Orders that could not be reserved: kept so that the order stays refused
-- when its order_confirmed is delivered again (idempotent per order).
CREATE TABLE reservation_failures (
    order_id  TEXT        PRIMARY KEY,
    reason    TEXT        NOT NULL CHECK (reason IN ('out_of_stock', 'unknown_product')),
    shortages TEXT        NOT NULL, -- JSON array of {sku, requested, available}
    failed_at INTEGER     NOT NULL
);

-- Purchase orders. A purchase order that may go, or went, to the supplier
-- (pending, retrying, sent, received) is complete: the CHECK refuses any
-- other. missing lists what a flagged one lacks (comma-separated).
CREATE TABLE purchase_orders (
    id              TEXT        PRIMARY KEY,
    sku             TEXT        NOT NULL,
    quantity        INTEGER     NOT NULL CHECK (quantity >= 1),
    name            TEXT        NOT NULL DEFAULT '',
    description     TEXT        NOT NULL DEFAULT '',
    product_version INTEGER     NOT NULL DEFAULT 0,
    status          TEXT        NOT NULL CHECK (status IN ('pending', 'flagged', 'retrying', 'sent', 'rejected', 'received')),
    missing         TEXT        NOT NULL DEFAULT '',
    attempts        INTEGER     NOT NULL DEFAULT 0,
    last_error      TEXT        NOT NULL DEFAULT '',
    next_attempt_at INTEGER     NOT NULL,
    created_at      INTEGER     NOT NULL,
    updated_at      INTEGER     NOT NULL,
    sent_at         INTEGER,
    received_at     INTEGER,
    CONSTRAINT purchase_order_complete_when_sendable CHECK (
        status IN ('flagged', 'rejected') OR (length(trim(name)) > 0 AND length(trim(description)) > 0))
);
-- At most one open purchase order per SKU.
CREATE UNIQUE INDEX purchase_orders_one_open ON purchase_orders (sku)
    WHERE status IN ('pending', 'flagged', 'retrying', 'sent', 'rejected');
CREATE INDEX purchase_orders_status ON purchase_orders (status, next_attempt_at);
CREATE INDEX purchase_orders_sku ON purchase_orders (sku, id);

-- +goose Down
DROP TABLE purchase_orders;
DROP TABLE reservation_failures;
DROP TABLE reservation_lines;
DROP TABLE reservations;
DROP TABLE stock_items;
DROP TABLE products;
