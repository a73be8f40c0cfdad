-- +goose Up
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
    slug     text    PRIMARY KEY,
    name     text,
    version  bigint  NOT NULL DEFAULT 0,
    inferred boolean NOT NULL
);

CREATE TABLE dim_product (
    sku         text    PRIMARY KEY,
    name        text,
    category    text,   -- dim_category.slug
    price_cents bigint,
    currency    text,
    active      boolean,
    version     bigint  NOT NULL DEFAULT 0,
    inferred    boolean NOT NULL
);

CREATE TABLE dim_date (
    date_key     integer PRIMARY KEY, -- YYYYMMDD, UTC
    day          text    NOT NULL,    -- YYYY-MM-DD
    year         integer NOT NULL,
    month        integer NOT NULL,
    day_of_month integer NOT NULL,
    iso_week     integer NOT NULL,
    weekday      integer NOT NULL     -- 1 Monday .. 7 Sunday
);

-- Facts.
CREATE TABLE fact_checkout (
    cart_id        text        PRIMARY KEY,
    order_id       text        NOT NULL,
    customer_email text        NOT NULL,
    units          bigint      NOT NULL,
    value_cents    bigint      NOT NULL,
    currency       text        NOT NULL,
    checked_out_at timestamptz NOT NULL,
    date_key       integer     NOT NULL
);
CREATE INDEX fact_checkout_date ON fact_checkout (date_key);

-- One row per order: an accumulating snapshot, each milestone filled by its
-- own event whatever the order of arrival.
CREATE TABLE fact_order (
    order_id            text        PRIMARY KEY,
    customer_email      text,
    total_cents         bigint,
    currency            text,
    confirmed_at        timestamptz,
    confirmed_date_key  integer,
    paid_at             timestamptz,
    reserved_at         timestamptz,
    shipped_at          timestamptz,
    cancelled_at        timestamptz,
    cancelled_date_key  integer,
    cancel_reason       text,
    cancel_previous     text
);
CREATE INDEX fact_order_confirmed ON fact_order (confirmed_date_key);
CREATE INDEX fact_order_cancelled ON fact_order (cancelled_date_key);

CREATE TABLE fact_order_line (
    order_id         text        NOT NULL,
    line_no          integer     NOT NULL,
    sku              text        NOT NULL,
    product_name     text        NOT NULL,
    quantity         bigint      NOT NULL,
    unit_price_cents bigint      NOT NULL,
    amount_cents     bigint      NOT NULL,
    currency         text        NOT NULL,
    confirmed_at     timestamptz NOT NULL,
    date_key         integer     NOT NULL,
    PRIMARY KEY (order_id, line_no)
);
CREATE INDEX fact_order_line_date ON fact_order_line (date_key);
CREATE INDEX fact_order_line_sku ON fact_order_line (sku);

-- A payment's outcome: captured, declined or voided.
CREATE TABLE fact_payment (
    payment_id   text        NOT NULL,
    outcome      text        NOT NULL CHECK (outcome IN ('captured', 'declined', 'voided')),
    order_id     text        NOT NULL,
    amount_cents bigint      NOT NULL,
    currency     text        NOT NULL,
    reason       text,
    attempts     integer,
    at           timestamptz NOT NULL,
    date_key     integer     NOT NULL,
    PRIMARY KEY (payment_id, outcome)
);
CREATE INDEX fact_payment_date ON fact_payment (date_key);

CREATE TABLE fact_refund (
    refund_id    text        PRIMARY KEY,
    payment_id   text        NOT NULL,
    order_id     text        NOT NULL,
    amount_cents bigint      NOT NULL,
    currency     text        NOT NULL,
    reason       text,
    refunded_at  timestamptz NOT NULL,
    date_key     integer     NOT NULL
);
CREATE INDEX fact_refund_date ON fact_refund (date_key);

-- A reservation's outcome for an order: confirmed, failed or released.
CREATE TABLE fact_reservation (
    order_id       text        NOT NULL,
    outcome        text        NOT NULL CHECK (outcome IN ('confirmed', 'failed', 'released')),
    reservation_id text,
    reason         text,
    units          bigint      NOT NULL,
    at             timestamptz NOT NULL,
    date_key       integer     NOT NULL,
    PRIMARY KEY (order_id, outcome)
);
CREATE INDEX fact_reservation_date ON fact_reservation (date_key);

-- A line a reservation was refused for (a stock-out).
CREATE TABLE fact_stockout (
    order_id  text        NOT NULL,
    sku       text        NOT NULL,
    reason    text        NOT NULL,
    requested bigint      NOT NULL,
    available bigint      NOT NULL,
    failed_at timestamptz NOT NULL,
    date_key  integer     NOT NULL,
    PRIMARY KEY (order_id, sku)
);
CREATE INDEX fact_stockout_date ON fact_stockout (date_key);

CREATE TABLE fact_shipment (
    shipment_id         text        PRIMARY KEY,
    order_id            text        NOT NULL,
    package             text,
    units               bigint,
    created_at          timestamptz,
    created_date_key    integer,
    dispatched_at       timestamptz,
    dispatched_date_key integer
);
CREATE INDEX fact_shipment_order ON fact_shipment (order_id);
CREATE INDEX fact_shipment_dispatched ON fact_shipment (dispatched_date_key);

-- One stock movement. movement_key: SKU, reason and the reference (order or
-- purchase order); for movements without one (adjustments), the time and
-- the stock after it.
CREATE TABLE fact_stock_movement (
    movement_key   text        PRIMARY KEY,
    sku            text        NOT NULL,
    reason         text        NOT NULL,
    ref            text,
    delta_on_hand  bigint      NOT NULL,
    delta_reserved bigint      NOT NULL,
    on_hand        bigint      NOT NULL,
    reserved       bigint      NOT NULL,
    changed_at     timestamptz NOT NULL,
    date_key       integer     NOT NULL
);
CREATE INDEX fact_stock_movement_sku ON fact_stock_movement (sku, changed_at);
CREATE INDEX fact_stock_movement_date ON fact_stock_movement (date_key);

CREATE TABLE fact_purchase_order (
    purchase_order_id  text        PRIMARY KEY,
    sku                text        NOT NULL,
    quantity           bigint,
    placed_at          timestamptz,
    placed_date_key    integer,
    flagged_at         timestamptz,
    flagged_date_key   integer,
    missing            text,        -- comma-separated fields a flagged order missed
    received_at        timestamptz,
    received_date_key  integer,
    received_quantity  bigint
);

-- How far the warehouse has got, per source stream: events applied (each
-- once: the inbox drops repeats) and the newest event time among them.
CREATE TABLE watermarks (
    stream          text        PRIMARY KEY,
    events_applied  bigint      NOT NULL,
    last_event_at   timestamptz NOT NULL,
    last_event_id   text        NOT NULL,
    last_applied_at timestamptz NOT NULL
);

-- The read model: a customer's order history (CQRS), from Orders',
-- Payments' and Fulfillment's events. The row holds the order's own facts;
-- payments and shipments are its timeline's entries. last_event_at and
-- applied_at are the creation time of the last event applied to the row
-- and when it was applied: their difference is the row's lag.
CREATE TABLE order_history (
    order_id        text        PRIMARY KEY,
    customer_email  text,
    total_cents     bigint,
    currency        text,
    items           text,        -- JSON, from orders.order_confirmed
    confirmed_at    timestamptz,
    paid_at         timestamptz,
    reserved_at     timestamptz,
    shipped_at      timestamptz,
    cancelled_at    timestamptz,
    cancel_reason   text,
    last_event_at   timestamptz NOT NULL,
    applied_at      timestamptz NOT NULL
);
CREATE INDEX order_history_customer ON order_history (customer_email, confirmed_at);

-- One entry per fact: entry_key is its kind and the id it is about
-- ("payment_captured:<payment id>"), so a fact applied twice is one entry.
CREATE TABLE order_history_entries (
    order_id      text        NOT NULL,
    entry_key     text        NOT NULL,
    kind          text        NOT NULL,
    ref           text,
    at            timestamptz NOT NULL,
    amount_cents  bigint,
    detail        text,
    event_at      timestamptz NOT NULL,
    applied_at    timestamptz NOT NULL,
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
