-- +goose Up
-- The records of the bundled gateway simulator (StoredSimulator), the
-- default gateway: a stand-in for a real gateway, which is one service that
-- every replica of Payments calls and that remembers its idempotency keys
-- across restarts. Keeping them here gives every replica on this database
-- the same gateway. Payments' own code never reads these tables. Times are
-- unix milliseconds.

-- Calls per idempotency key (kind 'charge' or 'refund'), failed ones
-- included: tok_flaky and SimulatorConfig.RefundFailures count them. The
-- row is also the lock that makes concurrent calls with one key one at a
-- time.
CREATE TABLE gateway_sim_calls (
    kind            TEXT NOT NULL CHECK (kind IN ('charge', 'refund')),
    idempotency_key TEXT NOT NULL,
    n               INTEGER NOT NULL,
    PRIMARY KEY (kind, idempotency_key)
);

-- Charges, approved (id set) and declined, by idempotency key.
CREATE TABLE gateway_sim_charges (
    idempotency_key TEXT PRIMARY KEY,
    id              TEXT UNIQUE, -- NULL when declined
    token           TEXT NOT NULL,
    reference       TEXT NOT NULL,
    amount_cents    INTEGER NOT NULL,
    currency        TEXT NOT NULL,
    approved        INTEGER NOT NULL CHECK (approved IN (0, 1)),
    decline_reason  TEXT NOT NULL,
    refunded_cents  INTEGER NOT NULL DEFAULT 0 CHECK (refunded_cents >= 0 AND refunded_cents <= amount_cents),
    at              INTEGER NOT NULL
);

CREATE TABLE gateway_sim_refunds (
    idempotency_key TEXT PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    charge_id       TEXT NOT NULL REFERENCES gateway_sim_charges (id),
    amount_cents    INTEGER NOT NULL,
    currency        TEXT NOT NULL,
    at              INTEGER NOT NULL
);

-- +goose Down
DROP TABLE gateway_sim_refunds;
DROP TABLE gateway_sim_charges;
DROP TABLE gateway_sim_calls;
