-- +goose Up
-- The state of the warehouse's rebuild (bounded reporting rebuild): one row,
-- which is also the lock that lets one rebuild run at a time across the
-- service's replicas. It is bookkeeping of the rebuild itself: a rebuild
-- does not drop it.
CREATE TABLE rebuild_state (
    id             integer PRIMARY KEY CHECK (id = 1),
    rebuild_id     text,
    state          text NOT NULL DEFAULT 'idle', -- idle, running, done, failed
    owner          text,
    started_at     timestamptz,
    heartbeat_at   timestamptz,
    finished_at    timestamptz,
    events_total   bigint NOT NULL DEFAULT 0,
    events_applied bigint NOT NULL DEFAULT 0,
    start_seqs     text,
    error          text
);
INSERT INTO rebuild_state (id) VALUES (1);

-- +goose Down
DROP TABLE rebuild_state;
