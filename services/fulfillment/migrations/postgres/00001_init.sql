-- +goose Up
-- Packaging rules: a shipment goes in the rule with the smallest max_items
-- that fits its total quantity (ties: smaller priority, then name).
CREATE TABLE packaging_rules (
    name      text    PRIMARY KEY CHECK (name ~ '^[a-z0-9_-]{1,32}$' AND name <> 'unpackable'),
    max_items bigint  NOT NULL CHECK (max_items >= 1),
    priority  integer NOT NULL DEFAULT 0 CHECK (priority >= 0)
);
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
    order_id         text        PRIMARY KEY,
    items            jsonb,       -- from orders.order_confirmed
    shipping_address jsonb,       -- from orders.order_confirmed
    confirmed_at     timestamptz,
    reserved_at      timestamptz, -- inventory.reservation_confirmed arrived
    paid_at          timestamptz, -- payments.payment_captured arrived
    cancelled_at     timestamptz, -- orders.order_cancelled arrived
    cancel_reason    text,
    updated_at       timestamptz NOT NULL
);

CREATE TABLE shipments (
    id                          text        PRIMARY KEY,
    order_id                    text        NOT NULL UNIQUE,
    status                      text        NOT NULL CHECK (status IN ('created', 'dispatched', 'cancelled')),
    package                     text        NOT NULL,
    items                       jsonb       NOT NULL,
    shipping_address            jsonb       NOT NULL,
    created_at                  timestamptz NOT NULL,
    -- When the dispatch job may dispatch it: set once it is paid (and
    -- packable), cleared when it leaves created.
    due_at                      timestamptz,
    dispatched_at               timestamptz,
    cancelled_at                timestamptz,
    -- Its order was cancelled after it was dispatched: a conflict.
    cancelled_after_dispatch_at timestamptz
);
-- The dispatch job's queue: only shipments waiting to be dispatched.
CREATE INDEX shipments_due ON shipments (due_at) WHERE status = 'created' AND due_at IS NOT NULL;
CREATE INDEX shipments_status ON shipments (status, id);

-- +goose Down
DROP TABLE shipments;
DROP TABLE preparations;
DROP TABLE packaging_rules;
