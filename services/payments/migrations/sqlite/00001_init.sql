-- +goose Up
-- One payment per order; the token is kept only while the payment is pending.
-- Times are unix milliseconds.
CREATE TABLE payments (
    id              TEXT PRIMARY KEY,
    order_id        TEXT NOT NULL UNIQUE,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'captured', 'declined', 'voided', 'refunded')),
    amount_cents    INTEGER NOT NULL CHECK (amount_cents >= 0),
    currency        TEXT NOT NULL,
    token           TEXT NOT NULL DEFAULT '',
    attempts        INTEGER NOT NULL DEFAULT 0,
    charge_id       TEXT NOT NULL DEFAULT '',
    reason          TEXT NOT NULL DEFAULT '',
    next_attempt_at INTEGER NOT NULL,
    claimed_until   INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX payments_due ON payments (next_attempt_at) WHERE status = 'pending';

CREATE TABLE payment_attempts (
    payment_id TEXT NOT NULL REFERENCES payments (id),
    n          INTEGER NOT NULL,
    at         INTEGER NOT NULL,
    outcome    TEXT NOT NULL CHECK (outcome IN ('approved', 'declined', 'failed')),
    reason     TEXT NOT NULL DEFAULT '',
    charge_id  TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (payment_id, n)
);

-- One (full) refund per payment.
CREATE TABLE refunds (
    id                TEXT PRIMARY KEY,
    payment_id        TEXT NOT NULL UNIQUE REFERENCES payments (id),
    order_id          TEXT NOT NULL,
    charge_id         TEXT NOT NULL,
    amount_cents      INTEGER NOT NULL CHECK (amount_cents > 0),
    currency          TEXT NOT NULL,
    reason            TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('pending', 'issued')),
    attempts          INTEGER NOT NULL DEFAULT 0,
    last_error        TEXT NOT NULL DEFAULT '',
    gateway_refund_id TEXT NOT NULL DEFAULT '',
    next_attempt_at   INTEGER NOT NULL,
    claimed_until     INTEGER,
    created_at        INTEGER NOT NULL,
    refunded_at       INTEGER
);
CREATE INDEX refunds_order ON refunds (order_id);
CREATE INDEX refunds_due ON refunds (next_attempt_at) WHERE status = 'pending';

-- Orders cancelled before Payments saw them confirmed: a later
-- order_confirmed for one of them creates no payment.
CREATE TABLE order_cancellations (
    order_id     TEXT PRIMARY KEY,
    reason       TEXT NOT NULL,
    cancelled_at INTEGER NOT NULL
);

-- +goose Down
DROP TABLE order_cancellations;
DROP TABLE refunds;
DROP TABLE payment_attempts;
DROP TABLE payments;
