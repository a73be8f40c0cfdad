-- +goose Up
CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT NOT NULL);

-- +goose Down
DROP TABLE things;
