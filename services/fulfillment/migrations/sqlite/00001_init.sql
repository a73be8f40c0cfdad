-- +goose Up
-- Times are INTEGER unix milliseconds; JSON columns are TEXT.

-- Packaging rules: a shipment goes in the rule with the smallest max_items
-- that fits its total quantity (ties: smaller priority, then name).
CREATE TABLE packaging_rules (
    name      TEXT    PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 32 AND name NOT GLOB '*[^a-z0-9_-]*' AND name <> 'unpackable'),
    max_items INTEGER NOT NULL CHECK (max_items >= 1),
    priority  INTEGER NOT NULL DEFAULT 0 CHECK (priority >= 0)
) WITHOUT ROWID;
INSERT INTO packaging_rules (name, max_items, priority) VALUES
    ('envelope', 1, 0),
    ('small_box', 3, 0),
    ('medium_box', 10, 0),
    ('large_box', 50, 0),
    ('pallet', 10000, 0);

-- What has arrived about an order from Orders, Inventory and Payments, whose
-- events arrive in any order relative to each other. A NULL is a fact not
-- yet known; facts are never overwritten.
CREATE TABLE preparations (
    order_id         TEXT    PRIMARY KEY,
    items            TEXT,    -- from orders.order_confirmed
    shipping_address TEXT,    -- from orders.order_confirmed
    confirmed_at     INTEGER,
    reserved_at      INTEGER, -- inventory.reservation_confirmed arrived
    paid_at          INTEGER, -- payments.payment_captured arrived
    cancelled_at     INTEGER, -- orders.order_cancelled arrived
    cancel_reason    TEXT,
    updated_at       INTEGER NOT NULL
);

CREATE TABLE shipments (
    id                          TEXT    PRIMARY KEY,
    order_id                    TEXT    NOT NULL UNIQUE,
    status                      TEXT    NOT NULL CHECK (status IN ('created', 'dispatched', 'cancelled')),
    package                     TEXT    NOT NULL,
    items                       TEXT    NOT NULL,
    shipping_address            TEXT    NOT NULL,
    created_at                  INTEGER NOT NULL,
    -- When the dispatch job may dispatch it: set once it is paid (and
    -- packable), cleared when it leaves created.
    due_at                      INTEGER,
    dispatched_at               INTEGER,
    cancelled_at                INTEGER,
    -- Its order was cancelled after it was dispatched: a conflict.
    cancelled_after_dispatch_at INTEGER
);
-- The dispatch job's queue: only shipments waiting to be dispatched.
CREATE INDEX shipments_due ON shipments (due_at) WHERE status = 'created' AND due_at IS NOT NULL;
CREATE INDEX shipments_status ON shipments (status, id);

-- +goose Down
DROP TABLE shipments;
DROP TABLE preparations;
DROP TABLE packaging_rules;
