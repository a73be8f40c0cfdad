-- +goose Up
-- The outbox: events recorded in the same transaction as the domain change
-- that caused them, waiting for the relay to publish them. seq orders them;
-- rows are deleted once JetStream has acknowledged them.
-- AUTOINCREMENT: a seq is never reused, even after the table empties. The
-- relay deletes by seq, and may repeat the delete of a batch it claimed again
-- from a stale read; with a reused seq that delete would remove a newer,
-- unpublished event.
CREATE TABLE bounded_outbox (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT    NOT NULL,
    source       TEXT    NOT NULL,
    type         TEXT    NOT NULL,
    subject      TEXT    NOT NULL DEFAULT '',
    time         INTEGER NOT NULL, -- unix nanoseconds
    content_type TEXT    NOT NULL,
    data         BLOB    NOT NULL,
    traceparent  TEXT    NOT NULL DEFAULT ''
);

-- +goose Down
DROP TABLE bounded_outbox;
