-- +goose Up
-- The outbox: events recorded in the same transaction as the domain change
-- that caused them, waiting for the relay to publish them. seq orders them;
-- rows are deleted once JetStream has acknowledged them.
CREATE TABLE bounded_outbox (
    seq          INTEGER PRIMARY KEY,
    id           TEXT    NOT NULL,
    source       TEXT    NOT NULL,
    type         TEXT    NOT NULL,
    subject      TEXT    NOT NULL DEFAULT '',
    time         TEXT    NOT NULL,
    content_type TEXT    NOT NULL,
    data         BLOB    NOT NULL,
    traceparent  TEXT    NOT NULL DEFAULT ''
);

-- +goose Down
DROP TABLE bounded_outbox;
