-- +goose Up
-- The state of the warehouse's rebuild (bounded reporting rebuild): one row,
-- which is also the lock that lets one rebuild run at a time across the
-- service's replicas. It is bookkeeping of the rebuild itself: a rebuild
-- does not drop it. Times are INTEGER unix milliseconds.
CREATE TABLE rebuild_state (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    rebuild_id     TEXT,
    state          TEXT NOT NULL DEFAULT 'idle', -- idle, running, done, failed
    owner          TEXT,
    started_at     INTEGER,
    heartbeat_at   INTEGER,
    finished_at    INTEGER,
    events_total   INTEGER NOT NULL DEFAULT 0,
    events_applied INTEGER NOT NULL DEFAULT 0,
    start_seqs     TEXT,
    error          TEXT
);
INSERT INTO rebuild_state (id) VALUES (1);

-- +goose Down
DROP TABLE rebuild_state;
