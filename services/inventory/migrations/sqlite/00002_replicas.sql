-- +goose Up
-- Orders cancelled before Inventory saw them confirmed. Replicas share the
-- orders stream's messages and may apply an order's cancellation before its
-- confirmation: a later order_confirmed for one of these reserves nothing.
CREATE TABLE order_cancellations (
    order_id     TEXT        PRIMARY KEY,
    reason       TEXT        NOT NULL,
    cancelled_at INTEGER     NOT NULL
);

-- A purchase order being sent to the supplier is claimed until then (a
-- lease), so that one replica at a time sends it; NULL when no one holds it.
ALTER TABLE purchase_orders ADD COLUMN claimed_until INTEGER;

-- +goose Down
ALTER TABLE purchase_orders DROP COLUMN claimed_until;
DROP TABLE order_cancellations;
