-- +goose Up
-- Times are INTEGER unix milliseconds; booleans INTEGER 0 or 1.
-- The warehouse: a star schema loaded only from the shop's events, and the
-- order-history read model. Every row is keyed by a natural key from the
-- events (a SKU, an order id, a payment id and outcome, ...), never by a
-- number this database hands out, so that loading the same events again, in
-- any order, into an empty warehouse gives the same rows (a rebuild).
-- Business times come from the event payloads; *_applied_at columns are the
-- only ones this service's clock writes.

-- Dimensions. An inferred member (inferred = true) is a row made for a key a
-- fact referenced before the dimension's own event arrived (a late-arriving
-- dimension); the real event overwrites it.
CREATE TABLE dim_category (
    slug     TEXT    PRIMARY KEY,
    name     TEXT,
    version  INTEGER  NOT NULL DEFAULT 0,
    inferred INTEGER NOT NULL
);

CREATE TABLE dim_product (
    sku         TEXT    PRIMARY KEY,
    name        TEXT,
    category    TEXT,   -- dim_category.slug
    price_cents INTEGER,
    currency    TEXT,
    active      INTEGER,
    version     INTEGER  NOT NULL DEFAULT 0,
    inferred    INTEGER NOT NULL
);

CREATE TABLE dim_date (
    date_key     INTEGER PRIMARY KEY, -- YYYYMMDD, UTC
    day          TEXT    NOT NULL,    -- YYYY-MM-DD
    year         INTEGER NOT NULL,
    month        INTEGER NOT NULL,
    day_of_month INTEGER NOT NULL,
    iso_week     INTEGER NOT NULL,
    weekday      INTEGER NOT NULL     -- 1 Monday .. 7 Sunday
);

-- Facts.
CREATE TABLE fact_checkout (
    cart_id        TEXT        PRIMARY KEY,
    order_id       TEXT        NOT NULL,
    customer_email TEXT        NOT NULL,
    units          INTEGER      NOT NULL,
    value_cents    INTEGER      NOT NULL,
    currency       TEXT        NOT NULL,
    checked_out_at INTEGER NOT NULL,
    date_key       INTEGER     NOT NULL
);
CREATE INDEX fact_checkout_date ON fact_checkout (date_key);

-- One row per order: an accumulating snapshot, each milestone filled by its
-- own event whatever the order of arrival.
CREATE TABLE fact_order (
    order_id            TEXT        PRIMARY KEY,
    customer_email      TEXT,
    total_cents         INTEGER,
    currency            TEXT,
    confirmed_at        INTEGER,
    confirmed_date_key  INTEGER,
    paid_at             INTEGER,
    reserved_at         INTEGER,
    shipped_at          INTEGER,
    cancelled_at        INTEGER,
    cancelled_date_key  INTEGER,
    cancel_reason       TEXT,
    cancel_previous     TEXT
);
CREATE INDEX fact_order_confirmed ON fact_order (confirmed_date_key);
CREATE INDEX fact_order_cancelled ON fact_order (cancelled_date_key);

CREATE TABLE fact_order_line (
    order_id         TEXT        NOT NULL,
    line_no          INTEGER     NOT NULL,
    sku              TEXT        NOT NULL,
    product_name     TEXT        NOT NULL,
    quantity         INTEGER      NOT NULL,
    unit_price_cents INTEGER      NOT NULL,
    amount_cents     INTEGER      NOT NULL,
    currency         TEXT        NOT NULL,
    confirmed_at     INTEGER NOT NULL,
    date_key         INTEGER     NOT NULL,
    PRIMARY KEY (order_id, line_no)
);
CREATE INDEX fact_order_line_date ON fact_order_line (date_key);
CREATE INDEX fact_order_line_sku ON fact_order_line (sku);

-- A payment's outcome: captured, declined or voided.
CREATE TABLE fact_payment (
    payment_id   TEXT        NOT NULL,
    outcome      TEXT        NOT NULL CHECK (outcome IN ('captured', 'declined', 'voided')),
    order_id     TEXT        NOT NULL,
    amount_cents INTEGER      NOT NULL,
    currency     TEXT        NOT NULL,
    reason       TEXT,
    attempts     INTEGER,
    at           INTEGER NOT NULL,
    date_key     INTEGER     NOT NULL,
    PRIMARY KEY (payment_id, outcome)
);
CREATE INDEX fact_payment_date ON fact_payment (date_key);

CREATE TABLE fact_refund (
    refund_id    TEXT        PRIMARY KEY,
    payment_id   TEXT        NOT NULL,
    order_id     TEXT        NOT NULL,
    amount_cents INTEGER      NOT NULL,
    currency     TEXT        NOT NULL,
    reason       TEXT,
    refunded_at  INTEGER NOT NULL,
    date_key     INTEGER     NOT NULL
);
CREATE INDEX fact_refund_date ON fact_refund (date_key);

-- A reservation's outcome for an order: confirmed, failed or released.
CREATE TABLE fact_reservation (
    order_id       TEXT        NOT NULL,
    outcome        TEXT        NOT NULL CHECK (outcome IN ('confirmed', 'failed', 'released')),
    reservation_id TEXT,
    reason         TEXT,
    units          INTEGER      NOT NULL,
    at             INTEGER NOT NULL,
    date_key       INTEGER     NOT NULL,
    PRIMARY KEY (order_id, outcome)
);
CREATE INDEX fact_reservation_date ON fact_reservation (date_key);

-- A line a reservation was refused for (a stock-out).
CREATE TABLE fact_stockout (
    order_id  TEXT        NOT NULL,
    sku       TEXT        NOT NULL,
    reason    TEXT        NOT NULL,
    requested INTEGER      NOT NULL,
    available INTEGER      NOT NULL,
    failed_at INTEGER NOT NULL,
    date_key  INTEGER     NOT NULL,
    PRIMARY KEY (order_id, sku)
);
CREATE INDEX fact_stockout_date ON fact_stockout (date_key);

CREATE TABLE fact_shipment (
    shipment_id         TEXT        PRIMARY KEY,
    order_id            TEXT        NOT NULL,
    package             TEXT,
    units               INTEGER,
    created_at          INTEGER,
    created_date_key    INTEGER,
    dispatched_at       INTEGER,
    dispatched_date_key INTEGER
);
CREATE INDEX fact_shipment_order ON fact_shipment (order_id);
CREATE INDEX fact_shipment_dispatched ON fact_shipment (dispatched_date_key);

-- One stock movement. movement_key: SKU, reason and the reference (order or
-- purchase order); for movements without one (adjustments), the time and
-- the stock after it.
CREATE TABLE fact_stock_movement (
    movement_key   TEXT        PRIMARY KEY,
    sku            TEXT        NOT NULL,
    reason         TEXT        NOT NULL,
    ref            TEXT,
    delta_on_hand  INTEGER      NOT NULL,
    delta_reserved INTEGER      NOT NULL,
    on_hand        INTEGER      NOT NULL,
    reserved       INTEGER      NOT NULL,
    changed_at     INTEGER NOT NULL,
    date_key       INTEGER     NOT NULL
);
CREATE INDEX fact_stock_movement_sku ON fact_stock_movement (sku, changed_at);
CREATE INDEX fact_stock_movement_date ON fact_stock_movement (date_key);

CREATE TABLE fact_purchase_order (
    purchase_order_id  TEXT        PRIMARY KEY,
    sku                TEXT        NOT NULL,
    quantity           INTEGER,
    placed_at          INTEGER,
    placed_date_key    INTEGER,
    flagged_at         INTEGER,
    flagged_date_key   INTEGER,
    missing            TEXT,        -- comma-separated fields a flagged order missed
    received_at        INTEGER,
    received_date_key  INTEGER,
    received_quantity  INTEGER
);

-- How far the warehouse has got, per source stream: events applied (each
-- once: the inbox drops repeats) and the newest event time among them.
CREATE TABLE watermarks (
    stream          TEXT        PRIMARY KEY,
    events_applied  INTEGER      NOT NULL,
    last_event_at   INTEGER NOT NULL,
    last_event_id   TEXT        NOT NULL,
    last_applied_at INTEGER NOT NULL
);

-- The read model: a customer's order history (CQRS), from Orders',
-- Payments' and Fulfillment's events. The row holds the order's own facts;
-- payments and shipments are its timeline's entries. last_event_at and
-- applied_at are the creation time of the last event applied to the row
-- and when it was applied: their difference is the row's lag.
CREATE TABLE order_history (
    order_id        TEXT        PRIMARY KEY,
    customer_email  TEXT,
    total_cents     INTEGER,
    currency        TEXT,
    items           TEXT,        -- JSON, from orders.order_confirmed
    confirmed_at    INTEGER,
    paid_at         INTEGER,
    reserved_at     INTEGER,
    shipped_at      INTEGER,
    cancelled_at    INTEGER,
    cancel_reason   TEXT,
    last_event_at   INTEGER NOT NULL,
    applied_at      INTEGER NOT NULL
);
CREATE INDEX order_history_customer ON order_history (customer_email, confirmed_at);

-- One entry per fact: entry_key is its kind and the id it is about
-- ("payment_captured:<payment id>"), so a fact applied twice is one entry.
CREATE TABLE order_history_entries (
    order_id      TEXT        NOT NULL,
    entry_key     TEXT        NOT NULL,
    kind          TEXT        NOT NULL,
    ref           TEXT,
    at            INTEGER NOT NULL,
    amount_cents  INTEGER,
    detail        TEXT,
    event_at      INTEGER NOT NULL,
    applied_at    INTEGER NOT NULL,
    PRIMARY KEY (order_id, entry_key)
);

-- +goose Down
DROP TABLE order_history_entries;
DROP TABLE order_history;
DROP TABLE watermarks;
DROP TABLE fact_purchase_order;
DROP TABLE fact_stock_movement;
DROP TABLE fact_shipment;
DROP TABLE fact_stockout;
DROP TABLE fact_reservation;
DROP TABLE fact_refund;
DROP TABLE fact_payment;
DROP TABLE fact_order_line;
DROP TABLE fact_order;
DROP TABLE fact_checkout;
DROP TABLE dim_date;
DROP TABLE dim_product;
DROP TABLE dim_category;
