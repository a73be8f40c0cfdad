-- +goose Up
-- The outbox: events recorded in the same transaction as the domain change
-- that caused them, waiting for the relay to publish them. seq orders them;
-- rows are deleted once JetStream has acknowledged them.
CREATE TABLE bounded_outbox (
    seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id           uuid        NOT NULL,
    source       text        NOT NULL,
    type         text        NOT NULL,
    subject      text        NOT NULL DEFAULT '',
    time         timestamptz NOT NULL,
    content_type text        NOT NULL,
    data         bytea       NOT NULL,
    traceparent  text        NOT NULL DEFAULT ''
);
-- Rows live for milliseconds; vacuum the table eagerly so that the relay's
-- scans from the head do not wade through dead tuples.
ALTER TABLE bounded_outbox SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000,
    autovacuum_vacuum_insert_scale_factor = 0, autovacuum_vacuum_insert_threshold = 5000);

-- +goose Down
DROP TABLE bounded_outbox;
