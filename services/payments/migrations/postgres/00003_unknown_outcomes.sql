-- +goose Up
-- A payment called off while the outcome of a gateway call made for it was
-- unknown (declined gateway_unavailable after its last temporary failure, a
-- timeout perhaps; or voided, perhaps with a call in flight) may have been
-- charged by a call whose answer was lost. From outcome_unknown_since until
-- a lookup at the gateway by its idempotency key settles it, the job looks
-- it up at next_attempt_at (claimed as pending payments are, with
-- claimed_until); lookups counts the failed ones. NULL: nothing unknown.
ALTER TABLE payments ADD COLUMN outcome_unknown_since TIMESTAMPTZ;
ALTER TABLE payments ADD COLUMN lookups INTEGER NOT NULL DEFAULT 0;
CREATE INDEX payments_unknown_due ON payments (next_attempt_at) WHERE outcome_unknown_since IS NOT NULL;

-- Payments called off so before this migration were never looked up: they
-- are now.
UPDATE payments SET outcome_unknown_since = updated_at
    WHERE status = 'voided' OR (status = 'declined' AND reason = 'gateway_unavailable');

-- The gateway simulator counts lookups too (SimulatorConfig.LookupFailures).
ALTER TABLE gateway_sim_calls DROP CONSTRAINT gateway_sim_calls_kind_check;
ALTER TABLE gateway_sim_calls ADD CONSTRAINT gateway_sim_calls_kind_check CHECK (kind IN ('charge', 'refund', 'lookup'));

-- +goose Down
DELETE FROM gateway_sim_calls WHERE kind = 'lookup';
ALTER TABLE gateway_sim_calls DROP CONSTRAINT gateway_sim_calls_kind_check;
ALTER TABLE gateway_sim_calls ADD CONSTRAINT gateway_sim_calls_kind_check CHECK (kind IN ('charge', 'refund'));
DROP INDEX payments_unknown_due;
ALTER TABLE payments DROP COLUMN lookups;
ALTER TABLE payments DROP COLUMN outcome_unknown_since;
