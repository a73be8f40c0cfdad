-- +goose Up
-- One row per event a consumer has handled (or dead-lettered): a redelivered
-- event finds its row and is a no-op.
CREATE TABLE bounded_inbox (
    consumer   text        NOT NULL,
    event_id   text        NOT NULL,
    handled_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
CREATE INDEX bounded_inbox_handled_at ON bounded_inbox (consumer, handled_at);

-- Events a consumer could not handle, kept with everything needed to replay them.
CREATE TABLE bounded_dead_letters (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    consumer    text        NOT NULL,
    event_id    text        NOT NULL,
    event_type  text        NOT NULL DEFAULT '',
    nats_subject text       NOT NULL,
    headers     jsonb       NOT NULL,
    data        bytea       NOT NULL,
    error       text        NOT NULL,
    attempts    integer     NOT NULL,
    stream_seq  bigint      NOT NULL DEFAULT 0,
    dead_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX bounded_dead_letters_consumer ON bounded_dead_letters (consumer, id);

-- +goose Down
DROP TABLE bounded_dead_letters;
DROP TABLE bounded_inbox;
