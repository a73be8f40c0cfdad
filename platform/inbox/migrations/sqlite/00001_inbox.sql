-- +goose Up
-- One row per event a consumer has handled (or dead-lettered): a redelivered
-- event finds its row and is a no-op.
CREATE TABLE bounded_inbox (
    consumer   TEXT    NOT NULL,
    event_id   TEXT    NOT NULL,
    handled_at INTEGER NOT NULL, -- unix milliseconds
    PRIMARY KEY (consumer, event_id)
) WITHOUT ROWID;
CREATE INDEX bounded_inbox_handled_at ON bounded_inbox (consumer, handled_at);

-- Events a consumer could not handle, kept with everything needed to replay them.
CREATE TABLE bounded_dead_letters (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    consumer     TEXT    NOT NULL,
    event_id     TEXT    NOT NULL,
    event_type   TEXT    NOT NULL DEFAULT '',
    nats_subject TEXT    NOT NULL,
    headers      TEXT    NOT NULL,
    data         BLOB    NOT NULL,
    error        TEXT    NOT NULL,
    attempts     INTEGER NOT NULL,
    stream_seq   INTEGER NOT NULL DEFAULT 0,
    dead_at      INTEGER NOT NULL -- unix milliseconds
);
CREATE INDEX bounded_dead_letters_consumer ON bounded_dead_letters (consumer, id);

-- +goose Down
DROP TABLE bounded_dead_letters;
DROP TABLE bounded_inbox;
