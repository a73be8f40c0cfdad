package inbox

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bounded-dev/bounded/platform/contract"
	"github.com/bounded-dev/bounded/platform/sqldb"
)

// DeadLetter is an event a consumer could not handle, as it arrived.
type DeadLetter struct {
	ID          int64
	Consumer    string
	EventID     string // the event's id, or the message's id when it had none
	EventType   string // empty when the message could not be decoded
	NATSSubject string
	Header      map[string][]string
	Data        []byte
	Error       string
	Attempts    int
	StreamSeq   uint64
	DeadAt      time.Time
}

// ErrNotFound is returned by Replay and Discard for an unknown dead letter.
var ErrNotFound = errors.New("inbox: dead letter not found")

// deadLetter stores msg as a dead letter with its inbox row, then acks it.
// It retries the write until it succeeds or ctx ends (then the message is
// redelivered): a message is never acked without its dead letter.
func (c *Consumer) deadLetter(ctx context.Context, msg jetstream.Msg, meta *jetstream.MsgMetadata, e contract.Event, cause error, attempts int) {
	id := e.ID
	if id == "" {
		id = msg.Headers().Get(jetstream.MsgIDHeader)
	}
	var seq uint64
	if meta != nil {
		seq = meta.Sequence.Stream
	}
	if id == "" {
		id = fmt.Sprintf("stream:%s:%d", c.cfg.Stream, seq)
	}
	dl := DeadLetter{Consumer: c.cfg.Name, EventID: id, EventType: e.Type, NATSSubject: msg.Subject(),
		Header: msg.Headers(), Data: msg.Data(), Error: cause.Error(), Attempts: attempts, StreamSeq: seq}
	for try := 1; ; try++ {
		err := c.db.Transact(ctx, func(tx *sqldb.Tx) error {
			if _, err := insertInbox(ctx, tx, c.cfg.Name, id); err != nil {
				return err
			}
			return insertDeadLetter(ctx, tx, dl)
		})
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return
		}
		c.log.Error("dead letter write failed; retrying", "event", id, "err", err)
		if !c.wait(ctx, msg, c.cfg.Backoff(try)) {
			return
		}
	}
	c.m.deadLetters.Inc()
	c.log.Error("event dead-lettered", "event", id, "type", e.Type, "attempts", attempts, "err", cause)
	c.ack(msg)
}

// RecordDeadLetter stores dl (its Consumer, EventID, Error and what else
// is known) with its inbox row in tx: for a replay that applies a stream's
// events outside a Consumer and meets one it cannot apply.
func RecordDeadLetter(ctx context.Context, tx *sqldb.Tx, dl DeadLetter) error {
	if _, err := insertInbox(ctx, tx, dl.Consumer, dl.EventID); err != nil {
		return err
	}
	return insertDeadLetter(ctx, tx, dl)
}

// Forget deletes every inbox row and dead letter of consumer in tx: for a
// consumer whose effects are dropped and rebuilt from its stream's start.
func Forget(ctx context.Context, tx *sqldb.Tx, consumer string) error {
	for _, table := range []string{"bounded_inbox", "bounded_dead_letters"} {
		if _, err := tx.ExecContext(ctx, tx.Dialect().Rebind(`DELETE FROM `+table+` WHERE consumer = $1`), consumer); err != nil {
			return fmt.Errorf("inbox: forget %s: %w", consumer, err)
		}
	}
	return nil
}

// IsPermanent reports whether a handler's error is one no retry can cure
// (see [Permanent]; contract's decoding errors are too).
func IsPermanent(err error) bool { return isPermanent(err) }

func insertDeadLetter(ctx context.Context, tx *sqldb.Tx, dl DeadLetter) error {
	h, err := json.Marshal(dl.Header)
	if err != nil {
		return fmt.Errorf("inbox: dead letter headers: %w", err)
	}
	var now any = time.Now()
	hdr := any(h)
	if tx.Dialect() == sqldb.SQLite {
		now, hdr = time.Now().UnixMilli(), string(h)
	}
	if dl.Data == nil {
		dl.Data = []byte{}
	}
	_, err = tx.ExecContext(ctx, tx.Dialect().Rebind(`INSERT INTO bounded_dead_letters
(consumer, event_id, event_type, nats_subject, headers, data, error, attempts, stream_seq, dead_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`),
		dl.Consumer, dl.EventID, dl.EventType, dl.NATSSubject, hdr, dl.Data, dl.Error, dl.Attempts, int64(dl.StreamSeq), now)
	if err != nil {
		return fmt.Errorf("inbox: insert dead letter: %w", err)
	}
	return nil
}

// List returns the dead letters of consumer in db, oldest first; all
// consumers' when consumer is empty.
func List(ctx context.Context, db *sqldb.DB, consumer string) ([]DeadLetter, error) {
	rows, err := db.QueryContext(ctx, db.Dialect().Rebind(`SELECT id, consumer, event_id, event_type, nats_subject,
headers, data, error, attempts, stream_seq, dead_at FROM bounded_dead_letters
WHERE $1 = '' OR consumer = $1 ORDER BY id`), consumer)
	if err != nil {
		return nil, fmt.Errorf("inbox: list dead letters: %w", err)
	}
	defer rows.Close()
	var out []DeadLetter
	for rows.Next() {
		dl, err := scanDeadLetter(db.Dialect(), rows)
		if err != nil {
			return nil, err
		}
		out = append(out, dl)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("inbox: list dead letters: %w", err)
	}
	return out, nil
}

// Count returns how many dead letters consumer has in db (all consumers'
// when consumer is empty).
func Count(ctx context.Context, db *sqldb.DB, consumer string) (int, error) {
	var n int
	err := db.QueryRowContext(ctx, db.Dialect().Rebind(
		`SELECT count(*) FROM bounded_dead_letters WHERE $1 = '' OR consumer = $1`), consumer).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("inbox: count dead letters: %w", err)
	}
	return n, nil
}

// Discard deletes dead letter id from db and returns it as it was, so that
// the caller can record in full what is dropped. It returns ErrNotFound when
// db holds no dead letter id (a concurrent Discard or Replay may have taken
// it first). The inbox row the dead letter wrote stays: the event counts as
// handled, so a copy of it delivered again is skipped as a duplicate, not
// applied (for as long as the row is kept: see Config.Retention and
// Forget).
func Discard(ctx context.Context, db *sqldb.DB, id int64) (DeadLetter, error) {
	var dl DeadLetter
	err := db.Transact(ctx, func(tx *sqldb.Tx) error {
		row := tx.QueryRowContext(ctx, tx.Dialect().Rebind(`DELETE FROM bounded_dead_letters WHERE id = $1
RETURNING id, consumer, event_id, event_type, nats_subject, headers, data, error, attempts, stream_seq, dead_at`), id)
		var err error
		dl, err = scanDeadLetter(tx.Dialect(), row)
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return DeadLetter{}, fmt.Errorf("%w: %d", ErrNotFound, id)
	}
	if err != nil {
		return DeadLetter{}, fmt.Errorf("inbox: discard %d: %w", id, err)
	}
	return dl, nil
}

type scanner interface{ Scan(dest ...any) error }

func scanDeadLetter(d sqldb.Dialect, s scanner) (DeadLetter, error) {
	var dl DeadLetter
	var hdr []byte
	var seq int64
	var err error
	if d == sqldb.SQLite {
		var ms int64
		var h string
		err = s.Scan(&dl.ID, &dl.Consumer, &dl.EventID, &dl.EventType, &dl.NATSSubject, &h, &dl.Data, &dl.Error, &dl.Attempts, &seq, &ms)
		hdr, dl.DeadAt = []byte(h), time.UnixMilli(ms)
	} else {
		err = s.Scan(&dl.ID, &dl.Consumer, &dl.EventID, &dl.EventType, &dl.NATSSubject, &hdr, &dl.Data, &dl.Error, &dl.Attempts, &seq, &dl.DeadAt)
	}
	if err != nil {
		return dl, fmt.Errorf("inbox: scan dead letter: %w", err)
	}
	dl.StreamSeq = uint64(seq)
	if err := json.Unmarshal(hdr, &dl.Header); err != nil {
		return dl, fmt.Errorf("inbox: dead letter %d headers: %w", dl.ID, err)
	}
	return dl, nil
}

// Replay decodes dead letter id of this consumer again and runs the handler
// on it in one transaction that also deletes the dead letter. On success the
// dead letter is gone; on failure it stays, with the new error and one more
// attempt recorded, and the error is returned. Replay ignores the inbox row
// (the dead letter wrote it), so an event is applied at most once through a
// replay as well: the deletion and the handler's effects commit together.
func (c *Consumer) Replay(ctx context.Context, id int64) error {
	d := c.db.Dialect()
	row := c.db.QueryRowContext(ctx, d.Rebind(`SELECT id, consumer, event_id, event_type, nats_subject,
headers, data, error, attempts, stream_seq, dead_at FROM bounded_dead_letters WHERE id = $1 AND consumer = $2`), id, c.cfg.Name)
	dl, err := scanDeadLetter(d, row)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: %d for consumer %s", ErrNotFound, id, c.cfg.Name)
	}
	if err != nil {
		return err
	}
	e, err := contract.FromMessage(dl.Header, dl.Data)
	if err == nil {
		err = c.db.Transact(ctx, func(tx *sqldb.Tx) error {
			res, err := tx.ExecContext(ctx, d.Rebind(`DELETE FROM bounded_dead_letters WHERE id = $1`), id)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return fmt.Errorf("%w: %d (replayed concurrently)", ErrNotFound, id)
			}
			if _, err := insertInbox(ctx, tx, c.cfg.Name, e.ID); err != nil {
				return err
			}
			return c.h(ctx, tx, e)
		})
	} else {
		err = fmt.Errorf("decode: %w", err)
	}
	if err == nil {
		c.m.replayed.Inc()
		return nil
	}
	if errors.Is(err, ErrNotFound) {
		return err
	}
	_, uerr := c.db.Writer().ExecContext(ctx, d.Rebind(
		`UPDATE bounded_dead_letters SET error = $1, attempts = attempts + 1 WHERE id = $2`), err.Error(), id)
	return errors.Join(fmt.Errorf("inbox: replay %d: %w", id, err), uerr)
}
